// PLACEHOLDER: implemented by the crypto backend work; signatures are fixed.

extension HashAlgorithm {
    /// `Hash(data)`.
    public func hash(_ data: [UInt8]) -> [UInt8] { fatalError("unimplemented") }
    /// HMAC with this hash.
    public func hmac(key: SecretBytes, data: [UInt8]) -> [UInt8] { fatalError("unimplemented") }
    /// HKDF-Extract (RFC 5869 §2.2).
    public func hkdfExtract(salt: SecretBytes, ikm: SecretBytes) -> SecretBytes { fatalError("unimplemented") }
    /// HKDF-Expand (RFC 5869 §2.3); throws `CryptoError.invalidLength` beyond 255 × Nh.
    public func hkdfExpand(prk: SecretBytes, info: [UInt8], length: Int) throws -> SecretBytes { fatalError("unimplemented") }
}

extension AEADAlgorithm {
    /// AEAD seal; returns ciphertext || tag.
    public func seal(key: SecretBytes, nonce: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws -> [UInt8] { fatalError("unimplemented") }
    /// AEAD open; throws `CryptoError.decryptionFailed` on any authentication failure.
    public func open(key: SecretBytes, nonce: [UInt8], aad: [UInt8], ciphertext: [UInt8]) throws -> [UInt8] { fatalError("unimplemented") }
}

extension SignatureScheme {
    /// A fresh key pair from the OS CSPRNG.
    public func generateKeyPair() -> (privateKey: SecretBytes, publicKey: [UInt8]) { fatalError("unimplemented") }
    /// The public key of `privateKey`.
    public func publicKey(for privateKey: SecretBytes) throws -> [UInt8] { fatalError("unimplemented") }
    /// Signs `message`.
    public func sign(_ message: [UInt8], privateKey: SecretBytes) throws -> [UInt8] { fatalError("unimplemented") }
    /// Verifies; returns false for any malformed key or signature.
    public func verify(_ signature: [UInt8], for message: [UInt8], publicKey: [UInt8]) -> Bool { fatalError("unimplemented") }
}

/// HPKE (RFC 9180) in base mode.
public struct HPKE: Sendable, Hashable {
    public let kem: KEMAlgorithm
    public let kdf: HashAlgorithm
    public let aead: AEADAlgorithm
    public init(kem: KEMAlgorithm, kdf: HashAlgorithm, aead: AEADAlgorithm) { self.kem = kem; self.kdf = kdf; self.aead = aead }
    public func generateKeyPair() -> (privateKey: SecretBytes, publicKey: [UInt8]) { fatalError("unimplemented") }
    public func deriveKeyPair(ikm: SecretBytes) throws -> (privateKey: SecretBytes, publicKey: [UInt8]) { fatalError("unimplemented") }
    public func publicKey(for privateKey: SecretBytes) throws -> [UInt8] { fatalError("unimplemented") }
    public func seal(publicKey: [UInt8], info: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws -> (enc: [UInt8], ciphertext: [UInt8]) { fatalError("unimplemented") }
    public func open(privateKey: SecretBytes, enc: [UInt8], info: [UInt8], aad: [UInt8], ciphertext: [UInt8]) throws -> [UInt8] { fatalError("unimplemented") }
    public func sendExport(publicKey: [UInt8], info: [UInt8], exporterContext: [UInt8], length: Int) throws -> (enc: [UInt8], secret: SecretBytes) { fatalError("unimplemented") }
    public func receiveExport(privateKey: SecretBytes, enc: [UInt8], info: [UInt8], exporterContext: [UInt8], length: Int) throws -> SecretBytes { fatalError("unimplemented") }
}
