@_spi(Engine) import MLSCodec

/// `PrivateContentAAD` (RFC 9420 §6.3.1): the AAD of the content encryption.
@_spi(Engine) public struct PrivateContentAAD: Hashable, Sendable, TLSCodable {
    /// `opaque group_id<V>` (RFC 9420 §6.3.1).
    public var groupID: [UInt8]
    /// `uint64 epoch` (RFC 9420 §6.3.1).
    public var epoch: UInt64
    /// `ContentType content_type` (RFC 9420 §6.3.1).
    public var contentType: ContentType
    /// `opaque authenticated_data<V>` (RFC 9420 §6.3.1).
    public var authenticatedData: [UInt8]

    /// Creates a PrivateContentAAD from its fields (RFC 9420 §6.3.1).
    public init(groupID: [UInt8], epoch: UInt64, contentType: ContentType, authenticatedData: [UInt8]) {
        self.groupID = groupID
        self.epoch = epoch
        self.contentType = contentType
        self.authenticatedData = authenticatedData
    }

    /// Encodes the struct (RFC 9420 §6.3.1).
    public func encode(to writer: inout TLSWriter) {
        writer.writeOpaque(groupID)
        writer.writeUInt64(epoch)
        contentType.encode(to: &writer)
        writer.writeOpaque(authenticatedData)
    }

    /// Decodes the struct (RFC 9420 §6.3.1).
    public init(from reader: inout TLSReader) throws {
        groupID = try reader.readOpaque()
        epoch = try reader.readUInt64()
        contentType = try ContentType(from: &reader)
        authenticatedData = try reader.readOpaque()
    }
}
