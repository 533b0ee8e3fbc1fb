@_spi(Engine) import MLSCodec

/// `PrivateMessage` (RFC 9420 §6.3): encrypted content with encrypted sender data.
@_spi(Engine) public struct PrivateMessage: Hashable, Sendable, TLSCodable {
    /// `opaque group_id<V>` (RFC 9420 §6.3).
    public var groupID: [UInt8]
    /// `uint64 epoch` (RFC 9420 §6.3).
    public var epoch: UInt64
    /// `ContentType content_type` (RFC 9420 §6.3).
    public var contentType: ContentType
    /// `opaque authenticated_data<V>` (RFC 9420 §6.3).
    public var authenticatedData: [UInt8]
    /// `opaque encrypted_sender_data<V>` (RFC 9420 §6.3, §6.3.2).
    public var encryptedSenderData: [UInt8]
    /// `opaque ciphertext<V>`: the encrypted PrivateMessageContent (RFC 9420 §6.3, §6.3.1).
    public var ciphertext: [UInt8]

    /// Creates a PrivateMessage from its fields (RFC 9420 §6.3).
    public init(groupID: [UInt8], epoch: UInt64, contentType: ContentType, authenticatedData: [UInt8],
                encryptedSenderData: [UInt8], ciphertext: [UInt8]) {
        self.groupID = groupID
        self.epoch = epoch
        self.contentType = contentType
        self.authenticatedData = authenticatedData
        self.encryptedSenderData = encryptedSenderData
        self.ciphertext = ciphertext
    }

    /// Encodes the struct (RFC 9420 §6.3).
    public func encode(to writer: inout TLSWriter) {
        writer.writeOpaque(groupID)
        writer.writeUInt64(epoch)
        contentType.encode(to: &writer)
        writer.writeOpaque(authenticatedData)
        writer.writeOpaque(encryptedSenderData)
        writer.writeOpaque(ciphertext)
    }

    /// Decodes the struct (RFC 9420 §6.3).
    public init(from reader: inout TLSReader) throws {
        groupID = try reader.readOpaque()
        epoch = try reader.readUInt64()
        contentType = try ContentType(from: &reader)
        authenticatedData = try reader.readOpaque()
        encryptedSenderData = try reader.readOpaque()
        ciphertext = try reader.readOpaque()
    }
}
