@_spi(Engine) import MLSCodec

/// `PublicMessage` (RFC 9420 §6.2): signed, unencrypted content.
@_spi(Engine) public struct PublicMessage: Hashable, Sendable, TLSCodable {
    /// `FramedContent content` (RFC 9420 §6.2).
    public var content: FramedContent
    /// `FramedContentAuthData auth` (RFC 9420 §6.2).
    public var auth: FramedContentAuthData
    /// `MAC membership_tag`, present iff the sender is a `member` (RFC 9420 §6.2).
    public var membershipTag: [UInt8]?

    /// Creates a PublicMessage from its fields (RFC 9420 §6.2).
    public init(content: FramedContent, auth: FramedContentAuthData, membershipTag: [UInt8]?) {
        self.content = content
        self.auth = auth
        self.membershipTag = membershipTag
    }

    /// Encodes the struct (RFC 9420 §6.2); the membership tag is written iff the sender is a member
    /// (an unset tag for a member is written as an empty MAC).
    public func encode(to writer: inout TLSWriter) {
        content.encode(to: &writer)
        auth.encode(to: &writer, contentType: content.content.contentType)
        if case .member = content.sender { writer.writeOpaque(membershipTag ?? []) }
    }

    /// Decodes the struct (RFC 9420 §6.2).
    public init(from reader: inout TLSReader) throws {
        content = try FramedContent(from: &reader)
        auth = try FramedContentAuthData(from: &reader, contentType: content.content.contentType)
        if case .member = content.sender {
            membershipTag = try reader.readOpaque()
        } else {
            membershipTag = nil
        }
    }
}
