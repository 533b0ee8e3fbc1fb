@_spi(Engine) import MLSCodec

/// `PrivateMessageContent` (RFC 9420 §6.3.1): the plaintext of a PrivateMessage's ciphertext.
///
/// Its encoding has no length for the padding, so it must occupy a whole buffer: decoding takes
/// every remaining byte of the reader as padding and refuses any that is not zero.
@_spi(Engine) public struct PrivateMessageContent: Hashable, Sendable {
    /// The content selected by the PrivateMessage's `content_type` (RFC 9420 §6.3.1).
    public var content: MLSContent
    /// `FramedContentAuthData auth` (RFC 9420 §6.3.1).
    public var auth: FramedContentAuthData
    /// The number of zero bytes in `opaque padding[length_of_padding]` (RFC 9420 §6.3.1).
    public var paddingLength: Int

    /// Creates a PrivateMessageContent from its fields (RFC 9420 §6.3.1).
    public init(content: MLSContent, auth: FramedContentAuthData, paddingLength: Int = 0) {
        self.content = content
        self.auth = auth
        self.paddingLength = paddingLength
    }

    /// Encodes the content, auth data and `paddingLength` zero bytes (RFC 9420 §6.3.1).
    public func encode(to writer: inout TLSWriter) {
        content.encodeBody(to: &writer)
        auth.encode(to: &writer, contentType: content.contentType)
        if paddingLength > 0 { writer.writeRaw(repeatElement(UInt8(0), count: paddingLength)) }
    }

    /// This value's complete encoding (RFC 9420 §6.3.1).
    public var tlsSerialized: [UInt8] {
        var w = TLSWriter()
        encode(to: &w)
        return w.bytes
    }

    /// Decodes the content selected by `contentType`, the auth data, and the rest of the reader as
    /// padding, which must be all zero bytes (RFC 9420 §6.3.1). The reader ends up at its end.
    public init(from reader: inout TLSReader, contentType: ContentType) throws {
        content = try MLSContent.decode(contentType, from: &reader)
        auth = try FramedContentAuthData(from: &reader, contentType: contentType)
        let padding = try reader.readBytes(reader.remaining)
        if let i = padding.firstIndex(where: { $0 != 0 }) {
            throw TLSDecodingError.invalidValue(type: "PrivateMessageContent", detail: "non-zero padding byte at offset \(i)")
        }
        paddingLength = padding.count
    }

    /// Decodes a whole plaintext buffer (RFC 9420 §6.3.1).
    public init(tlsSerialized bytes: [UInt8], contentType: ContentType) throws {
        var r = TLSReader(bytes)
        try self.init(from: &r, contentType: contentType)
    }
}
