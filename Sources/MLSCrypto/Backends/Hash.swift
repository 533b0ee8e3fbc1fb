import COpenSSL
import CSodium

// Hash, HMAC and HKDF (RFC 5869) for the suites' hash functions. SHA-256 and SHA-512 run in
// libsodium, which cannot fail and does not allocate; SHA-384, which libsodium lacks, runs in
// OpenSSL (EVP_Digest and the EVP_MAC "HMAC" implementation).

extension HashAlgorithm {
    /// `Hash(data)` (RFC 9420 §5.1): SHA-256, SHA-384 or SHA-512 of `data`.
    public func hash(_ data: [UInt8]) -> [UInt8] {
        _ = Sodium.ready
        var out = [UInt8](repeating: 0, count: outputLength)
        let ok = data.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output -> Bool in
                switch self {
                case .sha256:
                    return crypto_hash_sha256(output.nonNullBytes, input.nonNullBytes, UInt64(input.count)) == 0
                case .sha512:
                    return crypto_hash_sha512(output.nonNullBytes, input.nonNullBytes, UInt64(input.count)) == 0
                case .sha384:
                    var length: UInt32 = 0
                    return EVP_Digest(input.nonNullBase, input.count, output.nonNullBytes, &length, EVP_sha384(), nil) == 1
                        && Int(length) == output.count
                }
            }
        }
        // Only an allocation failure inside OpenSSL can get here; there is no bad input to a hash.
        guard ok else { preconditionFailure("\(openSSLError("EVP_Digest(SHA-384)"))") }
        return out
    }

    /// HMAC with this hash (RFC 2104), the suite's `MAC(key, data)` (RFC 9420 §5.1).
    public func hmac(key: SecretBytes, data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outputLength)
        let ok = key.withUnsafeBytes { k in
            data.withUnsafeBytes { d in
                out.withUnsafeMutableBytes { o in
                    HMACComputation(self, key: k)?.update(d).finalize(into: o) ?? false
                }
            }
        }
        // HMAC accepts every key and message; only an OpenSSL allocation failure can get here.
        guard ok else { preconditionFailure("\(openSSLError("HMAC"))") }
        return out
    }

    /// HKDF-Extract (RFC 5869 §2.2): `HMAC(salt, ikm)`, a pseudorandom key of `Nh` bytes.
    ///
    /// An empty salt behaves as RFC 5869's string of `Nh` zeros, because HMAC zero-pads its key.
    public func hkdfExtract(salt: SecretBytes, ikm: SecretBytes) -> SecretBytes {
        let prk = SecretBytes.fill(count: outputLength) { out in
            salt.withUnsafeBytes { s in
                ikm.withUnsafeBytes { i in
                    HMACComputation(self, key: s)?.update(i).finalize(into: out) ?? false
                }
            }
        }
        guard let prk else { preconditionFailure("\(openSSLError("HKDF-Extract"))") }
        return prk
    }

    /// HKDF-Expand (RFC 5869 §2.3); throws `CryptoError.invalidLength` beyond 255 × Nh.
    ///
    /// The output is written straight into zeroizing storage and the chaining block `T(i)` lives in
    /// a buffer that is wiped before returning, so no copy of the output key material survives.
    public func hkdfExpand(prk: SecretBytes, info: [UInt8], length: Int) throws -> SecretBytes {
        let nh = outputLength
        guard length >= 0, length <= 255 * nh else {
            throw CryptoError.invalidLength("HKDF-Expand length \(length) outside 0...\(255 * nh)")
        }
        let okm = SecretBytes.fill(count: length) { out in
            prk.withUnsafeBytes { key in
                info.withUnsafeBytes { infoBytes in
                    let block = UnsafeMutableRawBufferPointer.allocate(byteCount: nh, alignment: 16)
                    defer {
                        wipe(block)
                        block.deallocate()
                    }
                    var produced = 0
                    var previous = 0  // T(0) is the empty string.
                    var counter: UInt8 = 1
                    while produced < length {
                        guard let mac = HMACComputation(self, key: key) else { return false }
                        mac.update(UnsafeRawBufferPointer(rebasing: block[0..<previous])).update(infoBytes)
                        withUnsafeBytes(of: counter) { _ = mac.update($0) }
                        guard mac.finalize(into: block) else { return false }
                        let take = Swift.min(nh, length - produced)
                        UnsafeMutableRawBufferPointer(rebasing: out[produced..<(produced + take)])
                            .copyMemory(from: UnsafeRawBufferPointer(rebasing: block[0..<take]))
                        produced += take
                        previous = nh
                        counter &+= 1
                    }
                    return true
                }
            }
        }
        guard let okm else { throw openSSLError("HKDF-Expand") }
        return okm
    }
}

/// One incremental HMAC computation. The hash state holds key-derived material, so it is wiped
/// and released when the computation is dropped, whether or not it was finalised.
final class HMACComputation {
    private enum State {
        case sha256(UnsafeMutablePointer<crypto_auth_hmacsha256_state>)
        case sha512(UnsafeMutablePointer<crypto_auth_hmacsha512_state>)
        case openSSL(OpaquePointer)  // EVP_MAC_CTX
    }

    private let state: State
    private let outputLength: Int

    /// Starts `HMAC(key, ·)`; `nil` only if OpenSSL could not set up its context.
    init?(_ hash: HashAlgorithm, key: UnsafeRawBufferPointer) {
        _ = Sodium.ready
        outputLength = hash.outputLength
        switch hash {
        case .sha256:
            let s = UnsafeMutablePointer<crypto_auth_hmacsha256_state>.allocate(capacity: 1)
            crypto_auth_hmacsha256_init(s, key.nonNullBytes, key.count)
            state = .sha256(s)
        case .sha512:
            let s = UnsafeMutablePointer<crypto_auth_hmacsha512_state>.allocate(capacity: 1)
            crypto_auth_hmacsha512_init(s, key.nonNullBytes, key.count)
            state = .sha512(s)
        case .sha384:
            guard let mac = EVP_MAC_fetch(nil, staticCString("HMAC"), nil) else { return nil }
            defer { EVP_MAC_free(mac) }
            guard let ctx = EVP_MAC_CTX_new(mac) else { return nil }
            // OSSL_PARAM stores the key and value pointers, so both must be static strings.
            var params = [
                OSSL_PARAM_construct_utf8_string(staticCString("digest"), UnsafeMutablePointer(mutating: staticCString("SHA384")), 0),
                OSSL_PARAM_construct_end(),
            ]
            // A non-NULL key pointer matters: with NULL, EVP_MAC_init reuses a previous key.
            guard EVP_MAC_init(ctx, key.nonNullBytes, key.count, &params) == 1 else {
                EVP_MAC_CTX_free(ctx)
                return nil
            }
            state = .openSSL(ctx)
        }
    }

    deinit {
        switch state {
        case let .sha256(s):
            sodium_memzero(s, MemoryLayout<crypto_auth_hmacsha256_state>.size)
            s.deallocate()
        case let .sha512(s):
            sodium_memzero(s, MemoryLayout<crypto_auth_hmacsha512_state>.size)
            s.deallocate()
        case let .openSSL(ctx):
            EVP_MAC_CTX_free(ctx)  // Cleanses the inner digest states.
        }
    }

    /// Feeds `data` into the MAC.
    @discardableResult
    func update(_ data: UnsafeRawBufferPointer) -> HMACComputation {
        guard data.count > 0 else { return self }
        switch state {
        case let .sha256(s): crypto_auth_hmacsha256_update(s, data.nonNullBytes, UInt64(data.count))
        case let .sha512(s): crypto_auth_hmacsha512_update(s, data.nonNullBytes, UInt64(data.count))
        case let .openSSL(ctx): failed = failed || EVP_MAC_update(ctx, data.nonNullBytes, data.count) != 1
        }
        return self
    }

    private var failed = false

    /// Writes the tag into the first `Nh` bytes of `out` (which must have room for them).
    func finalize(into out: UnsafeMutableRawBufferPointer) -> Bool {
        guard !failed, out.count >= outputLength else { return false }
        switch state {
        case let .sha256(s): return crypto_auth_hmacsha256_final(s, out.nonNullBytes) == 0
        case let .sha512(s): return crypto_auth_hmacsha512_final(s, out.nonNullBytes) == 0
        case let .openSSL(ctx):
            var written = 0
            return EVP_MAC_final(ctx, out.nonNullBytes, &written, out.count) == 1 && written == outputLength
        }
    }
}
