import COpenSSL

/// A credential policy (RFC 9420 §5.3.1) that validates X.509 credentials (§5.3) against a set of
/// trust anchors with OpenSSL's chain verification.
///
/// A credential is valid only if all of the following hold, checked in this order (the first
/// failure is reported by ``validate(_:signatureKey:)``):
/// 1. it is an X.509 credential with at least one certificate (§5.3);
/// 2. every certificate is exactly one DER certificate, with no trailing bytes;
/// 3. `certificates[0]` (the end entity, §5.3) verifies to one of the trust anchors through the
///    other supplied certificates and any configured ``intermediates`` (§5.3 lets a chain omit
///    certificates peers already have), with every validity period checked at the verification
///    time;
/// 4. the end entity's keyUsage, if present, includes digitalSignature;
/// 5. the end entity's public key, in the MLS encoding of its algorithm (§5.1.2: raw Ed25519 and
///    Ed448 keys, uncompressed SEC1 points for ECDSA), is identical to `signature_key` (§5.3).
///
/// This covers the first half of validation with the Authentication Service (§5.3.1): that the
/// credential legitimately binds its presented identifiers to the signature key. Matching those
/// identifiers (subject, subjectAltName) against the application's reference identifiers, and
/// checking that a replacement credential is a valid successor of the old one, stay with the
/// application. Revocation is not checked (no CRLs or OCSP). The validator does not know the
/// group's cipher suite; the LeafNode signature check (§7.3) ties the key to the suite's scheme.
public struct X509IdentityProvider: IdentityProvider {
    /// The verification time in Unix seconds, or `nil` for the current time when each credential
    /// is checked (RFC 9420 §5.3.1 validation; expiry is §5.3.2). RFC 9420 §5.3.2 suggests accepting credentials that were valid when an old
    /// message was sent; an application processing such messages can pass that time here.
    public let verificationTime: UInt64?
    /// Whether basic credentials (RFC 9420 §5.3) are accepted as they are, for groups mixing both types.
    /// Off by default: a validator configured with trust anchors should not silently admit
    /// members whose identity nothing vouches for.
    public let acceptsBasicCredentials: Bool
    /// Whether a trust anchor may be an intermediate CA rather than a self-signed root
    /// (OpenSSL's `X509_V_FLAG_PARTIAL_CHAIN`), e.g. to trust only one issuing CA of a larger PKI:
    /// which CAs the Authentication Service trusts is the application's policy (RFC 9420 §5.3.1).
    public let allowsPartialChains: Bool
    /// Intermediate CA certificates (DER) the application already has: RFC 9420 §5.3 lets a chain
    /// omit non-leaf certificates that peers are known to possess. They are untrusted: they only
    /// help build a path to an anchor.
    public let intermediates: [[UInt8]]

    private let anchors: X509TrustAnchorStore

    /// Creates a validator for credentials issued under `trustAnchors` (RFC 9420 §5.3.1).
    ///
    /// - Parameters:
    ///   - trustAnchors: DER certificates of the Authentication Service's trusted roots.
    ///   - intermediates: DER certificates of intermediates that credentials may omit (§5.3).
    ///   - verificationTime: Unix seconds at which validity periods are checked; `nil` for now.
    ///   - acceptsBasicCredentials: whether basic credentials are accepted as they are.
    ///   - allowsPartialChains: whether a non-self-signed anchor may terminate a chain.
    /// - Throws: ``CredentialRejection/malformedTrustAnchor(index:)`` or
    ///   ``CredentialRejection/malformedIntermediate(index:)`` for a certificate that does not
    ///   parse, so that a misconfiguration surfaces here rather than as every credential refused.
    public init(trustAnchors: [[UInt8]], intermediates: [[UInt8]] = [], verificationTime: UInt64? = nil,
                acceptsBasicCredentials: Bool = false, allowsPartialChains: Bool = false) throws(CredentialRejection) {
        anchors = try X509TrustAnchorStore(anchors: trustAnchors)
        for (index, der) in intermediates.enumerated() {
            guard let cert = X509Support.parseCertificate(der) else { throw .malformedIntermediate(index: index) }
            X509_free(cert)
        }
        self.intermediates = intermediates
        self.verificationTime = verificationTime
        self.acceptsBasicCredentials = acceptsBasicCredentials
        self.allowsPartialChains = allowsPartialChains
    }

    /// The ``IdentityProvider`` entry point: validates `credential` for `signatureKey` at
    /// ``verificationTime`` if one is fixed, else at `time` (the group's clock), else now.
    /// X.509 failures keep their detail (the failing check's ``CredentialRejection`` case); a
    /// basic credential not accepted here is ``CredentialRejection/unsupportedType(_:)``.
    public func validate(_ credential: Credential, signatureKey: [UInt8], at time: UInt64?) throws(CredentialRejection) {
        try validate(credential, signatureKey: signatureKey, time: verificationTime ?? time)
    }

    /// Validates `credential` for `signatureKey` (RFC 9420 §5.3, §5.3.1), throwing the first
    /// failing check in the order listed on ``X509IdentityProvider``.
    public func validate(_ credential: Credential, signatureKey: [UInt8]) throws(CredentialRejection) {
        try validate(credential, signatureKey: signatureKey, time: verificationTime)
    }

    func validate(_ credential: Credential, signatureKey: [UInt8], time: UInt64?) throws(CredentialRejection) {
        let certificates: [[UInt8]]
        switch credential {
        case .basic:
            if acceptsBasicCredentials { return }
            throw .unsupportedType(.basic)
        case let .x509(list):
            certificates = list
        }
        guard !certificates.isEmpty else { throw .emptyChain }
        // Whatever the outcome, leave no entries in this thread's OpenSSL error queue.
        defer { ERR_clear_error() }

        // Parse everything before verifying anything: a malformed certificate anywhere makes the
        // credential malformed, even if the path to the anchor would not have needed it.
        var parsed: [OpaquePointer] = []
        parsed.reserveCapacity(certificates.count + intermediates.count)
        defer { for cert in parsed { X509_free(cert) } }
        for (index, der) in certificates.enumerated() {
            guard let cert = X509Support.parseCertificate(der) else { throw .malformedCertificate(index: index) }
            parsed.append(cert)
        }
        for (index, der) in intermediates.enumerated() {
            // These parsed in init, so only an allocation failure can land here; still refuse.
            guard let cert = X509Support.parseCertificate(der) else { throw .malformedIntermediate(index: index) }
            parsed.append(cert)
        }
        let leaf = parsed[0]

        try verifyChain(leaf: leaf, untrusted: parsed.dropFirst(), time: time)

        switch X509Support.checkKeyUsage(leaf) {
        case .permitsSigning: break
        case .forbidsSigning: throw .keyUsageForbidsSigning
        case .malformed: throw .malformedCertificate(index: 0)
        }

        guard let leafKey = X509Support.mlsPublicKey(of: leaf) else { throw .unsupportedKeyType }
        // Public values: no constant-time comparison needed.
        guard leafKey == signatureKey else { throw .signatureKeyMismatch }
    }

    /// Runs OpenSSL's path validation (RFC 5280 §6) from `leaf` to the anchors, with `untrusted`
    /// as candidate intermediates, and maps OpenSSL's verdict to an ``CredentialRejection``.
    private func verifyChain(leaf: OpaquePointer, untrusted: ArraySlice<OpaquePointer>, time: UInt64?) throws(CredentialRejection) {
        // `STACK_OF(X509)` is a typed veneer over OPENSSL_STACK; the sk_X509_* helpers are C
        // macros Swift cannot import. The stack does not own its elements (freed by the caller).
        guard let stack = OPENSSL_sk_new_null() else { throw .backendFailure("OPENSSL_sk_new_null") }
        defer { OPENSSL_sk_free(stack) }
        for cert in untrusted {
            guard OPENSSL_sk_push(stack, UnsafeRawPointer(cert)) > 0 else { throw .backendFailure("OPENSSL_sk_push") }
        }

        guard let context = X509_STORE_CTX_new() else { throw .backendFailure("X509_STORE_CTX_new") }
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, anchors.store, leaf, stack) == 1 else {
            throw .backendFailure("X509_STORE_CTX_init")
        }
        // The parameters are the context's own copy: the shared store is never modified.
        guard let parameters = X509_STORE_CTX_get0_param(context) else {
            throw .backendFailure("X509_STORE_CTX_get0_param")
        }
        if let time {
            // A time beyond time_t is after every notAfter; clamping keeps that meaning.
            X509_VERIFY_PARAM_set_time(parameters, time_t(clamping: time))
        }
        if allowsPartialChains {
            guard X509_VERIFY_PARAM_set_flags(parameters, UInt(X509_V_FLAG_PARTIAL_CHAIN)) == 1 else {
                throw .backendFailure("X509_VERIFY_PARAM_set_flags")
            }
        }

        // 1 means a chain to an anchor was built and every check passed; anything else (0, or a
        // negative value for an internal error) is a refusal.
        guard X509_verify_cert(context) != 1 else { return }
        let code = X509_STORE_CTX_get_error(context)
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED: throw .expired
        case X509_V_ERR_CERT_NOT_YET_VALID: throw .notYetValid
        case X509_V_OK: throw .backendFailure("X509_verify_cert")
        default:
            let reason = X509_verify_cert_error_string(Int(code)).map { String(cString: $0) } ?? "error \(code)"
            throw .untrusted("\(reason) (depth \(X509_STORE_CTX_get_error_depth(context)))")
        }
    }
}
