@_spi(Engine) import MLSCodec

/// `FramedContentAuthData` (RFC 9420 §6.1): the signature, plus the confirmation tag of a commit.
@_spi(Engine) public struct FramedContentAuthData: Hashable, Sendable {
    /// `opaque signature<V>`: SignWithLabel(., "FramedContentTBS", FramedContentTBS) (RFC 9420 §6.1).
    public var signature: [UInt8]
    /// `MAC confirmation_tag`, present iff the content type is `commit` (RFC 9420 §6.1).
    public var confirmationTag: [UInt8]?

    /// Creates auth data from its fields (RFC 9420 §6.1).
    public init(signature: [UInt8], confirmationTag: [UInt8]?) {
        self.signature = signature
        self.confirmationTag = confirmationTag
    }

    /// Encodes the struct (RFC 9420 §6.1). The confirmation tag is written iff it is set; callers
    /// keep it set exactly for commits (an unset tag on a commit is written as an empty MAC).
    public func encode(to writer: inout TLSWriter) {
        writer.writeOpaque(signature)
        if let confirmationTag { writer.writeOpaque(confirmationTag) }
    }

    /// Encodes the struct for content of type `contentType` (RFC 9420 §6.1): the confirmation tag
    /// is written iff `contentType` is `commit`.
    public func encode(to writer: inout TLSWriter, contentType: ContentType) {
        writer.writeOpaque(signature)
        if contentType == .commit { writer.writeOpaque(confirmationTag ?? []) }
    }

    /// Decodes the struct; `confirmation_tag` is read iff `contentType` is `commit` (RFC 9420 §6.1).
    public init(from reader: inout TLSReader, contentType: ContentType) throws {
        signature = try reader.readOpaque()
        confirmationTag = contentType == .commit ? try reader.readOpaque() : nil
    }
}
