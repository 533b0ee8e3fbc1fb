import COpenSSL
import Foundation
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLS

/// X.509 credential validation (RFC 9420 §5.3, §5.3.1) against certificates minted at test time
/// with OpenSSL's C API (no certificate files in the repository).
@Suite struct X509CredentialTests {
    // MARK: Test PKI

    /// Errors of the test PKI helpers (a failure here is a test-setup failure).
    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    /// An EVP_PKEY owned by the test, freed with the object.
    final class Key {
        let pkey: OpaquePointer
        init(_ pkey: OpaquePointer) { self.pkey = pkey }
        deinit { EVP_PKEY_free(pkey) }

        /// A fresh key: `algorithm` is an OpenSSL key type name ("ED25519", "EC"), `group` a curve.
        /// The names are static strings because EVP_PKEY_CTX_new_from_name keeps the pointer.
        static func generate(_ algorithm: StaticString, group: StaticString? = nil) throws -> Key {
            guard let ctx = EVP_PKEY_CTX_new_from_name(nil, cString(algorithm), nil) else { throw SetupError(description: "EVP_PKEY_CTX_new_from_name") }
            defer { EVP_PKEY_CTX_free(ctx) }
            guard EVP_PKEY_keygen_init(ctx) == 1 else { throw SetupError(description: "EVP_PKEY_keygen_init") }
            if let group {
                guard EVP_PKEY_CTX_set_group_name(ctx, cString(group)) == 1 else { throw SetupError(description: "set_group_name") }
            }
            var pkey: OpaquePointer?
            guard EVP_PKEY_generate(ctx, &pkey) == 1, let pkey else { throw SetupError(description: "EVP_PKEY_generate") }
            return Key(pkey)
        }

        static func ed25519() throws -> Key { try generate("ED25519") }
        static func p256() throws -> Key { try generate("EC", group: "P-256") }

        var isEC: Bool { EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC }

        /// The MLS signature key (RFC 9420 §5.1.2): raw for EdDSA, the uncompressed point for EC
        /// (OpenSSL's default point format for a generated key).
        var mlsPublicKey: [UInt8] {
            get throws {
                var length = 0
                if isEC {
                    guard EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nil, 0, &length) == 1 else { throw SetupError(description: "encoded-pub-key") }
                    var out = [UInt8](repeating: 0, count: length)
                    guard EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, &out, out.count, &length) == 1 else { throw SetupError(description: "encoded-pub-key") }
                    return Array(out.prefix(length))
                }
                guard EVP_PKEY_get_raw_public_key(pkey, nil, &length) == 1 else { throw SetupError(description: "raw public key") }
                var out = [UInt8](repeating: 0, count: length)
                guard EVP_PKEY_get_raw_public_key(pkey, &out, &length) == 1 else { throw SetupError(description: "raw public key") }
                return out
            }
        }

        /// The raw private key (the RFC 8032 seed) of an EdDSA key, for MLS signing.
        var rawPrivateKey: SecretBytes {
            get throws {
                var length = 0
                guard EVP_PKEY_get_raw_private_key(pkey, nil, &length) == 1 else { throw SetupError(description: "raw private key") }
                var out = [UInt8](repeating: 0, count: length)
                guard EVP_PKEY_get_raw_private_key(pkey, &out, &length) == 1 else { throw SetupError(description: "raw private key") }
                return SecretBytes(zeroizing: &out)
            }
        }
    }

    static func cString(_ s: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    /// DER of the basicConstraints value `SEQUENCE { cA BOOLEAN TRUE }` (RFC 5280 §4.2.1.9).
    static let caBasicConstraints: [UInt8] = [0x30, 0x03, 0x01, 0x01, 0xFF]
    /// keyUsage BIT STRINGs (RFC 5280 §4.2.1.3; bit 0 is the most significant bit of the first
    /// content byte, after the unused-bits count).
    static let keyUsageCA: [UInt8] = [0x03, 0x02, 0x01, 0x06] // keyCertSign(5), cRLSign(6)
    static let keyUsageDigitalSignature: [UInt8] = [0x03, 0x02, 0x07, 0x80] // digitalSignature(0)
    static let keyUsageKeyEncipherment: [UInt8] = [0x03, 0x02, 0x05, 0x20] // keyEncipherment(2)

    /// A validity window used by the fixed-time tests: 2023-11-14 to 2033-11-11.
    static let notBefore: Int64 = 1_700_000_000
    static let notAfter: Int64 = 2_015_000_000
    /// A verification time inside that window.
    static let checkTime: UInt64 = 1_750_000_000

    /// Mints a v3 certificate for `subject` holding `key`, issued by `issuer` and signed with
    /// `signer`, and returns its DER. `keyUsage` is a DER BIT STRING or `nil` for none.
    static func certificate(subject: String, issuer: String, key: Key, signer: Key, serial: Int = 1,
                            notBefore: Int64 = notBefore, notAfter: Int64 = notAfter,
                            isCA: Bool, keyUsage: [UInt8]?) throws -> [UInt8] {
        guard let x = X509_new() else { throw SetupError(description: "X509_new") }
        defer { X509_free(x) }
        guard X509_set_version(x, 2) == 1,
              ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1,
              ASN1_TIME_set(X509_getm_notBefore(x), time_t(notBefore)) != nil,
              ASN1_TIME_set(X509_getm_notAfter(x), time_t(notAfter)) != nil else { throw SetupError(description: "X509 fields") }
        try withName(subject) { guard X509_set_subject_name(x, $0) == 1 else { throw SetupError(description: "subject") } }
        try withName(issuer) { guard X509_set_issuer_name(x, $0) == 1 else { throw SetupError(description: "issuer") } }
        guard X509_set_pubkey(x, key.pkey) == 1 else { throw SetupError(description: "X509_set_pubkey") }
        if isCA { try addExtension(x, nid: NID_basic_constraints, critical: true, value: caBasicConstraints) }
        if let keyUsage { try addExtension(x, nid: NID_key_usage, critical: true, value: keyUsage) }
        // EdDSA signs the message itself (no digest); ECDSA here uses SHA-256.
        let digest = signer.isEC ? EVP_sha256() : nil
        guard X509_sign(x, signer.pkey, digest) > 0 else { throw SetupError(description: "X509_sign") }
        let length = i2d_X509(x, nil)
        guard length > 0 else { throw SetupError(description: "i2d_X509") }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_X509(x, &cursor)
        }
        guard written == length else { throw SetupError(description: "i2d_X509") }
        return der
    }

    static func withName(_ commonName: String, _ body: (OpaquePointer) throws -> Void) throws {
        guard let name = X509_NAME_new() else { throw SetupError(description: "X509_NAME_new") }
        defer { X509_NAME_free(name) }
        let bytes = Array(commonName.utf8)
        guard X509_NAME_add_entry_by_NID(name, NID_commonName, V_ASN1_UTF8STRING, bytes, Int32(bytes.count), -1, 0) == 1 else {
            throw SetupError(description: "X509_NAME_add_entry_by_NID")
        }
        try body(name)
    }

    static func addExtension(_ x: OpaquePointer, nid: Int32, critical: Bool, value: [UInt8]) throws {
        guard let data = ASN1_OCTET_STRING_new() else { throw SetupError(description: "ASN1_OCTET_STRING_new") }
        defer { ASN1_OCTET_STRING_free(data) }
        guard ASN1_OCTET_STRING_set(data, value, Int32(value.count)) == 1,
              let ext = X509_EXTENSION_create_by_NID(nil, nid, critical ? 1 : 0, data) else { throw SetupError(description: "extension") }
        defer { X509_EXTENSION_free(ext) }
        guard X509_add_ext(x, ext, -1) == 1 else { throw SetupError(description: "X509_add_ext") }
    }

    /// A root CA and an intermediate CA under it (both Ed25519, keys kept for issuing leaves).
    struct PKI {
        let name: String
        let rootKey: Key
        let root: [UInt8]
        let intermediateKey: Key
        let intermediate: [UInt8]

        init(name: String = "Test", notBefore: Int64 = X509CredentialTests.notBefore,
             notAfter: Int64 = X509CredentialTests.notAfter) throws {
            self.name = name
            rootKey = try Key.ed25519()
            intermediateKey = try Key.ed25519()
            root = try certificate(subject: "\(name) Root", issuer: "\(name) Root", key: rootKey, signer: rootKey,
                                   notBefore: notBefore, notAfter: notAfter, isCA: true, keyUsage: keyUsageCA)
            intermediate = try certificate(subject: "\(name) Intermediate", issuer: "\(name) Root", key: intermediateKey,
                                           signer: rootKey, serial: 2, notBefore: notBefore, notAfter: notAfter,
                                           isCA: true, keyUsage: keyUsageCA)
        }

        /// An end-entity certificate for `key` issued by the intermediate.
        func leaf(_ key: Key, notBefore: Int64 = X509CredentialTests.notBefore, notAfter: Int64 = X509CredentialTests.notAfter,
                  keyUsage: [UInt8]? = keyUsageDigitalSignature) throws -> [UInt8] {
            try certificate(subject: "alice@example.com", issuer: "\(name) Intermediate", key: key,
                            signer: intermediateKey, serial: 3, notBefore: notBefore, notAfter: notAfter,
                            isCA: false, keyUsage: keyUsage)
        }
    }

    /// The error `body` throws, or `nil`. (Closures do not infer typed throws yet, so `body` is
    /// untyped; any other error is recorded as an issue.)
    static func failure(_ body: () throws -> Void) -> CredentialRejection? {
        do {
            try body()
            return nil
        } catch let error as CredentialRejection {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return .backendFailure("unexpected error")
        }
    }

    static func validator(_ pki: PKI, time: UInt64? = checkTime, basic: Bool = false,
                          intermediates: [[UInt8]] = []) throws(CredentialRejection) -> X509IdentityProvider {
        try X509IdentityProvider(trustAnchors: [pki.root], intermediates: intermediates, verificationTime: time,
                                    acceptsBasicCredentials: basic)
    }

    // MARK: Accepted chains

    @Test func ed25519LeafUnderIntermediateIsAccepted() throws {
        let pki = try PKI()
        let leafKey = try Key.ed25519()
        let credential = Credential.x509(certificates: [try pki.leaf(leafKey), pki.intermediate])
        let signatureKey = try leafKey.mlsPublicKey
        #expect(signatureKey.count == 32)
        let validator = try Self.validator(pki)
        #expect(Self.failure { try validator.validate(credential, signatureKey: signatureKey) } == nil)
        #expect(validator.isValid(credential, signatureKey: signatureKey))
    }

    /// The identity of an X.509 credential is its end entity's subject: a renewed certificate
    /// (new key, same subject) names the same member and is a valid successor; the intermediate
    /// (another subject) is not.
    @Test func identityIsTheEndEntitySubject() throws {
        let pki = try PKI()
        let first = try pki.leaf(try Key.ed25519()), renewed = try pki.leaf(try Key.ed25519())
        let provider = try Self.validator(pki)
        let a = Credential.x509(certificates: [first, pki.intermediate]), b = Credential.x509(certificates: [renewed, pki.intermediate])
        #expect(!provider.identity(of: a).isEmpty)
        #expect(provider.identity(of: a) == provider.identity(of: b))
        #expect(provider.validSuccessor(old: a, new: b))
        let other = Credential.x509(certificates: [pki.intermediate])
        #expect(provider.identity(of: other) != provider.identity(of: a))
        #expect(!provider.validSuccessor(old: a, new: other))
        #expect(provider.identity(of: .x509(certificates: [[0x30, 0x00]])).isEmpty)
    }

    @Test func p256LeafUnderIntermediateIsAccepted() throws {
        let pki = try PKI()
        let leafKey = try Key.p256()
        let credential = Credential.x509(certificates: [try pki.leaf(leafKey), pki.intermediate])
        let signatureKey = try leafKey.mlsPublicKey
        #expect(signatureKey.count == 65 && signatureKey.first == 0x04)
        let validator = try Self.validator(pki)
        #expect(Self.failure { try validator.validate(credential, signatureKey: signatureKey) } == nil)
        #expect(validator.isValid(credential, signatureKey: signatureKey))
    }

    /// The other signature algorithms of the RFC 9420 suites (§17.1), with their MLS key sizes.
    enum LeafAlgorithm: CaseIterable, Sendable {
        case ed448, p384, p521

        func generate() throws -> Key {
            switch self {
            case .ed448: try Key.generate("ED448")
            case .p384: try Key.generate("EC", group: "P-384")
            case .p521: try Key.generate("EC", group: "P-521")
            }
        }

        var keyLength: Int {
            switch self {
            case .ed448: 57
            case .p384: 97
            case .p521: 133
            }
        }
    }

    @Test(arguments: LeafAlgorithm.allCases) func otherSuiteAlgorithmsAreAccepted(_ algorithm: LeafAlgorithm) throws {
        let pki = try PKI()
        let leafKey = try algorithm.generate()
        let credential = Credential.x509(certificates: [try pki.leaf(leafKey), pki.intermediate])
        let signatureKey = try leafKey.mlsPublicKey
        #expect(signatureKey.count == algorithm.keyLength)
        let validator = try Self.validator(pki)
        #expect(Self.failure { try validator.validate(credential, signatureKey: signatureKey) } == nil)
        #expect(Self.failure { try validator.validate(credential, signatureKey: Array(signatureKey.dropLast())) } == .signatureKeyMismatch)
    }

    /// A certificate may carry its EC point compressed (RFC 5480 §2.2); the MLS signature key is
    /// the uncompressed point (RFC 9420 §5.1.2) of the same key, so it matches.
    @Test func compressedP256CertificateKeyMatchesUncompressedSignatureKey() throws {
        let pki = try PKI()
        let leafKey = try Key.p256()
        let signatureKey = try leafKey.mlsPublicKey
        guard EVP_PKEY_set_utf8_string_param(leafKey.pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed") == 1 else {
            Issue.record("cannot switch the point format")
            return
        }
        // 91 bytes of SubjectPublicKeyInfo with the 65-byte point, 59 with the 33-byte one.
        #expect(i2d_PUBKEY(leafKey.pkey, nil) == 59)
        // The same point in compressed form (SEC1 §2.3.3): 0x02 or 0x03 by the parity of Y, then X.
        let compressed = [0x02 | (signatureKey[64] & 1)] + signatureKey[1...32]
        let credential = Credential.x509(certificates: [try pki.leaf(leafKey), pki.intermediate])
        let validator = try Self.validator(pki)
        #expect(Self.failure { try validator.validate(credential, signatureKey: signatureKey) } == nil)
        #expect(Self.failure { try validator.validate(credential, signatureKey: compressed) } == .signatureKeyMismatch)
    }

    /// With no verification time the validator uses the current time.
    @Test func currentTimeIsTheDefault() throws {
        let now = Int64(Date().timeIntervalSince1970)
        let pki = try PKI(notBefore: now - 3600, notAfter: now + 3600)
        let leafKey = try Key.ed25519()
        let credential = Credential.x509(certificates: [try pki.leaf(leafKey, notBefore: now - 3600, notAfter: now + 3600), pki.intermediate])
        let signatureKey = try leafKey.mlsPublicKey
        let validator = try Self.validator(pki, time: nil)
        #expect(validator.verificationTime == nil)
        #expect(Self.failure { try validator.validate(credential, signatureKey: signatureKey) } == nil)
        // The same certificates checked a day later have expired.
        let later = try Self.validator(pki, time: UInt64(now + 86_400))
        #expect(Self.failure { try later.validate(credential, signatureKey: signatureKey) } == .expired)
    }

    /// RFC 9420 §5.3: a chain MAY omit non-leaf certificates peers already have.
    @Test func omittedIntermediateIsFoundAmongConfiguredIntermediates() throws {
        let pki = try PKI()
        let leafKey = try Key.ed25519()
        let credential = Credential.x509(certificates: [try pki.leaf(leafKey)])
        let signatureKey = try leafKey.mlsPublicKey
        let bare = try Self.validator(pki)
        guard case .untrusted = Self.failure({ try bare.validate(credential, signatureKey: signatureKey) }) else {
            Issue.record("a leaf without its intermediate must not verify")
            return
        }
        let configured = try Self.validator(pki, intermediates: [pki.intermediate])
        #expect(Self.failure { try configured.validate(credential, signatureKey: signatureKey) } == nil)
    }

    @Test func leafWithoutKeyUsageIsAccepted() throws {
        let pki = try PKI()
        let leafKey = try Key.ed25519()
        let credential = Credential.x509(certificates: [try pki.leaf(leafKey, keyUsage: nil), pki.intermediate])
        let signatureKey = try leafKey.mlsPublicKey
        #expect(Self.failure { try Self.validator(pki).validate(credential, signatureKey: signatureKey) } == nil)
    }

    @Test func basicCredentialIsAcceptedOnlyWhenEnabled() throws {
        let pki = try PKI()
        let basic = Credential.basic(identity: Array("alice".utf8))
        let strict = try Self.validator(pki)
        #expect(Self.failure { try strict.validate(basic, signatureKey: [1, 2, 3]) } == .unsupportedType(.basic))
        #expect(!strict.isValid(basic, signatureKey: [1, 2, 3]))
        let lenient = try Self.validator(pki, basic: true)
        #expect(lenient.isValid(basic, signatureKey: [1, 2, 3]))
    }

    // MARK: Refused chains

    @Test func leafUnderUntrustedRootIsRefused() throws {
        let trusted = try PKI(name: "Trusted")
        let rogue = try PKI(name: "Rogue")
        let leafKey = try Key.ed25519()
        let leaf = try Self.certificate(subject: "alice@example.com", issuer: "Rogue Intermediate", key: leafKey,
                                   signer: rogue.intermediateKey, serial: 3, isCA: false, keyUsage: Self.keyUsageDigitalSignature)
        let signatureKey = try leafKey.mlsPublicKey
        let validator = try Self.validator(trusted)
        // With and without the rogue intermediate and even its root in the credential.
        for chain in [[leaf], [leaf, rogue.intermediate], [leaf, rogue.intermediate, rogue.root]] {
            let error = Self.failure { try validator.validate(.x509(certificates: chain), signatureKey: signatureKey) }
            guard case .untrusted = error else {
                Issue.record("expected untrusted, got \(String(describing: error))")
                continue
            }
        }
        #expect(!validator.isValid(.x509(certificates: [leaf, rogue.intermediate]), signatureKey: signatureKey))
    }

    /// A leaf naming the trusted intermediate as issuer but signed by another key.
    @Test func forgedLeafIsRefused() throws {
        let pki = try PKI()
        let leafKey = try Key.ed25519()
        let forger = try Key.ed25519()
        let leaf = try Self.certificate(subject: "alice@example.com", issuer: "Test Intermediate", key: leafKey, signer: forger,
                                   serial: 3, isCA: false, keyUsage: Self.keyUsageDigitalSignature)
        let signatureKey = try leafKey.mlsPublicKey
        let error = Self.failure { try Self.validator(pki).validate(.x509(certificates: [leaf, pki.intermediate]), signatureKey: signatureKey) }
        guard case .untrusted = error else {
            Issue.record("expected untrusted, got \(String(describing: error))")
            return
        }
    }

    @Test func expiredAndNotYetValidLeavesAreRefused() throws {
        let pki = try PKI()
        let leafKey = try Key.ed25519()
        let leaf = try pki.leaf(leafKey, notBefore: 1_710_000_000, notAfter: 1_720_000_000)
        let credential = Credential.x509(certificates: [leaf, pki.intermediate])
        let signatureKey = try leafKey.mlsPublicKey
        #expect(Self.failure { try Self.validator(pki, time: 1_715_000_000).validate(credential, signatureKey: signatureKey) } == nil)
        #expect(Self.failure { try Self.validator(pki, time: 1_750_000_000).validate(credential, signatureKey: signatureKey) } == .expired)
        #expect(Self.failure { try Self.validator(pki, time: 1_705_000_000).validate(credential, signatureKey: signatureKey) } == .notYetValid)
        #expect(!(try Self.validator(pki, time: 1_750_000_000).isValid(credential, signatureKey: signatureKey)))
    }

    @Test func keyEnciphermentOnlyLeafIsRefused() throws {
        let pki = try PKI()
        let leafKey = try Key.ed25519()
        let credential = Credential.x509(certificates: [try pki.leaf(leafKey, keyUsage: Self.keyUsageKeyEncipherment), pki.intermediate])
        let validator = try Self.validator(pki)
        let signatureKey = try leafKey.mlsPublicKey
        #expect(Self.failure { try validator.validate(credential, signatureKey: signatureKey) } == .keyUsageForbidsSigning)
        #expect(!validator.isValid(credential, signatureKey: signatureKey))
    }

    @Test func mismatchedSignatureKeyIsRefused() throws {
        let pki = try PKI()
        let leafKey = try Key.ed25519()
        let credential = Credential.x509(certificates: [try pki.leaf(leafKey), pki.intermediate])
        let validator = try Self.validator(pki)
        let otherKey = try Key.ed25519().mlsPublicKey
        #expect(Self.failure { try validator.validate(credential, signatureKey: otherKey) } == .signatureKeyMismatch)
        #expect(Self.failure { try validator.validate(credential, signatureKey: []) } == .signatureKeyMismatch)
        #expect(!validator.isValid(credential, signatureKey: otherKey))
        // A P-256 certificate does not match an Ed25519 signature key either.
        let p256Key = try Key.p256()
        let p256Credential = Credential.x509(certificates: [try pki.leaf(p256Key), pki.intermediate])
        #expect(Self.failure { try validator.validate(p256Credential, signatureKey: otherKey) } == .signatureKeyMismatch)
    }

    /// secp256k1 is a curve no RFC 9420 suite signs with.
    @Test func unsupportedCurveIsRefused() throws {
        let pki = try PKI()
        let leafKey = try Key.generate("EC", group: "secp256k1")
        let credential = Credential.x509(certificates: [try pki.leaf(leafKey), pki.intermediate])
        let signatureKey = try leafKey.mlsPublicKey
        #expect(Self.failure { try Self.validator(pki).validate(credential, signatureKey: signatureKey) } == .unsupportedKeyType)
    }

    @Test func emptyChainIsRefused() throws {
        let validator = try Self.validator(try PKI())
        // The throwing variant has a typed error: no cast needed.
        do throws(CredentialRejection) {
            try validator.validate(.x509(certificates: []), signatureKey: [1])
            Issue.record("an empty chain must be refused")
        } catch {
            #expect(error == .emptyChain)
            #expect(error.description == "X.509 credential has no certificates")
        }
    }

    @Test func malformedCertificatesAreRefused() throws {
        let pki = try PKI()
        let leafKey = try Key.ed25519()
        let leaf = try pki.leaf(leafKey)
        let signatureKey = try leafKey.mlsPublicKey
        let validator = try Self.validator(pki)
        func check(_ chain: [[UInt8]], _ expected: CredentialRejection, _ comment: Comment) {
            #expect(Self.failure { try validator.validate(.x509(certificates: chain), signatureKey: signatureKey) } == expected, comment)
            #expect(!validator.isValid(.x509(certificates: chain), signatureKey: signatureKey), comment)
        }
        check([[0xDE, 0xAD, 0xBE, 0xEF], pki.intermediate], .malformedCertificate(index: 0), "garbage")
        check([[], pki.intermediate], .malformedCertificate(index: 0), "empty certificate")
        check([leaf + [0x00], pki.intermediate], .malformedCertificate(index: 0), "trailing byte")
        check([leaf, pki.intermediate + [0x30, 0x00]], .malformedCertificate(index: 1), "trailing object in intermediate")
        check([Array(leaf.dropLast()), pki.intermediate], .malformedCertificate(index: 0), "truncated")
        check([leaf, pki.intermediate, [0x30, 0x03, 0x02, 0x01, 0x01]], .malformedCertificate(index: 2), "non-certificate SEQUENCE")

        // BER but not DER: the outer SEQUENCE length with a superfluous leading zero octet.
        // (The certificate is over 127 bytes, so its length already has the long form 0x8n.)
        #expect(leaf[0] == 0x30 && leaf[1] & 0x80 != 0)
        let nonMinimal: [UInt8] = [0x30, leaf[1] + 1, 0x00] + leaf[2...]
        check([nonMinimal, pki.intermediate], .malformedCertificate(index: 0), "non-minimal length")

        // Every truncation of a valid certificate is refused without trapping.
        for length in stride(from: 0, to: leaf.count, by: 7) {
            #expect(!validator.isValid(.x509(certificates: [Array(leaf.prefix(length))]), signatureKey: signatureKey))
        }
    }

    @Test func malformedConfigurationIsReported() throws {
        let pki = try PKI()
        #expect(Self.failure { _ = try X509IdentityProvider(trustAnchors: [pki.root, [0x30, 0x00]]) } == .malformedTrustAnchor(index: 1))
        #expect(Self.failure { _ = try X509IdentityProvider(trustAnchors: [pki.root], intermediates: [[1]]) } == .malformedIntermediate(index: 0))
    }

    /// An anchor that is not self-signed only terminates a chain with `allowsPartialChains`.
    @Test func intermediateAsAnchorNeedsPartialChains() throws {
        let pki = try PKI()
        let leafKey = try Key.ed25519()
        let credential = Credential.x509(certificates: [try pki.leaf(leafKey)])
        let signatureKey = try leafKey.mlsPublicKey
        let strict = try X509IdentityProvider(trustAnchors: [pki.intermediate], verificationTime: Self.checkTime)
        #expect(!strict.isValid(credential, signatureKey: signatureKey))
        let partial = try X509IdentityProvider(trustAnchors: [pki.intermediate], verificationTime: Self.checkTime, allowsPartialChains: true)
        #expect(Self.failure { try partial.validate(credential, signatureKey: signatureKey) } == nil)
    }

    // MARK: Integration with LeafNode validation (RFC 9420 §7.3)

    @Test func leafNodeValidatorUsesTheX509Policy() throws {
        let suite = CipherSuite.mls128X25519AES128GCMSHA256Ed25519
        let pki = try PKI()
        let leafKey = try Key.ed25519()
        let signatureKey = try leafKey.mlsPublicKey
        let privateKey = try leafKey.rawPrivateKey
        // The OpenSSL key and the MLS signature scheme agree on the encodings (§5.1.2).
        #expect(try suite.signature.publicKey(for: privateKey) == signatureKey)

        let capabilities = Capabilities(versions: [.mls10], cipherSuites: [suite.id], extensions: [], proposals: [],
                                        credentials: [.basic, .x509])
        var leaf = LeafNode(encryptionKey: [UInt8](repeating: 7, count: 32), signatureKey: signatureKey,
                            credential: .x509(certificates: [try pki.leaf(leafKey), pki.intermediate]),
                            capabilities: capabilities,
                            leafNodeSource: .keyPackage(Lifetime(notBefore: 0, notAfter: UInt64.max)),
                            extensions: [], signature: [])
        try leaf.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: privateKey))
        let context = GroupContext(cipherSuite: suite.id, groupID: [1, 2, 3], epoch: 0, treeHash: [UInt8](repeating: 0, count: 32),
                                   confirmedTranscriptHash: [UInt8](repeating: 0, count: 32), extensions: [])

        let x509 = LeafNodeValidator(suite: suite, groupContext: context, identity: try Self.validator(pki))
        #expect(x509.checkContent(leaf, expectedSource: .keyPackage) == nil)
        #expect(x509.verifySignature(leaf, at: LeafIndex(0)))

        let defaultPolicy = LeafNodeValidator(suite: suite, groupContext: context)
        #expect(defaultPolicy.checkContent(leaf, expectedSource: .keyPackage) == .invalidCredential(.unsupportedType(.x509)))

        // The same leaf claiming someone else's key is refused by the X.509 policy.
        var impostor = leaf
        impostor.signatureKey = try Key.ed25519().mlsPublicKey
        #expect(x509.checkContent(impostor, expectedSource: .keyPackage) == .invalidCredential(.signatureKeyMismatch))
    }
}

extension X509IdentityProvider {
    /// Whether the provider accepts `credential` now: the tests' shorthand for "validate does not throw".
    func isValid(_ credential: Credential, signatureKey: [UInt8]) -> Bool {
        (try? validate(credential, signatureKey: signatureKey, at: nil)) != nil
    }
}
