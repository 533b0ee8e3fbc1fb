@_spi(Engine) import MLSCodec

/// `ParentNode` (RFC 9420 §7.1): the public contents of an interior node of the ratchet tree.
@_spi(Engine) public struct ParentNode: Hashable, Sendable, TLSCodable {
    /// `HPKEPublicKey encryption_key` (RFC 9420 §7.1).
    public var encryptionKey: [UInt8]
    /// `opaque parent_hash<V>` (RFC 9420 §7.1, §7.9).
    public var parentHash: [UInt8]
    /// `uint32 unmerged_leaves<V>`: leaf indices (RFC 9420 §7.1).
    public var unmergedLeaves: [UInt32]

    /// Creates a parent node from its fields (RFC 9420 §7.1).
    public init(encryptionKey: [UInt8], parentHash: [UInt8], unmergedLeaves: [UInt32]) {
        self.encryptionKey = encryptionKey
        self.parentHash = parentHash
        self.unmergedLeaves = unmergedLeaves
    }

    /// Encodes the struct (RFC 9420 §7.1).
    public func encode(to writer: inout TLSWriter) {
        writer.writeOpaque(encryptionKey)
        writer.writeOpaque(parentHash)
        writer.writeVector(unmergedLeaves)
    }

    /// Decodes the struct (RFC 9420 §7.1).
    public init(from reader: inout TLSReader) throws {
        encryptionKey = try reader.readOpaque()
        parentHash = try reader.readOpaque()
        unmergedLeaves = try reader.readVector(of: UInt32.self)
    }
}
