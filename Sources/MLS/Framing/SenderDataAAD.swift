@_spi(Engine) import MLSCodec

/// `SenderDataAAD` (RFC 9420 §6.3.2): the AAD of the sender-data encryption.
@_spi(Engine) public struct SenderDataAAD: Hashable, Sendable, TLSCodable {
    /// `opaque group_id<V>` (RFC 9420 §6.3.2).
    public var groupID: [UInt8]
    /// `uint64 epoch` (RFC 9420 §6.3.2).
    public var epoch: UInt64
    /// `ContentType content_type` (RFC 9420 §6.3.2).
    public var contentType: ContentType

    /// Creates a SenderDataAAD from its fields (RFC 9420 §6.3.2).
    public init(groupID: [UInt8], epoch: UInt64, contentType: ContentType) {
        self.groupID = groupID
        self.epoch = epoch
        self.contentType = contentType
    }

    /// Encodes the struct (RFC 9420 §6.3.2).
    public func encode(to writer: inout TLSWriter) {
        writer.writeOpaque(groupID)
        writer.writeUInt64(epoch)
        contentType.encode(to: &writer)
    }

    /// Decodes the struct (RFC 9420 §6.3.2).
    public init(from reader: inout TLSReader) throws {
        groupID = try reader.readOpaque()
        epoch = try reader.readUInt64()
        contentType = try ContentType(from: &reader)
    }
}
