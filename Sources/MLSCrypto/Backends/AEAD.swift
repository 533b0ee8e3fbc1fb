import COpenSSL
import CSodium

// The suites' AEADs (RFC 9420 §5.1, RFC 5116 interface): AES-GCM through OpenSSL's EVP cipher
// interface, ChaCha20-Poly1305 (RFC 8439, the 96-bit-nonce "IETF" variant) through libsodium.

extension AEADAlgorithm {
    /// AEAD seal (RFC 5116 §2.1); returns ciphertext || tag.
    ///
    /// Throws `CryptoError.invalidLength` if `key` is not `Nk` bytes, `nonce` is not `Nn` bytes,
    /// or an input is too long for the backend.
    public func seal(key: SecretBytes, nonce: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
        try checkParameters(key: key, nonce: nonce)
        switch self {
        case .chacha20Poly1305: return try chachaSeal(key: key, nonce: nonce, aad: aad, plaintext: plaintext)
        case .aes128GCM, .aes256GCM: return try gcmSeal(key: key, nonce: nonce, aad: aad, plaintext: plaintext)
        }
    }

    /// AEAD open (RFC 5116 §2.2); throws `CryptoError.decryptionFailed` on any authentication failure.
    ///
    /// A ciphertext shorter than the tag also fails with `decryptionFailed`; a key or nonce of the
    /// wrong length throws `CryptoError.invalidLength`. No unauthenticated plaintext is ever returned.
    public func open(key: SecretBytes, nonce: [UInt8], aad: [UInt8], ciphertext: [UInt8]) throws -> [UInt8] {
        try checkParameters(key: key, nonce: nonce)
        guard ciphertext.count >= tagLength else { throw CryptoError.decryptionFailed }
        switch self {
        case .chacha20Poly1305: return try chachaOpen(key: key, nonce: nonce, aad: aad, ciphertext: ciphertext)
        case .aes128GCM, .aes256GCM: return try gcmOpen(key: key, nonce: nonce, aad: aad, ciphertext: ciphertext)
        }
    }

    private func checkParameters(key: SecretBytes, nonce: [UInt8]) throws {
        guard key.count == keyLength else {
            throw CryptoError.invalidLength("AEAD key is \(key.count) bytes, expected \(keyLength)")
        }
        guard nonce.count == nonceLength else {
            throw CryptoError.invalidLength("AEAD nonce is \(nonce.count) bytes, expected \(nonceLength)")
        }
    }

    // MARK: ChaCha20-Poly1305 (libsodium)

    private func chachaSeal(key: SecretBytes, nonce: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
        _ = Sodium.ready
        var out = [UInt8](repeating: 0, count: plaintext.count + tagLength)
        var written: UInt64 = 0
        let rc = key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                aad.withUnsafeBytes { a in
                    plaintext.withUnsafeBytes { p in
                        out.withUnsafeMutableBytes { o in
                            crypto_aead_chacha20poly1305_ietf_encrypt(
                                o.nonNullBytes, &written, p.nonNullBytes, UInt64(p.count),
                                a.nonNullBytes, UInt64(a.count), nil, n.nonNullBytes, k.nonNullBytes)
                        }
                    }
                }
            }
        }
        // libsodium refuses only messages beyond its 2^38-byte limit.
        guard rc == 0, written == UInt64(out.count) else {
            throw CryptoError.invalidLength("ChaCha20-Poly1305 plaintext of \(plaintext.count) bytes")
        }
        return out
    }

    private func chachaOpen(key: SecretBytes, nonce: [UInt8], aad: [UInt8], ciphertext: [UInt8]) throws -> [UInt8] {
        _ = Sodium.ready
        var out = [UInt8](repeating: 0, count: ciphertext.count - tagLength)
        var written: UInt64 = 0
        let rc = key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                aad.withUnsafeBytes { a in
                    ciphertext.withUnsafeBytes { c in
                        out.withUnsafeMutableBytes { o in
                            crypto_aead_chacha20poly1305_ietf_decrypt(
                                o.nonNullBytes, &written, nil, c.nonNullBytes, UInt64(c.count),
                                a.nonNullBytes, UInt64(a.count), n.nonNullBytes, k.nonNullBytes)
                        }
                    }
                }
            }
        }
        guard rc == 0, written == UInt64(out.count) else {
            wipe(&out)
            throw CryptoError.decryptionFailed
        }
        return out
    }

    // MARK: AES-GCM (OpenSSL EVP)

    private var gcmCipher: OpaquePointer? {
        self == .aes128GCM ? EVP_aes_128_gcm() : EVP_aes_256_gcm()
    }

    private func gcmSeal(key: SecretBytes, nonce: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
        guard aad.count <= Int(Int32.max), plaintext.count <= Int(Int32.max) - tagLength else {
            throw CryptoError.invalidLength("AES-GCM input beyond 2^31 bytes")
        }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw openSSLError("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }  // Cleanses the expanded key schedule.

        var out = [UInt8](repeating: 0, count: plaintext.count + tagLength)
        let ok = key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                aad.withUnsafeBytes { a in
                    plaintext.withUnsafeBytes { p in
                        out.withUnsafeMutableBytes { o -> Bool in
                            // GCM's default IV length is the 12 bytes RFC 5116 prescribes.
                            guard EVP_EncryptInit_ex(ctx, gcmCipher, nil, k.nonNullBytes, n.nonNullBytes) == 1 else { return false }
                            var length: Int32 = 0
                            // A NULL output pointer marks the input as associated data.
                            if a.count > 0, EVP_EncryptUpdate(ctx, nil, &length, a.nonNullBytes, Int32(a.count)) != 1 { return false }
                            var produced = 0
                            if p.count > 0 {
                                guard EVP_EncryptUpdate(ctx, o.nonNullBytes, &length, p.nonNullBytes, Int32(p.count)) == 1 else { return false }
                                produced = Int(length)
                            }
                            let tail = UnsafeMutableRawBufferPointer(rebasing: o[produced...])
                            guard EVP_EncryptFinal_ex(ctx, tail.nonNullBytes, &length) == 1 else { return false }
                            produced += Int(length)
                            guard produced == p.count else { return false }
                            let tag = UnsafeMutableRawBufferPointer(rebasing: o[produced...])
                            return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, Int32(tagLength), tag.nonNullBase) == 1
                        }
                    }
                }
            }
        }
        guard ok else { throw openSSLError("AES-GCM seal") }
        return out
    }

    private func gcmOpen(key: SecretBytes, nonce: [UInt8], aad: [UInt8], ciphertext: [UInt8]) throws -> [UInt8] {
        guard aad.count <= Int(Int32.max), ciphertext.count <= Int(Int32.max) else {
            throw CryptoError.decryptionFailed
        }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw openSSLError("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }

        let bodyLength = ciphertext.count - tagLength
        var tag = Array(ciphertext[bodyLength...])  // EVP_CTRL_AEAD_SET_TAG takes a mutable pointer.
        var out = [UInt8](repeating: 0, count: bodyLength)
        let ok = key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                aad.withUnsafeBytes { a in
                    ciphertext.withUnsafeBytes { c in
                        tag.withUnsafeMutableBytes { t in
                            out.withUnsafeMutableBytes { o -> Bool in
                                guard EVP_DecryptInit_ex(ctx, gcmCipher, nil, k.nonNullBytes, n.nonNullBytes) == 1 else { return false }
                                var length: Int32 = 0
                                if a.count > 0, EVP_DecryptUpdate(ctx, nil, &length, a.nonNullBytes, Int32(a.count)) != 1 { return false }
                                var produced = 0
                                if bodyLength > 0 {
                                    guard EVP_DecryptUpdate(ctx, o.nonNullBytes, &length, c.nonNullBytes, Int32(bodyLength)) == 1 else { return false }
                                    produced = Int(length)
                                }
                                guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, Int32(t.count), t.nonNullBase) == 1 else { return false }
                                // The tag is checked here; any mismatch makes Final fail.
                                let tail = UnsafeMutableRawBufferPointer(rebasing: o[produced...])
                                guard EVP_DecryptFinal_ex(ctx, tail.nonNullBytes, &length) == 1 else { return false }
                                return produced + Int(length) == bodyLength
                            }
                        }
                    }
                }
            }
        }
        guard ok else {
            ERR_clear_error()
            wipe(&out)
            throw CryptoError.decryptionFailed
        }
        return out
    }
}
