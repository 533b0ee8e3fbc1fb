import COpenSSL

// OpenSSL plumbing for `X509IdentityProvider` (RFC 9420 §5.3, §5.3.1): strict DER parsing of
// certificates, the key-usage check, the MLS encoding of a certificate's public key, and the
// shared trust-anchor store.
//
// Everything here handles bytes from the network, so nothing traps: a failure of OpenSSL is a
// `nil` or `false`, and the thread's OpenSSL error queue is emptied so that a stale entry cannot be
// misattributed to a later, unrelated call.

/// Internal helpers over OpenSSL's X.509 interfaces, kept in a namespace so the MLS module does not
/// gain free functions.
enum X509Support {
    /// Parses one DER certificate; the caller owns (and must `X509_free`) the result.
    ///
    /// Returns `nil` unless `der` is exactly one certificate: `d2i_X509` stops after the first
    /// object and reports how far it read, so trailing bytes are detected by comparing that
    /// position with the end of the input. `d2i_X509` also accepts some BER (e.g. non-minimal
    /// length octets), so the certificate must re-encode (`i2d_X509`) to the very same bytes.
    /// OpenSSL keeps the received `tbsCertificate` bytes (those are what the issuer signed), so
    /// the round trip polices the outer structure; the signed part is covered by the issuer's
    /// signature. RFC 5280 §4.1 requires certificates to be DER, and refusing other encodings
    /// keeps a credential from having several byte representations.
    static func parseCertificate(_ der: [UInt8]) -> OpaquePointer? {
        guard !der.isEmpty else { return nil }
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { input in
            guard let base = input.baseAddress else { return nil }
            var cursor: UnsafePointer<UInt8>? = base
            guard let cert = d2i_X509(nil, &cursor, input.count) else { return nil }
            guard let end = cursor, end - base == input.count else {
                X509_free(cert)
                return nil
            }
            return cert
        }
        guard let cert = parsed else {
            ERR_clear_error()
            return nil
        }
        guard encode(cert) == der else {
            X509_free(cert)
            ERR_clear_error()
            return nil
        }
        return cert
    }

    /// Whether two DER end-entity certificates name the same subject (`X509_NAME_cmp`, which
    /// compares canonical encodings); `false` when either does not parse.
    static func sameSubject(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard let ca = parseCertificate(a) else { return false }
        defer { X509_free(ca) }
        guard let cb = parseCertificate(b) else { return false }
        defer { X509_free(cb) }
        defer { ERR_clear_error() }
        guard let na = X509_get_subject_name(ca), let nb = X509_get_subject_name(cb) else { return false }
        return X509_NAME_cmp(na, nb) == 0
    }

    /// The DER encoding of a DER certificate's subject name, or `nil` when it does not parse.
    static func subjectDER(_ der: [UInt8]) -> [UInt8]? {
        guard let cert = parseCertificate(der) else { return nil }
        defer { X509_free(cert) }
        defer { ERR_clear_error() }
        guard let name = X509_get_subject_name(cert) else { return nil }
        return encodeDER(name, i2d_X509_NAME)
    }

    /// The DER encoding of `cert`, or `nil` if OpenSSL cannot encode it.
    static func encode(_ cert: OpaquePointer) -> [UInt8]? {
        encodeDER(cert, i2d_X509)
    }

    /// Runs one of OpenSSL's `i2d_*` encoders the two-call way (length, then bytes); `nil` when
    /// it fails or writes another length than it announced.
    private static func encodeDER(_ object: OpaquePointer, _ i2d: (OpaquePointer?, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32) -> [UInt8]? {
        let length = i2d(object, nil)
        guard length > 0 else { return nil }
        var out = [UInt8](repeating: 0, count: Int(length))
        let written = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d(object, &cursor)
        }
        return written == length ? out : nil
    }

    // MARK: Key usage

    /// The outcome of looking for digitalSignature in a certificate's key usage.
    enum KeyUsageCheck {
        /// No keyUsage extension, or one that asserts digitalSignature.
        case permitsSigning
        /// A keyUsage extension without digitalSignature.
        case forbidsSigning
        /// A keyUsage extension that is duplicated or does not decode as a BIT STRING.
        case malformed
    }

    /// Whether the keyUsage extension of `cert`, if present, asserts digitalSignature
    /// (RFC 5280 §4.2.1.3, bit 0). An MLS member signs LeafNodes, KeyPackages and messages with
    /// this key (RFC 9420 §5.1.2), so a certificate restricted to other uses does not authorize it.
    ///
    /// The extension is decoded here with `x509.h`/`asn1.h` calls (`X509_get_key_usage` lives in
    /// `x509v3.h`, which the COpenSSL shim does not include). RFC 5280 §4.2 forbids repeating an
    /// extension, and with two keyUsage extensions it would be ambiguous which one applies.
    static func checkKeyUsage(_ cert: OpaquePointer) -> KeyUsageCheck {
        let index = X509_get_ext_by_NID(cert, NID_key_usage, -1)
        guard index >= 0 else { return .permitsSigning }
        guard X509_get_ext_by_NID(cert, NID_key_usage, index) < 0 else { return .malformed }
        guard let ext = X509_get_ext(cert, index), let data = X509_EXTENSION_get_data(ext),
              let bytes = ASN1_STRING_get0_data(data) else {
            ERR_clear_error()
            return .malformed
        }
        let length = Int(ASN1_STRING_length(data))
        var cursor: UnsafePointer<UInt8>? = bytes
        guard let bits = d2i_ASN1_BIT_STRING(nil, &cursor, length) else {
            ERR_clear_error()
            return .malformed
        }
        defer { ASN1_BIT_STRING_free(bits) }
        guard let end = cursor, end - bytes == length else { return .malformed }
        return ASN1_BIT_STRING_get_bit(bits, 0) == 1 ? .permitsSigning : .forbidsSigning
    }

    // MARK: Public keys

    /// The MLS encoding (RFC 9420 §5.1.2) of the public key in `cert`'s subjectPublicKeyInfo:
    /// the raw key for Ed25519 and Ed448 (RFC 8410), the uncompressed SEC1 point `0x04 || X || Y`
    /// for ECDSA on P-256, P-384 and P-521. `nil` for any other algorithm or curve (none of the
    /// RFC 9420 cipher suites could use it) and for a key OpenSSL could not decode.
    static func mlsPublicKey(of cert: OpaquePointer) -> [UInt8]? {
        // The key belongs to the certificate: X509_get0_pubkey does not transfer ownership.
        guard let key = X509_get0_pubkey(cert) else {
            ERR_clear_error()
            return nil
        }
        let result: [UInt8]?
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_ED25519, EVP_PKEY_ED448: result = rawPublicKey(key)
        case EVP_PKEY_EC: result = uncompressedECPoint(key)
        default: result = nil
        }
        if result == nil { ERR_clear_error() }
        return result
    }

    private static func rawPublicKey(_ key: OpaquePointer) -> [UInt8]? {
        var length = 0
        guard EVP_PKEY_get_raw_public_key(key, nil, &length) == 1, length > 0 else { return nil }
        var out = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_get_raw_public_key(key, &out, &length) == 1, length == out.count else { return nil }
        return out
    }

    /// The NIDs of the only curves RFC 9420's suites use for signatures (§17.1).
    private static let supportedCurves: Set<Int32> = [NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1]

    /// The curve's NID from OpenSSL's group name, which may be a short name ("prime256v1") or a
    /// NIST name ("P-256") depending on how the key was decoded.
    private static func curveNID(_ key: OpaquePointer) -> Int32? {
        var name = [CChar](repeating: 0, count: 80)
        var length = 0
        // Keys with explicit curve parameters have no group name and land here as unsupported.
        guard EVP_PKEY_get_group_name(key, &name, name.count, &length) == 1, length < name.count else { return nil }
        var nid = OBJ_sn2nid(name)
        if nid == NID_undef { nid = EC_curve_nist2nid(name) }
        return supportedCurves.contains(nid) ? nid : nil
    }

    /// The point of an EC key as an uncompressed SEC1 encoding.
    ///
    /// A certificate may carry the point compressed (RFC 5480 §2.2 allows both forms), while the
    /// MLS signature_key is always uncompressed (RFC 9420 §5.1.2); decoding and re-encoding the
    /// point compares the key itself, not the form chosen by the certificate's issuer.
    private static func uncompressedECPoint(_ key: OpaquePointer) -> [UInt8]? {
        guard let nid = curveNID(key) else { return nil }
        var length = 0
        guard EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nil, 0, &length) == 1,
              length > 0 else { return nil }
        var encoded = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, &encoded, encoded.count, &length) == 1,
              length == encoded.count else { return nil }

        guard let group = EC_GROUP_new_by_curve_name(nid) else { return nil }
        defer { EC_GROUP_free(group) }
        guard let point = EC_POINT_new(group) else { return nil }
        defer { EC_POINT_free(point) }
        // oct2point refuses encodings of the wrong length and points off the curve.
        guard EC_POINT_oct2point(group, point, encoded, encoded.count, nil) == 1,
              EC_POINT_is_at_infinity(group, point) == 0 else { return nil }
        let size = EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, nil, 0, nil)
        guard size > 0 else { return nil }
        var out = [UInt8](repeating: 0, count: size)
        guard EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, &out, out.count, nil) == size else { return nil }
        return out
    }
}

/// The trust anchors of an `X509IdentityProvider` (RFC 9420 §5.3.1: the Authentication
/// Service's roots), held in one OpenSSL `X509_STORE` for the validator's lifetime.
///
/// `@unchecked Sendable`: the store is filled once in `init` and only read afterwards.
/// `X509_STORE` is designed to be shared by concurrent verifications (every TLS connection of an
/// `SSL_CTX` shares one): lookups take the store's lock, per-verification state lives in each
/// `X509_STORE_CTX`, and certificates cache their decoded extensions under their own lock.
final class X509TrustAnchorStore: @unchecked Sendable {
    /// The `X509_STORE *`, freed (with the certificates it holds) in `deinit`.
    let store: OpaquePointer

    /// Builds the store, or reports the index of the first anchor that is not a DER certificate.
    init(anchors: [[UInt8]]) throws(CredentialRejection) {
        guard let store = X509_STORE_new() else {
            ERR_clear_error()
            throw .backendFailure("X509_STORE_new")
        }
        // From here on, `deinit` frees the store on every exit, including a throw below.
        self.store = store
        for (index, der) in anchors.enumerated() {
            guard let cert = X509Support.parseCertificate(der) else { throw .malformedTrustAnchor(index: index) }
            // X509_STORE_add_cert takes its own reference; ours is dropped either way.
            let added = X509_STORE_add_cert(store, cert)
            X509_free(cert)
            // Adding a certificate already in the store is not an error in OpenSSL 3.
            guard added == 1 else {
                ERR_clear_error()
                throw .backendFailure("X509_STORE_add_cert")
            }
        }
    }

    deinit { X509_STORE_free(store) }
}
