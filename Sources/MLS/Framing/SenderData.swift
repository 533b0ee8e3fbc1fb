@_spi(Engine) import MLSCodec

/// `SenderData` (RFC 9420 §6.3.2): the plaintext of `encrypted_sender_data`.
@_spi(Engine) public struct SenderData: Hashable, Sendable, TLSCodable {
    /// `uint32 leaf_index` (RFC 9420 §6.3.2).
    public var leafIndex: UInt32
    /// `uint32 generation` (RFC 9420 §6.3.2).
    public var generation: UInt32
    /// `opaque reuse_guard[4]`: exactly 4 bytes (RFC 9420 §6.3.2).
    public var reuseGuard: [UInt8]

    /// Creates SenderData from its fields; `reuseGuard` must hold 4 bytes (RFC 9420 §6.3.2).
    public init(leafIndex: UInt32, generation: UInt32, reuseGuard: [UInt8]) {
        self.leafIndex = leafIndex
        self.generation = generation
        self.reuseGuard = reuseGuard
    }

    /// Encodes the struct (RFC 9420 §6.3.2). The reuse guard is written as exactly 4 bytes: a
    /// shorter value is zero-filled and a longer one truncated, so the encoding stays well-formed.
    public func encode(to writer: inout TLSWriter) {
        writer.writeUInt32(leafIndex)
        writer.writeUInt32(generation)
        var guardBytes = Array(reuseGuard.prefix(4))
        while guardBytes.count < 4 { guardBytes.append(0) }
        writer.writeRaw(guardBytes)
    }

    /// Decodes the struct (RFC 9420 §6.3.2).
    public init(from reader: inout TLSReader) throws {
        leafIndex = try reader.readUInt32()
        generation = try reader.readUInt32()
        reuseGuard = try reader.readBytes(4)
    }
}
