@_spi(Engine) import MLSCodec

/// An MLS cipher suite (RFC 9420 §5.1, registry in §17.1): the KEM, KDF, AEAD, hash and
/// signature algorithms one group uses.
public struct CipherSuite: Sendable, Hashable, CustomStringConvertible {
    /// The 16-bit code point of the suite.
    public let id: UInt16
    /// The hash function (also the KDF's and the MAC's).
    @_spi(Engine) public let hash: HashAlgorithm
    /// The AEAD.
    @_spi(Engine) public let aead: AEADAlgorithm
    /// The signature scheme.
    public let signature: SignatureScheme
    /// HPKE (RFC 9180) instantiated with this suite's KEM, KDF and AEAD.
    @_spi(Engine) public let hpke: HPKE

    /// The suite with code point `id`, or `nil` if it is not one of suites 1–7.
    public init?(id: UInt16) {
        switch id {
        case 1: self.init(id, .dhkemX25519, .aes128GCM, .sha256, .ed25519)
        case 2: self.init(id, .dhkemP256, .aes128GCM, .sha256, .ecdsaP256SHA256)
        case 3: self.init(id, .dhkemX25519, .chacha20Poly1305, .sha256, .ed25519)
        case 4: self.init(id, .dhkemX448, .aes256GCM, .sha512, .ed448)
        case 5: self.init(id, .dhkemP521, .aes256GCM, .sha512, .ecdsaP521SHA512)
        case 6: self.init(id, .dhkemX448, .chacha20Poly1305, .sha512, .ed448)
        case 7: self.init(id, .dhkemP384, .aes256GCM, .sha384, .ecdsaP384SHA384)
        default: return nil
        }
    }

    private init(_ id: UInt16, _ kem: KEMAlgorithm, _ aead: AEADAlgorithm, _ hash: HashAlgorithm, _ sig: SignatureScheme) {
        self.id = id
        self.hash = hash
        self.aead = aead
        self.signature = sig
        self.hpke = HPKE(kem: kem, kdf: hash, aead: aead)
    }

    /// All seven suites of RFC 9420 §17.1, in code-point order.
    public static let all: [CipherSuite] = (1...7).compactMap { CipherSuite(id: $0) }

    /// MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, the mandatory-to-implement suite (§17.1).
    public static let mls128X25519AES128GCMSHA256Ed25519 = CipherSuite(id: 1)!

    /// The suite's registered name.
    public var name: String {
        switch id {
        case 1: "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"
        case 2: "MLS_128_DHKEMP256_AES128GCM_SHA256_P256"
        case 3: "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519"
        case 4: "MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448"
        case 5: "MLS_256_DHKEMP521_AES256GCM_SHA512_P521"
        case 6: "MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448"
        default: "MLS_256_DHKEMP384_AES256GCM_SHA384_P384"
        }
    }

    public var description: String { "\(id) (\(name))" }

    /// The KDF output length `KDF.Nh` (equal to the hash length for HKDF).
    public var kdfLength: Int { hash.outputLength }

    // MARK: Primitives, as the RFC names them

    /// `Hash(data)`.
    public func digest(_ data: [UInt8]) -> [UInt8] { hash.hash(data) }

    /// `MAC(key, data)`: HMAC with the suite's hash (RFC 9420 §5.1).
    public func mac(key: SecretBytes, data: [UInt8]) -> [UInt8] { hash.hmac(key: key, data: data) }

    /// `KDF.Extract(salt, ikm)`.
    public func extract(salt: SecretBytes, ikm: SecretBytes) -> SecretBytes { hash.hkdfExtract(salt: salt, ikm: ikm) }

    /// `KDF.Expand(prk, info, length)`.
    public func expand(prk: SecretBytes, info: [UInt8], length: Int) throws -> SecretBytes {
        try hash.hkdfExpand(prk: prk, info: info, length: length)
    }
}
