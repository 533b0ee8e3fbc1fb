import COpenSSL
import CSodium

// DHKEM (RFC 9180 §4.1) over X25519 (libsodium), X448 (OpenSSL EVP) and the NIST curves
// (OpenSSL, see ECCurve). Key encodings are SerializePublicKey/SerializePrivateKey of §7.1.1–§7.1.2.

extension KEMAlgorithm {
    /// The NIST curve of a P-curve DHKEM, nil for X25519/X448.
    var ecCurve: ECCurve? {
        switch self {
        case .dhkemP256: .p256
        case .dhkemP384: .p384
        case .dhkemP521: .p521
        case .dhkemX25519, .dhkemX448: nil
        }
    }

    /// LabeledExtract/LabeledExpand with `suite_id = "KEM" || I2OSP(kem_id, 2)` and the KEM's own
    /// KDF (RFC 9180 §4.1, §7.1.3), which may differ from the suite's.
    var labeledKDF: HPKELabeledKDF {
        HPKELabeledKDF(hash: kdf, suiteID: Array("KEM".utf8) + bigEndian16(hpkeKEMID))
    }

    // MARK: Keys

    /// `pk(sk)`: the serialized public key of a serialized private key.
    func publicKey(for privateKey: SecretBytes) throws -> [UInt8] {
        switch self {
        case .dhkemX25519:
            try checkMontgomeryPrivateKey(privateKey)
            _ = Sodium.ready
            var out = [UInt8](repeating: 0, count: publicKeyLength)
            let rc = privateKey.withUnsafeBytes { crypto_scalarmult_curve25519_base(&out, $0.nonNullBytes) }
            guard rc == 0 else { throw CryptoError.backend("crypto_scalarmult_curve25519_base") }
            return out
        case .dhkemX448:
            return try withX448PrivateKey(privateKey) { key in
                var out = [UInt8](repeating: 0, count: publicKeyLength)
                var length = out.count
                guard EVP_PKEY_get_raw_public_key(key, &out, &length) == 1, length == publicKeyLength else {
                    throw openSSLError("EVP_PKEY_get_raw_public_key(X448)")
                }
                return out
            }
        case .dhkemP256, .dhkemP384, .dhkemP521:
            guard let curve = ecCurve else { throw CryptoError.backend("no curve") }
            return try curve.publicKey(for: privateKey)
        }
    }

    /// `DeriveKeyPair(ikm)` (RFC 9180 §7.1.3): HKDF for X25519/X448, rejection sampling over
    /// masked candidates for the NIST curves.
    func deriveKeyPair(ikm: SecretBytes) throws -> (privateKey: SecretBytes, publicKey: [UInt8]) {
        let kdf = labeledKDF
        let dkpPRK = kdf.extract(salt: SecretBytes(zeros: 0), label: "dkp_prk", ikm: ikm)
        guard let curve = ecCurve else {
            // X25519/X448: the expanded bytes are the private key as serialized; clamping happens
            // inside the scalar multiplication, so the stored key matches RFC 9180's test vectors.
            let privateKey = try kdf.expand(prk: dkpPRK, label: "sk", info: [], length: privateKeyLength)
            return (privateKey, try publicKey(for: privateKey))
        }
        for counter in 0...255 {
            let bytes = try kdf.expand(prk: dkpPRK, label: "candidate", info: [UInt8(counter)], length: privateKeyLength)
            let candidate = SecretBytes.build(count: privateKeyLength) { out in
                bytes.withUnsafeBytes { out.copyMemory(from: $0) }
                out[0] &= curve.candidateMask
            }
            if try curve.isValidScalar(candidate) {
                return (candidate, try curve.publicKey(for: candidate))
            }
        }
        throw CryptoError.deriveKeyPairFailed
    }

    /// `GenerateKeyPair()`, implemented as `DeriveKeyPair(random(Nsk))` as RFC 9180 §4 allows.
    func generateKeyPair() -> (privateKey: SecretBytes, publicKey: [UInt8]) {
        // DeriveKeyPair fails only on a backend failure or with negligible probability (§7.1.3).
        for _ in 0..<4 {
            if let pair = try? deriveKeyPair(ikm: SecretBytes(randomCount: privateKeyLength)) { return pair }
        }
        preconditionFailure("\(openSSLError("HPKE key generation"))")
    }

    // MARK: Diffie-Hellman

    /// `DH(sk, pk)` (RFC 9180 §4.1) with the input and output validation of §7.1.4: peer keys of
    /// the wrong length or off the curve throw `invalidPublicKey`, an all-zero X25519/X448 output
    /// throws `invalidSharedSecret`.
    func diffieHellman(privateKey: SecretBytes, publicKey: [UInt8]) throws -> SecretBytes {
        switch self {
        case .dhkemX25519:
            try checkMontgomeryPrivateKey(privateKey)
            try checkMontgomeryPublicKey(publicKey)
            _ = Sodium.ready
            let shared = SecretBytes.fill(count: 32) { out in
                privateKey.withUnsafeBytes { sk in
                    // Returns -1 when the result is all zeros (a small-order peer key).
                    crypto_scalarmult_curve25519(out.nonNullBytes, sk.nonNullBytes, publicKey) == 0
                }
            }
            guard let shared, !shared.withUnsafeBytes(isAllZero) else { throw CryptoError.invalidSharedSecret }
            return shared
        case .dhkemX448:
            try checkMontgomeryPublicKey(publicKey)
            return try withX448PrivateKey(privateKey) { key in
                guard let peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X448, nil, publicKey, publicKey.count) else {
                    ERR_clear_error()
                    throw CryptoError.invalidPublicKey("X448 public key rejected")
                }
                defer { EVP_PKEY_free(peer) }
                guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, key, nil) else { throw openSSLError("EVP_PKEY_CTX_new_from_pkey") }
                defer { EVP_PKEY_CTX_free(ctx) }
                guard EVP_PKEY_derive_init(ctx) == 1, EVP_PKEY_derive_set_peer(ctx, peer) == 1 else {
                    throw openSSLError("EVP_PKEY_derive_set_peer(X448)")
                }
                let shared = SecretBytes.fill(count: 56) { out in
                    var written = out.count
                    // OpenSSL's X448 refuses to return an all-zero result.
                    return EVP_PKEY_derive(ctx, out.nonNullBytes, &written) == 1 && written == 56
                }
                guard let shared, !shared.withUnsafeBytes(isAllZero) else {
                    ERR_clear_error()
                    throw CryptoError.invalidSharedSecret
                }
                return shared
            }
        case .dhkemP256, .dhkemP384, .dhkemP521:
            guard let curve = ecCurve else { throw CryptoError.backend("no curve") }
            return try curve.diffieHellman(privateKey: privateKey, peer: publicKey)
        }
    }

    // MARK: Encap / Decap

    /// `ExtractAndExpand(dh, kem_context)` (RFC 9180 §4.1).
    private func extractAndExpand(dh: SecretBytes, kemContext: [UInt8]) throws -> SecretBytes {
        let kdf = labeledKDF
        let eaePRK = kdf.extract(salt: SecretBytes(zeros: 0), label: "eae_prk", ikm: dh)
        return try kdf.expand(prk: eaePRK, label: "shared_secret", info: kemContext, length: sharedSecretLength)
    }

    /// `Encap(pkR)` (RFC 9180 §4.1) with the given ephemeral key pair.
    func encap(recipientPublicKey: [UInt8], ephemeral: (privateKey: SecretBytes, publicKey: [UInt8])) throws -> (sharedSecret: SecretBytes, enc: [UInt8]) {
        let dh = try diffieHellman(privateKey: ephemeral.privateKey, publicKey: recipientPublicKey)
        let enc = ephemeral.publicKey
        let sharedSecret = try extractAndExpand(dh: dh, kemContext: enc + recipientPublicKey)
        return (sharedSecret, enc)
    }

    /// `Decap(enc, skR)` (RFC 9180 §4.1).
    func decap(enc: [UInt8], recipientPrivateKey: SecretBytes) throws -> SecretBytes {
        let dh = try diffieHellman(privateKey: recipientPrivateKey, publicKey: enc)
        let recipientPublicKey = try publicKey(for: recipientPrivateKey)
        return try extractAndExpand(dh: dh, kemContext: enc + recipientPublicKey)
    }

    // MARK: Helpers

    private func checkMontgomeryPrivateKey(_ privateKey: SecretBytes) throws {
        guard privateKey.count == privateKeyLength else {
            throw CryptoError.invalidPrivateKey("\(self) private key of \(privateKey.count) bytes, expected \(privateKeyLength)")
        }
    }

    private func checkMontgomeryPublicKey(_ publicKey: [UInt8]) throws {
        guard publicKey.count == publicKeyLength else {
            throw CryptoError.invalidPublicKey("\(self) public key of \(publicKey.count) bytes, expected \(publicKeyLength)")
        }
    }

    /// Runs `body` with an EVP_PKEY for a 56-byte X448 private key, freed (and cleansed) afterwards.
    private func withX448PrivateKey<R>(_ privateKey: SecretBytes, _ body: (OpaquePointer) throws -> R) throws -> R {
        try checkMontgomeryPrivateKey(privateKey)
        let key = privateKey.withUnsafeBytes { EVP_PKEY_new_raw_private_key(EVP_PKEY_X448, nil, $0.nonNullBytes, $0.count) }
        guard let key else { throw openSSLError("EVP_PKEY_new_raw_private_key(X448)") }
        defer { EVP_PKEY_free(key) }
        return try body(key)
    }
}
