@_spi(Engine) import MLSCodec

/// `AuthenticatedContent` (RFC 9420 §6.1): a FramedContent with its wire format and auth data,
/// the input to proposal references and transcript hashes.
@_spi(Engine) public struct AuthenticatedContent: Hashable, Sendable, TLSCodable {
    /// `WireFormat wire_format` (RFC 9420 §6.1).
    public var wireFormat: WireFormat
    /// `FramedContent content` (RFC 9420 §6.1).
    public var content: FramedContent
    /// `FramedContentAuthData auth` (RFC 9420 §6.1).
    public var auth: FramedContentAuthData

    /// Creates an AuthenticatedContent from its fields (RFC 9420 §6.1).
    public init(wireFormat: WireFormat, content: FramedContent, auth: FramedContentAuthData) {
        self.wireFormat = wireFormat
        self.content = content
        self.auth = auth
    }

    /// Encodes the struct (RFC 9420 §6.1).
    public func encode(to writer: inout TLSWriter) {
        wireFormat.encode(to: &writer)
        content.encode(to: &writer)
        auth.encode(to: &writer, contentType: content.content.contentType)
    }

    /// Decodes the struct (RFC 9420 §6.1).
    public init(from reader: inout TLSReader) throws {
        wireFormat = try WireFormat(from: &reader)
        content = try FramedContent(from: &reader)
        auth = try FramedContentAuthData(from: &reader, contentType: content.content.contentType)
    }
}
