@_spi(Engine) import MLSCodec

/// `Proposal` (RFC 9420 §12.1): a proposed change to the group.
///
/// A proposal whose body is one field carries that field directly; ``update(_:)`` and
/// ``reInit(_:)`` carry their structs. The body of a proposal has no length prefix, so a proposal
/// of a type this library does not know cannot be skipped: decoding it throws.
public enum Proposal: Hashable, Sendable {
    /// `add` (RFC 9420 §12.1.1): adds the client of a KeyPackage to the group.
    case add(KeyPackage)
    /// `update` (RFC 9420 §12.1.2).
    case update(Update)
    /// `remove` (RFC 9420 §12.1.3): removes the member at a leaf (`uint32 removed`).
    case remove(LeafIndex)
    /// `psk` (RFC 9420 §12.1.4): injects a PSK into the next epoch's key schedule.
    case preSharedKey(PreSharedKeyID)
    /// `reinit` (RFC 9420 §12.1.5).
    case reInit(ReInit)
    /// `external_init` (RFC 9420 §12.1.6): the KEM output (`opaque kem_output<V>`, §8.3) an
    /// external joiner's init secret comes from.
    case externalInit(kemOutput: [UInt8])
    /// `group_context_extensions` (RFC 9420 §12.1.7): replaces the GroupContext's extensions.
    case groupContextExtensions([Extension])

    /// The `proposal_type` discriminant (RFC 9420 §12.1).
    @_spi(Engine) public var proposalType: ProposalType {
        switch self {
        case .add: .add
        case .update: .update
        case .remove: .remove
        case .preSharedKey: .psk
        case .reInit: .reinit
        case .externalInit: .externalInit
        case .groupContextExtensions: .groupContextExtensions
        }
    }

    /// Encodes `proposal_type` and the body (RFC 9420 §12.1).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        proposalType.encode(to: &writer)
        encodeBody(to: &writer)
    }

    /// Encodes the body alone, without `proposal_type` (the `*_proposal` fields of the
    /// `messages` test vectors are bodies).
    @_spi(Engine) public func encodeBody(to writer: inout TLSWriter) {
        switch self {
        case let .add(keyPackage): keyPackage.encode(to: &writer)
        case let .update(p): p.encode(to: &writer)
        case let .remove(leaf): writer.writeUInt32(leaf.rawValue)
        case let .preSharedKey(psk): psk.encode(to: &writer)
        case let .reInit(p): p.encode(to: &writer)
        case let .externalInit(kemOutput): writer.writeOpaque(kemOutput)
        case let .groupContextExtensions(extensions): writer.writeVector(extensions)
        }
    }

    /// Decodes `proposal_type` and the body, refusing types RFC 9420 §12.1 does not define.
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        let type = try ProposalType(from: &reader)
        try self.init(type, bodyFrom: &reader)
    }

    /// Decodes the body of a proposal of the given type, refusing types RFC 9420 §12.1 does
    /// not define.
    @_spi(Engine) public init(_ type: ProposalType, bodyFrom reader: inout TLSReader) throws {
        switch type {
        case .add: self = .add(try KeyPackage(from: &reader))
        case .update: self = .update(try Update(from: &reader))
        case .remove: self = .remove(LeafIndex(try reader.readUInt32()))
        case .psk: self = .preSharedKey(try PreSharedKeyID(from: &reader))
        case .reinit: self = .reInit(try ReInit(from: &reader))
        case .externalInit: self = .externalInit(kemOutput: try reader.readOpaque())
        case .groupContextExtensions: self = .groupContextExtensions(try reader.readVector(of: Extension.self))
        default: throw TLSDecodingError.invalidValue(type: "Proposal", detail: "unknown proposal type \(type.rawValue)")
        }
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension Proposal: TLSCodable {}
