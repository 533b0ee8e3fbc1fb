import CSodium

/// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha, libsodium's `crypto_aead_xchacha20poly1305_ietf`):
/// not an RFC 9420 suite AEAD, but the one MLSKit seals persisted state with. Its 192-bit nonces
/// can be drawn at random for every write without a bound on the number of writes under one key,
/// which a long-lived storage key needs and the suites' 96-bit nonces do not give.
@_spi(Engine) public enum XChaCha20Poly1305 {
    /// Key length in bytes.
    public static let keyLength = 32
    /// Nonce length in bytes.
    public static let nonceLength = 24
    /// Tag length in bytes.
    public static let tagLength = 16

    /// Seals `plaintext` under a fresh random nonce; returns nonce || ciphertext || tag.
    public static func seal(key: SecretBytes, aad: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
        _ = Sodium.ready
        guard key.count == keyLength else { throw CryptoError.invalidLength("XChaCha20-Poly1305 key is \(key.count) bytes, expected \(keyLength)") }
        var out = [UInt8](repeating: 0, count: nonceLength + plaintext.count + tagLength)
        var written: UInt64 = 0
        let rc = out.withUnsafeMutableBytes { o in
            randombytes_buf(o.baseAddress!, nonceLength)
            return key.withUnsafeBytes { k in
                aad.withUnsafeBytes { a in
                    plaintext.withUnsafeBytes { p in
                        crypto_aead_xchacha20poly1305_ietf_encrypt(
                            o.baseAddress!.advanced(by: nonceLength).assumingMemoryBound(to: UInt8.self), &written,
                            p.nonNullBytes, UInt64(p.count), a.nonNullBytes, UInt64(a.count), nil,
                            o.baseAddress!.assumingMemoryBound(to: UInt8.self), k.nonNullBytes)
                    }
                }
            }
        }
        guard rc == 0, written == UInt64(plaintext.count + tagLength) else {
            throw CryptoError.invalidLength("XChaCha20-Poly1305 plaintext of \(plaintext.count) bytes")
        }
        return out
    }

    /// Opens nonce || ciphertext || tag into zeroizing storage; throws
    /// `CryptoError.decryptionFailed` on any authentication failure.
    public static func open(key: SecretBytes, aad: [UInt8], sealed: [UInt8]) throws -> SecretBytes {
        _ = Sodium.ready
        guard key.count == keyLength else { throw CryptoError.invalidLength("XChaCha20-Poly1305 key is \(key.count) bytes, expected \(keyLength)") }
        guard sealed.count >= nonceLength + tagLength else { throw CryptoError.decryptionFailed }
        let length = sealed.count - nonceLength - tagLength
        // libsodium needs somewhere to write even an empty plaintext.
        let result = SecretBytes.fill(count: max(length, 1)) { out in
            var written: UInt64 = 0
            let rc = key.withUnsafeBytes { k in
                aad.withUnsafeBytes { a in
                    sealed.withUnsafeBytes { s in
                        crypto_aead_xchacha20poly1305_ietf_decrypt(
                            out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                            &written, nil,
                            s.nonNullBytes.advanced(by: nonceLength), UInt64(s.count - nonceLength),
                            a.nonNullBytes, UInt64(a.count), s.nonNullBytes, k.nonNullBytes)
                    }
                }
            }
            return rc == 0 && written == UInt64(length)
        }
        guard let result else { throw CryptoError.decryptionFailed }
        return length == 0 ? SecretBytes(zeros: 0) : result
    }
}
