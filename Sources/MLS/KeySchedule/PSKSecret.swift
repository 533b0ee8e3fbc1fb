@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `PSKLabel` (RFC 9420 §8.4): binds each PSK to its position in the list.
@_spi(Engine) public struct PSKLabel: Sendable, TLSEncodable {
    /// The PSK's identifier.
    public var id: PreSharedKeyID
    /// Position of this PSK in the list.
    public var index: UInt16
    /// Number of PSKs in the list.
    public var count: UInt16

    /// Creates a label.
    public init(id: PreSharedKeyID, index: UInt16, count: UInt16) {
        self.id = id
        self.index = index
        self.count = count
    }

    public func encode(to writer: inout TLSWriter) {
        id.encode(to: &writer)
        writer.writeUInt16(index)
        writer.writeUInt16(count)
    }
}

/// Combines pre-shared keys into `psk_secret` (RFC 9420 §8.4).
@_spi(Engine) public enum PSKSecret {
    /// Computes `psk_secret` from `(id, psk)` pairs in the order they appear in the commit.
    /// An empty list yields the all-zero secret.
    public static func compute(suite: CipherSuite, psks: [(id: PreSharedKeyID, psk: SecretBytes)]) throws -> SecretBytes {
        guard psks.count <= Int(UInt16.max) else { throw CryptoError.invalidLength("more than 65535 PSKs") }
        let zero = SecretBytes(zeros: suite.kdfLength)
        var secret = zero
        for (i, entry) in psks.enumerated() {
            let label = PSKLabel(id: entry.id, index: UInt16(i), count: UInt16(psks.count))
            let extracted = suite.extract(salt: zero, ikm: entry.psk)
            let input = try suite.expandWithLabel(secret: extracted, label: "derived psk", context: label.tlsSerialized, length: suite.kdfLength)
            secret = suite.extract(salt: input, ikm: secret)
        }
        return secret
    }
}
