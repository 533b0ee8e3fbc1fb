import COpenSSL
import CSodium

/// The NIST prime curves used by the P-256/P-384/P-521 suites for ECDSA and DHKEM, over OpenSSL's
/// EC_GROUP/EC_POINT/BIGNUM and EVP_PKEY interfaces (the EC_KEY interface is deprecated in 3.0).
///
/// Encodings follow RFC 9180 §7.1.1–§7.1.2 and RFC 9420 §5.1.1: a public key is the uncompressed
/// SEC1 point `0x04 || X || Y`, a private key the big-endian scalar padded to `scalarLength`.
enum ECCurve: Sendable {
    case p256, p384, p521

    var nid: Int32 {
        switch self {
        case .p256: NID_X9_62_prime256v1
        case .p384: NID_secp384r1
        case .p521: NID_secp521r1
        }
    }

    /// The group name OpenSSL's EC key management expects in `OSSL_PKEY_PARAM_GROUP_NAME`.
    var groupName: StaticString {
        switch self {
        case .p256: "P-256"
        case .p384: "P-384"
        case .p521: "P-521"
        }
    }

    /// Bytes of a field element or scalar (`Nsk`, and `Ndh` of RFC 9180 §4.1).
    var scalarLength: Int {
        switch self {
        case .p256: 32
        case .p384: 48
        case .p521: 66
        }
    }

    /// Bytes of an uncompressed point (`Npk`).
    var pointLength: Int { 1 + 2 * scalarLength }

    /// The mask RFC 9180 §7.1.3 applies to the first candidate byte in DeriveKeyPair, so that
    /// rejection sampling succeeds with high probability on the first try.
    var candidateMask: UInt8 { self == .p521 ? 0x01 : 0xFF }

    // MARK: Scoped OpenSSL objects

    /// Runs `body` with a fresh group and a (secure-heap) BN_CTX, both freed afterwards.
    func withGroup<R>(_ body: (_ group: OpaquePointer, _ bnContext: OpaquePointer) throws -> R) throws -> R {
        guard let group = EC_GROUP_new_by_curve_name(nid) else { throw openSSLError("EC_GROUP_new_by_curve_name") }
        defer { EC_GROUP_free(group) }
        guard let bnContext = BN_CTX_secure_new() else { throw openSSLError("BN_CTX_secure_new") }
        defer { BN_CTX_free(bnContext) }
        return try body(group, bnContext)
    }

    /// Runs `body` with the private scalar of `privateKey` as a secure BIGNUM, cleared and freed
    /// afterwards.
    ///
    /// Accepts encodings of 1…`scalarLength` bytes: RFC 9180 fixes the length, but some
    /// implementations strip leading zero bytes (P-521 keys of 65 bytes occur in the MLS
    /// interoperability vectors), and the value, not its padding, is what must be in range.
    /// Throws `CryptoError.invalidPrivateKey` unless `0 < d < n`.
    func withScalar<R>(_ privateKey: SecretBytes, group: OpaquePointer, _ body: (_ scalar: OpaquePointer) throws -> R) throws -> R {
        guard privateKey.count >= 1, privateKey.count <= scalarLength else {
            throw CryptoError.invalidPrivateKey("\(groupName) private key of \(privateKey.count) bytes")
        }
        guard let scalar = BN_secure_new() else { throw openSSLError("BN_secure_new") }
        defer { BN_clear_free(scalar) }
        let converted = privateKey.withUnsafeBytes { BN_bin2bn($0.nonNullBytes, Int32($0.count), scalar) != nil }
        guard converted else { throw openSSLError("BN_bin2bn") }
        guard let order = EC_GROUP_get0_order(group) else { throw openSSLError("EC_GROUP_get0_order") }
        guard BN_is_zero(scalar) == 0, BN_cmp(scalar, order) < 0 else {
            throw CryptoError.invalidPrivateKey("\(groupName) scalar is zero or not below the group order")
        }
        return try body(scalar)
    }

    // MARK: Keys

    /// Whether `candidate` (exactly `scalarLength` bytes) encodes a scalar in `[1, n-1]`.
    func isValidScalar(_ candidate: SecretBytes) throws -> Bool {
        try withGroup { group, _ in
            do {
                return try withScalar(candidate, group: group) { _ in true }
            } catch CryptoError.invalidPrivateKey {
                return false
            }
        }
    }

    /// The uncompressed public point `d·G` of the private scalar `d`.
    func publicKey(for privateKey: SecretBytes) throws -> [UInt8] {
        try withGroup { group, bnContext in
            try withScalar(privateKey, group: group) { scalar in
                try encodedPublicPoint(group: group, bnContext: bnContext, scalar: scalar)
            }
        }
    }

    private func encodedPublicPoint(group: OpaquePointer, bnContext: OpaquePointer, scalar: OpaquePointer) throws -> [UInt8] {
        guard let point = EC_POINT_new(group) else { throw openSSLError("EC_POINT_new") }
        defer { EC_POINT_free(point) }
        // Generator-only multiplication; OpenSSL uses its constant-time ladder for a secret scalar.
        guard EC_POINT_mul(group, point, scalar, nil, nil, bnContext) == 1 else { throw openSSLError("EC_POINT_mul") }
        var out = [UInt8](repeating: 0, count: pointLength)
        let written = out.withUnsafeMutableBytes {
            EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, $0.nonNullBytes, $0.count, bnContext)
        }
        guard written == pointLength else { throw openSSLError("EC_POINT_point2oct") }
        return out
    }

    /// A uniformly random private scalar in `[1, n-1]`, by rejection sampling over masked random
    /// strings (the same acceptance rule as RFC 9180 §7.1.3).
    func randomPrivateKey() throws -> SecretBytes {
        for _ in 0..<256 {
            _ = Sodium.ready
            let candidate = SecretBytes.build(count: scalarLength) { out in
                randombytes_buf(out.nonNullBase, out.count)
                out[0] &= candidateMask
            }
            if try isValidScalar(candidate) { return candidate }
        }
        throw CryptoError.backend("no valid \(groupName) scalar in 256 random candidates")
    }

    /// Checks a peer's public key: RFC 9180 §7.1.4 requires partial public-key validation
    /// (SP 800-56A §5.6.2.3.4): uncompressed encoding of the right length, coordinates below the
    /// field prime, on the curve, not the point at infinity. Throws `CryptoError.invalidPublicKey`.
    func validatePublicKey(_ publicKey: [UInt8]) throws {
        guard publicKey.count == pointLength, publicKey.first == 0x04 else {
            throw CryptoError.invalidPublicKey("\(groupName) public key must be a \(pointLength)-byte uncompressed point")
        }
        try withGroup { group, bnContext in
            guard let point = EC_POINT_new(group) else { throw openSSLError("EC_POINT_new") }
            defer { EC_POINT_free(point) }
            // oct2point rejects coordinates >= p and points that do not satisfy the curve equation.
            let decoded = publicKey.withUnsafeBytes {
                EC_POINT_oct2point(group, point, $0.nonNullBytes, $0.count, bnContext) == 1
            }
            guard decoded, EC_POINT_is_on_curve(group, point, bnContext) == 1, EC_POINT_is_at_infinity(group, point) == 0 else {
                ERR_clear_error()
                throw CryptoError.invalidPublicKey("\(groupName) public key is not a point on the curve")
            }
        }
    }

    /// An EVP_PKEY holding the validated public point `publicKey`; the caller frees it.
    func makePublicKey(_ publicKey: [UInt8]) throws -> OpaquePointer {
        try validatePublicKey(publicKey)
        return try makeKey(selection: KeySelection.publicKey, scalar: nil, publicKey: publicKey)
    }

    /// Runs `body` with an EVP_PKEY holding the key pair of `privateKey`, freed afterwards.
    func withKeyPair<R>(_ privateKey: SecretBytes, _ body: (_ key: OpaquePointer) throws -> R) throws -> R {
        try withGroup { group, bnContext in
            try withScalar(privateKey, group: group) { scalar in
                let publicKey = try encodedPublicPoint(group: group, bnContext: bnContext, scalar: scalar)
                let key = try makeKey(selection: KeySelection.keyPair, scalar: scalar, publicKey: publicKey)
                defer { EVP_PKEY_free(key) }
                return try body(key)
            }
        }
    }

    /// Builds an EVP_PKEY through `EVP_PKEY_fromdata`. The parameter builder copies a secure
    /// BIGNUM into secure memory and `OSSL_PARAM_free` cleanses it.
    private func makeKey(selection: Int32, scalar: OpaquePointer?, publicKey: [UInt8]) throws -> OpaquePointer {
        guard let builder = OSSL_PARAM_BLD_new() else { throw openSSLError("OSSL_PARAM_BLD_new") }
        defer { OSSL_PARAM_BLD_free(builder) }
        // The builder refers to the public-key bytes until OSSL_PARAM_BLD_to_param copies them.
        let params = publicKey.withUnsafeBytes { pub -> UnsafeMutablePointer<OSSL_PARAM>? in
            var pushed = OSSL_PARAM_BLD_push_utf8_string(builder, staticCString("group"), staticCString(groupName), 0) == 1
            pushed = pushed && OSSL_PARAM_BLD_push_octet_string(builder, staticCString("pub"), pub.nonNullBase, pub.count) == 1
            if let scalar { pushed = pushed && OSSL_PARAM_BLD_push_BN(builder, staticCString("priv"), scalar) == 1 }
            return pushed ? OSSL_PARAM_BLD_to_param(builder) : nil
        }
        guard let params else { throw openSSLError("OSSL_PARAM_BLD") }
        defer { OSSL_PARAM_free(params) }

        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, staticCString("EC"), nil) else { throw openSSLError("EVP_PKEY_CTX_new_from_name") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var key: OpaquePointer?
        guard EVP_PKEY_fromdata_init(ctx) == 1, EVP_PKEY_fromdata(ctx, &key, selection, params) == 1, let key else {
            throw openSSLError("EVP_PKEY_fromdata")
        }
        return key
    }

    // MARK: ECDH

    /// `DH(sk, pk)` of RFC 9180 §4.1: the x-coordinate of `d·P`, as `scalarLength` big-endian bytes.
    ///
    /// Throws `invalidPublicKey` for a peer key failing validation, `invalidPrivateKey` for an
    /// out-of-range scalar, and `invalidSharedSecret` if no valid shared point results.
    func diffieHellman(privateKey: SecretBytes, peer publicKey: [UInt8]) throws -> SecretBytes {
        let peer = try makePublicKey(publicKey)
        defer { EVP_PKEY_free(peer) }
        return try withKeyPair(privateKey) { key in
            guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, key, nil) else { throw openSSLError("EVP_PKEY_CTX_new_from_pkey") }
            defer { EVP_PKEY_CTX_free(ctx) }
            guard EVP_PKEY_derive_init(ctx) == 1 else { throw openSSLError("EVP_PKEY_derive_init") }
            guard EVP_PKEY_derive_set_peer(ctx, peer) == 1 else {
                ERR_clear_error()
                throw CryptoError.invalidPublicKey("\(groupName) peer key rejected")
            }
            var length = 0
            guard EVP_PKEY_derive(ctx, nil, &length) == 1, length == scalarLength else { throw openSSLError("EVP_PKEY_derive") }
            let secret = SecretBytes.fill(count: scalarLength) { out in
                var written = out.count
                return EVP_PKEY_derive(ctx, out.nonNullBytes, &written) == 1 && written == scalarLength
            }
            guard let secret else {
                // With a validated point of prime order and 0 < d < n the product is never the
                // point at infinity, so this is the only remaining failure RFC 9180 names.
                ERR_clear_error()
                throw CryptoError.invalidSharedSecret
            }
            return secret
        }
    }
}
