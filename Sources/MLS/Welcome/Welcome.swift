@_spi(Engine) import MLSCodec

/// `Welcome` (RFC 9420 §12.4.3.1): what new members receive to join a group.
@_spi(Engine) public struct Welcome: Hashable, Sendable, TLSCodable {
    /// `CipherSuite cipher_suite` code point (RFC 9420 §12.4.3.1).
    public var cipherSuite: UInt16
    /// `EncryptedGroupSecrets secrets<V>` (RFC 9420 §12.4.3.1).
    public var secrets: [EncryptedGroupSecrets]
    /// `opaque encrypted_group_info<V>` (RFC 9420 §12.4.3.1).
    public var encryptedGroupInfo: [UInt8]

    /// Creates a Welcome from its fields (RFC 9420 §12.4.3.1).
    public init(cipherSuite: UInt16, secrets: [EncryptedGroupSecrets], encryptedGroupInfo: [UInt8]) {
        self.cipherSuite = cipherSuite
        self.secrets = secrets
        self.encryptedGroupInfo = encryptedGroupInfo
    }

    /// Encodes the struct (RFC 9420 §12.4.3.1).
    public func encode(to writer: inout TLSWriter) {
        writer.writeUInt16(cipherSuite)
        writer.writeVector(secrets)
        writer.writeOpaque(encryptedGroupInfo)
    }

    /// Decodes the struct (RFC 9420 §12.4.3.1).
    public init(from reader: inout TLSReader) throws {
        cipherSuite = try reader.readUInt16()
        secrets = try reader.readVector(of: EncryptedGroupSecrets.self)
        encryptedGroupInfo = try reader.readOpaque()
    }
}
