@_spi(Engine) import MLSCodec

/// `FramedContent` (RFC 9420 §6): content with its group, epoch, sender and authenticated data.
@_spi(Engine) public struct FramedContent: Hashable, Sendable, TLSCodable {
    /// `opaque group_id<V>` (RFC 9420 §6).
    public var groupID: [UInt8]
    /// `uint64 epoch` (RFC 9420 §6).
    public var epoch: UInt64
    /// `Sender sender` (RFC 9420 §6).
    public var sender: Sender
    /// `opaque authenticated_data<V>` (RFC 9420 §6).
    public var authenticatedData: [UInt8]
    /// `content_type` and the content it selects (RFC 9420 §6).
    public var content: MLSContent

    /// Creates a FramedContent from its fields (RFC 9420 §6).
    public init(groupID: [UInt8], epoch: UInt64, sender: Sender, authenticatedData: [UInt8], content: MLSContent) {
        self.groupID = groupID
        self.epoch = epoch
        self.sender = sender
        self.authenticatedData = authenticatedData
        self.content = content
    }

    /// Encodes the struct (RFC 9420 §6).
    public func encode(to writer: inout TLSWriter) {
        writer.writeOpaque(groupID)
        writer.writeUInt64(epoch)
        sender.encode(to: &writer)
        writer.writeOpaque(authenticatedData)
        content.contentType.encode(to: &writer)
        content.encodeBody(to: &writer)
    }

    /// Decodes the struct (RFC 9420 §6).
    public init(from reader: inout TLSReader) throws {
        groupID = try reader.readOpaque()
        epoch = try reader.readUInt64()
        sender = try Sender(from: &reader)
        authenticatedData = try reader.readOpaque()
        let type = try ContentType(from: &reader)
        content = try MLSContent.decode(type, from: &reader)
    }
}
