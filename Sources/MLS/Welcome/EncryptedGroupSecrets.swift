@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `EncryptedGroupSecrets` (RFC 9420 §12.4.3.1): GroupSecrets encrypted to one new member.
@_spi(Engine) public struct EncryptedGroupSecrets: Hashable, Sendable, TLSCodable {
    /// `KeyPackageRef new_member` (RFC 9420 §12.4.3.1, §5.2).
    public var newMember: [UInt8]
    /// `HPKECiphertext encrypted_group_secrets` (RFC 9420 §12.4.3.1).
    public var encryptedGroupSecrets: HPKECiphertext

    /// Creates the entry from its fields (RFC 9420 §12.4.3.1).
    public init(newMember: [UInt8], encryptedGroupSecrets: HPKECiphertext) {
        self.newMember = newMember
        self.encryptedGroupSecrets = encryptedGroupSecrets
    }

    /// Encodes the struct (RFC 9420 §12.4.3.1).
    public func encode(to writer: inout TLSWriter) {
        writer.writeOpaque(newMember)
        encryptedGroupSecrets.encode(to: &writer)
    }

    /// Decodes the struct (RFC 9420 §12.4.3.1).
    public init(from reader: inout TLSReader) throws {
        newMember = try reader.readOpaque()
        encryptedGroupSecrets = try HPKECiphertext(from: &reader)
    }
}
