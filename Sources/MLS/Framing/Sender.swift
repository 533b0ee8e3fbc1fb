@_spi(Engine) import MLSCodec

/// `Sender` (RFC 9420 §6): who sent a FramedContent.
@_spi(Engine) public enum Sender: Hashable, Sendable {
    /// `member`: a group member, identified by its leaf index (RFC 9420 §6).
    case member(LeafIndex)
    /// `external`: an external sender, indexed into the `external_senders` extension (RFC 9420 §6, §12.1.8.1).
    case external(senderIndex: UInt32)
    /// `new_member_proposal`: a non-member proposing its own Add (RFC 9420 §6, §12.1.8).
    case newMemberProposal
    /// `new_member_commit`: a non-member joining with an external commit (RFC 9420 §6, §12.4.3.2).
    case newMemberCommit

    /// The `sender_type` discriminant (RFC 9420 §6).
    @_spi(Engine) public var senderType: SenderType {
        switch self {
        case .member: .member
        case .external: .external
        case .newMemberProposal: .newMemberProposal
        case .newMemberCommit: .newMemberCommit
        }
    }

    /// Encodes `sender_type` and its body (RFC 9420 §6).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        senderType.encode(to: &writer)
        switch self {
        case let .member(leaf): writer.writeUInt32(leaf.rawValue)
        case let .external(index): writer.writeUInt32(index)
        case .newMemberProposal, .newMemberCommit: break
        }
    }

    /// Decodes `sender_type` and its body (RFC 9420 §6).
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        switch try SenderType(from: &reader) {
        case .member: self = .member(LeafIndex(try reader.readUInt32()))
        case .external: self = .external(senderIndex: try reader.readUInt32())
        case .newMemberProposal: self = .newMemberProposal
        case .newMemberCommit: self = .newMemberCommit
        }
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension Sender: TLSCodable {}
