@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `UpdatePathNode` (RFC 9420 §7.6): one new parent public key and the path secret encrypted to
/// each resolution node of its copath child.
@_spi(Engine) public struct UpdatePathNode: Hashable, Sendable, TLSCodable {
    /// `HPKEPublicKey encryption_key` (RFC 9420 §7.6).
    public var encryptionKey: [UInt8]
    /// `HPKECiphertext encrypted_path_secret<V>` (RFC 9420 §7.6).
    public var encryptedPathSecret: [HPKECiphertext]

    /// Creates a path node from its fields (RFC 9420 §7.6).
    public init(encryptionKey: [UInt8], encryptedPathSecret: [HPKECiphertext]) {
        self.encryptionKey = encryptionKey
        self.encryptedPathSecret = encryptedPathSecret
    }

    /// Encodes the struct (RFC 9420 §7.6).
    public func encode(to writer: inout TLSWriter) {
        writer.writeOpaque(encryptionKey)
        writer.writeVector(encryptedPathSecret)
    }

    /// Decodes the struct (RFC 9420 §7.6).
    public init(from reader: inout TLSReader) throws {
        encryptionKey = try reader.readOpaque()
        encryptedPathSecret = try reader.readVector(of: HPKECiphertext.self)
    }
}
