/// The hash functions of the RFC 9420 cipher suites (§5.1, §17.1), also the KDF's hash.
@_spi(Engine) public enum HashAlgorithm: Sendable, Hashable {
    case sha256, sha384, sha512

    /// The output length in bytes (the RFC's `Nh`, equal to `KDF.Nh` for HKDF).
    public var outputLength: Int {
        switch self {
        case .sha256: 32
        case .sha384: 48
        case .sha512: 64
        }
    }

    /// The RFC 9180 KDF identifier of HKDF over this hash (§7.2 of RFC 9180).
    public var hpkeKDFID: UInt16 {
        switch self {
        case .sha256: 0x0001
        case .sha384: 0x0002
        case .sha512: 0x0003
        }
    }
}

/// The AEAD algorithms of the RFC 9420 cipher suites (§5.1, §17.1).
@_spi(Engine) public enum AEADAlgorithm: Sendable, Hashable {
    case aes128GCM, aes256GCM, chacha20Poly1305

    /// Key length in bytes (`Nk`).
    public var keyLength: Int {
        switch self {
        case .aes128GCM: 16
        case .aes256GCM, .chacha20Poly1305: 32
        }
    }

    /// Nonce length in bytes (`Nn`).
    public var nonceLength: Int { 12 }

    /// Authentication tag length in bytes (`Nt`).
    public var tagLength: Int { 16 }

    /// The RFC 9180 AEAD identifier.
    public var hpkeAEADID: UInt16 {
        switch self {
        case .aes128GCM: 0x0001
        case .aes256GCM: 0x0002
        case .chacha20Poly1305: 0x0003
        }
    }
}

/// The DHKEMs of the RFC 9420 cipher suites (RFC 9180 §4.1, §7.1).
@_spi(Engine) public enum KEMAlgorithm: Sendable, Hashable {
    case dhkemP256, dhkemP384, dhkemP521, dhkemX25519, dhkemX448

    /// The RFC 9180 KEM identifier.
    public var hpkeKEMID: UInt16 {
        switch self {
        case .dhkemP256: 0x0010
        case .dhkemP384: 0x0011
        case .dhkemP521: 0x0012
        case .dhkemX25519: 0x0020
        case .dhkemX448: 0x0021
        }
    }

    /// The KDF the KEM uses internally (RFC 9180 §7.1).
    public var kdf: HashAlgorithm {
        switch self {
        case .dhkemP256, .dhkemX25519: .sha256
        case .dhkemP384: .sha384
        case .dhkemP521, .dhkemX448: .sha512
        }
    }

    /// Length of the KEM shared secret (`Nsecret`).
    public var sharedSecretLength: Int {
        switch self {
        case .dhkemP256, .dhkemX25519: 32
        case .dhkemP384: 48
        case .dhkemP521, .dhkemX448: 64
        }
    }

    /// Length of an encoded public key and of `enc` (`Npk`, `Nenc`).
    public var publicKeyLength: Int {
        switch self {
        case .dhkemP256: 65
        case .dhkemP384: 97
        case .dhkemP521: 133
        case .dhkemX25519: 32
        case .dhkemX448: 56
        }
    }

    /// Length of an encoded private key (`Nsk`).
    public var privateKeyLength: Int {
        switch self {
        case .dhkemP256: 32
        case .dhkemP384: 48
        case .dhkemP521: 66
        case .dhkemX25519: 32
        case .dhkemX448: 56
        }
    }
}

/// The signature schemes of the RFC 9420 cipher suites (§5.1.2, §17.1).
///
/// Public keys are raw Ed25519/Ed448 keys or uncompressed SEC1 points; private keys are the raw
/// EdDSA seed or the big-endian ECDSA scalar; ECDSA signatures are DER-encoded (§5.1.2).
public enum SignatureScheme: Sendable, Hashable {
    case ed25519, ed448, ecdsaP256SHA256, ecdsaP384SHA384, ecdsaP521SHA512

    /// The TLS SignatureScheme code point (RFC 8446 §4.2.3).
    public var tlsCodePoint: UInt16 {
        switch self {
        case .ecdsaP256SHA256: 0x0403
        case .ecdsaP384SHA384: 0x0503
        case .ecdsaP521SHA512: 0x0603
        case .ed25519: 0x0807
        case .ed448: 0x0808
        }
    }
}

/// Why a cryptographic operation failed. Never carries secret material.
public enum CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A public key was malformed, of the wrong length, or not a valid curve point.
    case invalidPublicKey(String)
    /// A private key was malformed or out of range.
    case invalidPrivateKey(String)
    /// AEAD or HPKE decryption failed (wrong key, modified ciphertext or tag, wrong context).
    case decryptionFailed
    /// A requested output length is outside what the primitive can produce.
    case invalidLength(String)
    /// DeriveKeyPair found no valid scalar (RFC 9180 §7.1.3); practically impossible.
    case deriveKeyPairFailed
    /// A Diffie-Hellman computation produced the identity / an all-zero output.
    case invalidSharedSecret
    /// The crypto library reported an internal failure.
    case backend(String)

    public var description: String {
        switch self {
        case let .invalidPublicKey(d): "invalid public key: \(d)"
        case let .invalidPrivateKey(d): "invalid private key: \(d)"
        case .decryptionFailed: "decryption failed"
        case let .invalidLength(d): "invalid length: \(d)"
        case .deriveKeyPairFailed: "DeriveKeyPair found no valid key"
        case .invalidSharedSecret: "Diffie-Hellman produced an invalid shared secret"
        case let .backend(d): "crypto backend failure: \(d)"
        }
    }
}
