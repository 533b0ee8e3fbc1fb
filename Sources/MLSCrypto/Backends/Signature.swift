import COpenSSL
import CSodium

// The suites' signature schemes (RFC 9420 §5.1.2): Ed25519 through libsodium; Ed448 and ECDSA
// through OpenSSL's EVP_DigestSign/EVP_DigestVerify.

extension SignatureScheme {
    /// A fresh key pair from the OS CSPRNG (RFC 9420 §5.1.2 encodings: the raw EdDSA seed or the
    /// padded big-endian ECDSA scalar, and the raw EdDSA or uncompressed SEC1 public key).
    public func generateKeyPair() -> (privateKey: SecretBytes, publicKey: [UInt8]) {
        // Only a backend failure (allocation) can make an attempt fail; a fresh seed or an
        // in-range scalar is always a valid key.
        for _ in 0..<4 {
            let privateKey: SecretBytes
            switch self {
            case .ed25519: privateKey = SecretBytes(randomCount: Self.ed25519SeedLength)
            case .ed448: privateKey = SecretBytes(randomCount: Self.ed448KeyLength)
            case .ecdsaP256SHA256, .ecdsaP384SHA384, .ecdsaP521SHA512:
                guard let scalar = try? ecCurve?.randomPrivateKey() else { continue }
                privateKey = scalar
            }
            if let publicKey = try? publicKey(for: privateKey) { return (privateKey, publicKey) }
        }
        preconditionFailure("\(openSSLError("signature key generation"))")
    }

    /// The public key of `privateKey` (RFC 9420 §5.1.2 encodings).
    ///
    /// Throws `CryptoError.invalidPrivateKey` for a seed of the wrong length or an ECDSA scalar
    /// outside `[1, n-1]`.
    public func publicKey(for privateKey: SecretBytes) throws -> [UInt8] {
        switch self {
        case .ed25519:
            return try withEd25519SecretKey(privateKey) { _, publicKey in publicKey }
        case .ed448:
            return try withEd448Key(privateKey) { key in
                var out = [UInt8](repeating: 0, count: Self.ed448KeyLength)
                var length = out.count
                guard EVP_PKEY_get_raw_public_key(key, &out, &length) == 1, length == Self.ed448KeyLength else {
                    throw openSSLError("EVP_PKEY_get_raw_public_key(Ed448)")
                }
                return out
            }
        case .ecdsaP256SHA256, .ecdsaP384SHA384, .ecdsaP521SHA512:
            guard let curve = ecCurve else { throw CryptoError.backend("no curve") }
            return try curve.publicKey(for: privateKey)
        }
    }

    /// Signs `message`: pure Ed25519/Ed448 (RFC 8032, empty context) or ECDSA over the scheme's
    /// hash with a DER-encoded signature (RFC 9420 §5.1.2).
    public func sign(_ message: [UInt8], privateKey: SecretBytes) throws -> [UInt8] {
        switch self {
        case .ed25519:
            return try withEd25519SecretKey(privateKey) { secretKey, _ in try Self.signEd25519(message, expandedKey: secretKey) }
        case .ed448:
            return try withEd448Key(privateKey) { key in try digestSign(key: key, digest: nil, message: message) }
        case .ecdsaP256SHA256, .ecdsaP384SHA384, .ecdsaP521SHA512:
            guard let curve = ecCurve else { throw CryptoError.backend("no curve") }
            return try curve.withKeyPair(privateKey) { key in try digestSign(key: key, digest: ecdsaDigest, message: message) }
        }
    }

    /// Verifies; returns false for any malformed key or signature.
    ///
    /// Never throws or traps: a public key of the wrong length or off the curve, a truncated or
    /// non-canonical signature, and a backend failure all count as "not verified".
    public func verify(_ signature: [UInt8], for message: [UInt8], publicKey: [UInt8]) -> Bool {
        switch self {
        case .ed25519:
            guard publicKey.count == Self.ed25519PublicKeyLength, signature.count == Self.ed25519SignatureLength else { return false }
            _ = Sodium.ready
            // libsodium also rejects small-order public keys and non-canonical S values.
            return message.withUnsafeBytes { m in
                crypto_sign_verify_detached(signature, m.nonNullBytes, UInt64(m.count), publicKey) == 0
            }
        case .ed448:
            guard publicKey.count == Self.ed448KeyLength, signature.count == Self.ed448SignatureLength else { return false }
            guard let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED448, nil, publicKey, publicKey.count) else {
                ERR_clear_error()
                return false
            }
            defer { EVP_PKEY_free(key) }
            return digestVerify(key: key, digest: nil, signature: signature, message: message)
        case .ecdsaP256SHA256, .ecdsaP384SHA384, .ecdsaP521SHA512:
            guard let curve = ecCurve, let key = try? curve.makePublicKey(publicKey) else {
                ERR_clear_error()
                return false
            }
            defer { EVP_PKEY_free(key) }
            return digestVerify(key: key, digest: ecdsaDigest, signature: signature, message: message)
        }
    }

    // MARK: Helpers

    static let ed25519SeedLength = 32
    static let ed25519PublicKeyLength = 32
    static let ed25519SignatureLength = 64
    /// Ed448 seeds and public keys are both 57 bytes (RFC 8032 §5.2.5).
    static let ed448KeyLength = 57
    static let ed448SignatureLength = 114

    var ecCurve: ECCurve? {
        switch self {
        case .ecdsaP256SHA256: .p256
        case .ecdsaP384SHA384: .p384
        case .ecdsaP521SHA512: .p521
        case .ed25519, .ed448: nil
        }
    }

    private var ecdsaDigest: OpaquePointer? {
        switch self {
        case .ecdsaP384SHA384: EVP_sha384()
        case .ecdsaP521SHA512: EVP_sha512()
        default: EVP_sha256()
        }
    }

    /// Expands the 32-byte Ed25519 seed into libsodium's 64-byte secret key, held in zeroizing
    /// storage for the duration of `body`.
    /// libsodium's 64-byte Ed25519 secret key (seed and public key) for a 32-byte seed, so a
    /// signer that keeps it signs without re-deriving the key pair each time.
    static func expandEd25519(_ seed: SecretBytes) throws -> SecretBytes {
        try SignatureScheme.ed25519.withEd25519SecretKey(seed) { secretKey, _ in secretKey }
    }

    /// Pure Ed25519 (RFC 8032) with an expanded secret key from ``expandEd25519(_:)``.
    static func signEd25519(_ message: [UInt8], expandedKey secretKey: SecretBytes) throws -> [UInt8] {
        guard secretKey.count == 64 else { throw CryptoError.invalidPrivateKey("expanded Ed25519 key must be 64 bytes") }
        _ = Sodium.ready
        var signature = [UInt8](repeating: 0, count: ed25519SignatureLength)
        let rc = message.withUnsafeBytes { m in
            secretKey.withUnsafeBytes { sk in
                crypto_sign_detached(&signature, nil, m.nonNullBytes, UInt64(m.count), sk.nonNullBytes)
            }
        }
        guard rc == 0 else { throw CryptoError.backend("crypto_sign_detached") }
        return signature
    }

    private func withEd25519SecretKey<R>(_ seed: SecretBytes, _ body: (SecretBytes, [UInt8]) throws -> R) throws -> R {
        guard seed.count == Self.ed25519SeedLength else {
            throw CryptoError.invalidPrivateKey("Ed25519 private key must be a \(Self.ed25519SeedLength)-byte seed, got \(seed.count)")
        }
        _ = Sodium.ready
        var publicKey = [UInt8](repeating: 0, count: Self.ed25519PublicKeyLength)
        let secretKey = SecretBytes.fill(count: 64) { sk in
            seed.withUnsafeBytes { s in
                crypto_sign_seed_keypair(&publicKey, sk.nonNullBytes, s.nonNullBytes) == 0
            }
        }
        guard let secretKey else { throw CryptoError.backend("crypto_sign_seed_keypair") }
        return try body(secretKey, publicKey)
    }

    /// Runs `body` with an EVP_PKEY for the 57-byte Ed448 seed, freed (and cleansed) afterwards.
    private func withEd448Key<R>(_ seed: SecretBytes, _ body: (OpaquePointer) throws -> R) throws -> R {
        guard seed.count == Self.ed448KeyLength else {
            throw CryptoError.invalidPrivateKey("Ed448 private key must be a \(Self.ed448KeyLength)-byte seed, got \(seed.count)")
        }
        let key = seed.withUnsafeBytes { EVP_PKEY_new_raw_private_key(EVP_PKEY_ED448, nil, $0.nonNullBytes, $0.count) }
        guard let key else { throw openSSLError("EVP_PKEY_new_raw_private_key(Ed448)") }
        defer { EVP_PKEY_free(key) }
        return try body(key)
    }

    /// One-shot EVP_DigestSign; `digest` is nil for EdDSA, which hashes internally.
    private func digestSign(key: OpaquePointer, digest: OpaquePointer?, message: [UInt8]) throws -> [UInt8] {
        guard let ctx = EVP_MD_CTX_new() else { throw openSSLError("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestSignInit(ctx, nil, digest, nil, key) == 1 else { throw openSSLError("EVP_DigestSignInit") }
        return try message.withUnsafeBytes { m in
            var length = 0
            guard EVP_DigestSign(ctx, nil, &length, m.nonNullBytes, m.count) == 1 else { throw openSSLError("EVP_DigestSign") }
            var signature = [UInt8](repeating: 0, count: length)
            guard EVP_DigestSign(ctx, &signature, &length, m.nonNullBytes, m.count) == 1, length <= signature.count else {
                throw openSSLError("EVP_DigestSign")
            }
            // A DER ECDSA signature is usually shorter than the maximum reported first.
            signature.removeLast(signature.count - length)
            return signature
        }
    }

    /// One-shot EVP_DigestVerify; only a definite success (1) counts, errors (< 0) do not.
    private func digestVerify(key: OpaquePointer, digest: OpaquePointer?, signature: [UInt8], message: [UInt8]) -> Bool {
        guard let ctx = EVP_MD_CTX_new() else {
            ERR_clear_error()
            return false
        }
        defer { EVP_MD_CTX_free(ctx) }
        let verified = EVP_DigestVerifyInit(ctx, nil, digest, nil, key) == 1
            && signature.withUnsafeBytes { s in
                message.withUnsafeBytes { m in
                    EVP_DigestVerify(ctx, s.nonNullBytes, s.count, m.nonNullBytes, m.count) == 1
                }
            }
        if !verified { ERR_clear_error() }
        return verified
    }
}
