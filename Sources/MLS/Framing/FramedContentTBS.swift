@_spi(Engine) import MLSCodec

/// `FramedContentTBS` (RFC 9420 §6.1): what a FramedContent's signature covers.
@_spi(Engine) public struct FramedContentTBS: Hashable, Sendable, TLSCodable {
    /// `ProtocolVersion version = mls10` (RFC 9420 §6.1).
    public var version: ProtocolVersion
    /// `WireFormat wire_format` (RFC 9420 §6.1).
    public var wireFormat: WireFormat
    /// `FramedContent content` (RFC 9420 §6.1).
    public var content: FramedContent
    /// `GroupContext context`, written iff the sender is `member` or `new_member_commit`
    /// (RFC 9420 §6.1); ignored for other senders.
    public var context: GroupContext?

    /// Creates a FramedContentTBS from its fields (RFC 9420 §6.1).
    public init(version: ProtocolVersion = .mls10, wireFormat: WireFormat, content: FramedContent, context: GroupContext?) {
        self.version = version
        self.wireFormat = wireFormat
        self.content = content
        self.context = context
    }

    /// Whether the RFC 9420 §6.1 select includes the GroupContext for `sender`.
    public static func carriesContext(_ sender: Sender) -> Bool {
        switch sender {
        case .member, .newMemberCommit: true
        case .external, .newMemberProposal: false
        }
    }

    /// Encodes the struct (RFC 9420 §6.1). The context is written iff the sender is `member` or
    /// `new_member_commit` and ``context`` is set; a missing context for such a sender yields bytes
    /// no valid signature covers (it never traps).
    public func encode(to writer: inout TLSWriter) {
        version.encode(to: &writer)
        wireFormat.encode(to: &writer)
        content.encode(to: &writer)
        if Self.carriesContext(content.sender), let context {
            context.encode(to: &writer)
        }
    }

    /// Decodes the struct (RFC 9420 §6.1).
    public init(from reader: inout TLSReader) throws {
        version = try ProtocolVersion(from: &reader)
        wireFormat = try WireFormat(from: &reader)
        content = try FramedContent(from: &reader)
        context = Self.carriesContext(content.sender) ? try GroupContext(from: &reader) : nil
    }
}
