@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// Why a LeafNode is not valid for a group (RFC 9420 §7.3).
public enum LeafNodeValidationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The credential was refused by the application's identity provider (§5.3.1).
    case invalidCredential(CredentialRejection)
    /// The signature over LeafNodeTBS does not verify (§7.3).
    case invalidSignature
    /// The capabilities lack something the group's `required_capabilities` demands (§11.1).
    case missingRequiredCapability(String)
    /// The leaf's credential type is not in its own capabilities (§7.2).
    case credentialTypeNotInCapabilities
    /// A non-default extension in the leaf is not in its capabilities (§7.2, §7.3).
    case extensionNotInCapabilities(ExtensionType)
    /// Credential types in use are not supported by every member (§7.3).
    case credentialTypeNotSupportedByGroup
    /// An extension list names one type twice (§13.4).
    case repeatedExtensionType
    /// The current time is outside the leaf's lifetime (§7.3).
    case lifetimeInvalid
    /// A KeyPackage's leaf does not have `leaf_node_source` `key_package` (§7.3, §10.1).
    case expectedKeyPackageSource
    /// An Update's leaf does not have `leaf_node_source` `update` (§7.3, §12.1.2).
    case expectedUpdateSource
    /// An UpdatePath's leaf does not have `leaf_node_source` `commit` (§7.3, §12.4.2).
    case expectedCommitSource
    /// The signature key is already used by another member (§7.3).
    case duplicateSignatureKey
    /// The encryption key is already used in the tree (§7.3).
    case duplicateEncryptionKey
    /// An Update or commit leaf must change the encryption key (§7.3).
    case encryptionKeyUnchanged
    /// The new credential is not a valid successor of the member's old one (§5.3.1).
    case invalidSuccessorCredential
    /// A list in the leaf is longer than the configured ``MLSLimits`` allow.
    case limitExceeded(MLSLimit)

    public var description: String {
        switch self {
        case let .invalidCredential(r): "credential refused: \(r)"
        case .invalidSignature: "signature does not verify"
        case let .missingRequiredCapability(what): "capabilities lack required \(what)"
        case .credentialTypeNotInCapabilities: "credential type is not in the leaf's capabilities"
        case let .extensionNotInCapabilities(t): "extension \(t) is not in the leaf's capabilities"
        case .credentialTypeNotSupportedByGroup: "credential types are not supported by every member"
        case .repeatedExtensionType: "an extension type appears twice"
        case .lifetimeInvalid: "outside the leaf's lifetime"
        case .expectedKeyPackageSource: "leaf_node_source must be key_package"
        case .expectedUpdateSource: "leaf_node_source must be update"
        case .expectedCommitSource: "leaf_node_source must be commit"
        case .duplicateSignatureKey: "signature key already in use"
        case .duplicateEncryptionKey: "encryption key already in use"
        case .encryptionKeyUnchanged: "encryption key must change"
        case .invalidSuccessorCredential: "credential is not a valid successor of the member's old one"
        case let .limitExceeded(l): "exceeds the \(l) limit"
        }
    }
}

/// Why a credential was refused (RFC 9420 §5.3.1), with the detail of the check that failed.
///
/// The X.509 cases are those of ``X509IdentityProvider``, one per check of RFC 9420 §5.3 and
/// §5.3.1, so an audit log can say which check refused a clerk's or a citizen's certificate.
public enum CredentialRejection: Error, Equatable, Sendable, CustomStringConvertible {
    /// The identity provider does not accept credentials of this type (for example X.509
    /// without trust anchors, or basic credentials where only X.509 is trusted).
    case unsupportedType(CredentialType)
    /// The application's provider refused the credential for a reason of its own.
    case refused(RuleViolation)

    // The X.509 checks of ``X509IdentityProvider``, in the order it makes them.

    /// The `certificates` list is empty: RFC 9420 §5.3 requires `certificates[0]`, the
    /// end-entity certificate.
    case emptyChain
    /// `certificates[index]` is not exactly one DER-encoded X.509 certificate (RFC 9420 §5.3),
    /// or its keyUsage extension cannot be decoded.
    case malformedCertificate(index: Int)
    /// The chain does not verify to a trust anchor of the Authentication Service (§5.3.1); the
    /// string is OpenSSL's reason and the depth (0 = end entity) at which it failed.
    case untrusted(String)
    /// A certificate in the chain is past its `notAfter` at the verification time (§5.3.2).
    case expired
    /// A certificate in the chain is before its `notBefore` at the verification time (§5.3.2).
    case notYetValid
    /// The end-entity certificate has a keyUsage extension without digitalSignature, so it does
    /// not authorize the key to sign MLS objects (RFC 9420 §5.3, RFC 5280 §4.2.1.3).
    case keyUsageForbidsSigning
    /// The end-entity public key is not one an RFC 9420 suite signs with: Ed25519, Ed448 or ECDSA
    /// on P-256, P-384 or P-521 (§5.1.2, §17.1).
    case unsupportedKeyType
    /// The end-entity public key differs from the LeafNode's `signature_key`; RFC 9420 §5.3 says
    /// they MUST be identical.
    case signatureKeyMismatch
    /// `trustAnchors[index]` given to the validator is not a DER certificate: the Authentication
    /// Service's roots (RFC 9420 §5.3.1) are misconfigured.
    case malformedTrustAnchor(index: Int)
    /// `intermediates[index]` given to the validator is not a DER certificate: the non-leaf
    /// certificates peers are assumed to possess (RFC 9420 §5.3) are misconfigured.
    case malformedIntermediate(index: Int)
    /// OpenSSL failed for a reason unrelated to the credential (allocation); the call is named.
    /// The credential is refused all the same: RFC 9420 §5.3.1 admits only validated credentials.
    case backendFailure(String)

    public var description: String {
        switch self {
        case let .unsupportedType(t): "credential type \(t.rawValue) is not accepted"
        case let .refused(v): "\(v)"
        case .emptyChain: "X.509 credential has no certificates"
        case let .malformedCertificate(index): "certificate \(index) is not a well-formed DER certificate"
        case let .untrusted(reason): "certificate chain is not trusted: \(reason)"
        case .expired: "a certificate in the chain has expired"
        case .notYetValid: "a certificate in the chain is not yet valid"
        case .keyUsageForbidsSigning: "end-entity key usage does not include digitalSignature"
        case .unsupportedKeyType: "end-entity public key type is not usable by an MLS cipher suite"
        case .signatureKeyMismatch: "end-entity public key differs from the signature key"
        case let .malformedTrustAnchor(index): "trust anchor \(index) is not a DER certificate"
        case let .malformedIntermediate(index): "configured intermediate \(index) is not a DER certificate"
        case let .backendFailure(call): "OpenSSL failure in \(call)"
        }
    }
}

/// The application's Authentication Service (RFC 9420 §5.3.1), injected into the group: it
/// validates credentials at a given time, maps them to stable identities, and decides which
/// credential may succeed which.
public protocol IdentityProvider: Sendable {
    /// Validates `credential` for `signatureKey` at `time` (Unix seconds; `nil` for now), throwing
    /// the reason it is refused.
    func validate(_ credential: Credential, signatureKey: [UInt8], at time: UInt64?) throws(CredentialRejection)

    /// Whether `new` may replace `old` as the credential of the same member (§5.3.1: "the new
    /// credential is a valid successor of the old credential"). Asked for Update proposals, for
    /// the leaf of a commit's UpdatePath, and for an external commit that removes a leaf (the
    /// joiner must be the removed member coming back, §12.4.3.2). The default demands the same
    /// identity: equal basic identities, or X.509 end-entity certificates with the same subject.
    func validSuccessor(old: Credential, new: Credential) -> Bool

    /// The stable identity a valid credential names, for rosters, audit trails and rules
    /// (``Member/identity``). The default: a basic credential's `identity`, or the DER subject of
    /// an X.509 end-entity certificate (empty if it does not parse).
    func identity(of credential: Credential) -> [UInt8]
}

extension IdentityProvider {
    /// The default successor rule: the same identity (see ``IdentityProvider/validSuccessor(old:new:)``).
    public func validSuccessor(old: Credential, new: Credential) -> Bool {
        switch (old, new) {
        case let (.basic(a), .basic(b)): a == b
        case let (.x509(a), .x509(b)): !a.isEmpty && !b.isEmpty && X509Support.sameSubject(a[0], b[0])
        default: false
        }
    }

    /// The default identity (see ``IdentityProvider/identity(of:)``).
    public func identity(of credential: Credential) -> [UInt8] {
        switch credential {
        case let .basic(identity): identity
        case let .x509(chain): chain.first.flatMap(X509Support.subjectDER) ?? []
        }
    }
}

/// The default provider: basic credentials are accepted (their identity is the application's to
/// check); X.509 credentials are refused until a provider with trust anchors
/// (``X509IdentityProvider``) is configured, because accepting an unverified certificate would be
/// the unsafe default.
public struct BasicIdentityProvider: IdentityProvider {
    /// Creates the default provider.
    public init() {}
    /// Accepts basic credentials only (§5.3.1: X.509 needs trust anchors to be validated).
    public func validate(_ credential: Credential, signatureKey: [UInt8], at time: UInt64?) throws(CredentialRejection) {
        guard case .basic = credential else { throw .unsupportedType(credential.credentialType) }
    }
}

/// The checks of RFC 9420 §7.3 for LeafNodes arriving in a group with a given GroupContext.
@_spi(Engine) public struct LeafNodeValidator: Sendable {
    /// The group's cipher suite.
    public var suite: CipherSuite
    /// The group's context (group ID for signatures, `required_capabilities`).
    public var groupContext: GroupContext
    /// The application's credential policy.
    public var identity: any IdentityProvider
    /// When set, leaves with a `key_package` source must be valid at this Unix time (§7.3 makes
    /// this a MUST for leaves a client sends and RECOMMENDED for leaves it receives).
    public var currentTime: UInt64?
    /// Bounds on the lists of a leaf, checked before anything else.
    public var limits: MLSLimits
    /// What every leaf must support, decoded once from `groupContext`: the group's non-default
    /// extensions and its `required_capabilities` (§11.1, §13.4).
    private let groupNeeds: (extensions: [ExtensionType], proposals: [ProposalType], credentials: [CredentialType])

    /// Creates a validator.
    public init(suite: CipherSuite, groupContext: GroupContext, identity: any IdentityProvider = BasicIdentityProvider(),
                currentTime: UInt64? = nil, limits: MLSLimits = MLSLimits()) {
        self.suite = suite
        self.groupContext = groupContext
        self.identity = identity
        self.currentTime = currentTime
        self.limits = limits
        var needs: (extensions: [ExtensionType], proposals: [ProposalType], credentials: [CredentialType]) = ([], [], [])
        needs.extensions = groupContext.extensions.map(\.extensionType).filter { !$0.isDefault }
        if let required = try? groupContext.extensions.requiredCapabilities {
            needs.extensions += required.extensionTypes.filter { !$0.isDefault }
            needs.proposals = required.proposalTypes.filter { !$0.isDefault }
            needs.credentials = required.credentialTypes
        }
        groupNeeds = needs
    }

    /// The per-leaf checks that need neither the rest of the tree nor a signature verification:
    /// credential, capabilities against the group, own extensions and credential type, lifetime
    /// and source.
    public func checkContent(_ leaf: LeafNode, expectedSource: LeafNodeSourceType?) -> LeafNodeValidationError? {
        if let expectedSource, leaf.leafNodeSource.sourceType != expectedSource {
            switch expectedSource {
            case .keyPackage: return .expectedKeyPackageSource
            case .update: return .expectedUpdateSource
            case .commit: return .expectedCommitSource
            }
        }
        let caps = leaf.capabilities
        // Sizes first, before any list is scanned or any certificate parsed.
        let capLimit = limits.maxCapabilityEntries
        guard caps.versions.count <= capLimit, caps.cipherSuites.count <= capLimit, caps.extensions.count <= capLimit,
              caps.proposals.count <= capLimit, caps.credentials.count <= capLimit else { return .limitExceeded(.capabilityEntries) }
        guard leaf.extensions.count <= limits.maxExtensions else { return .limitExceeded(.extensions) }
        if case let .x509(chain) = leaf.credential, chain.count > limits.maxCertificates { return .limitExceeded(.certificates) }
        do { try identity.validate(leaf.credential, signatureKey: leaf.signatureKey, at: currentTime) } catch { return .invalidCredential(error) }
        // Sets, so every check below is linear in the lists' lengths.
        let supported = Set(caps.extensions.map(\.rawValue))
        // §7.3 does not require the capabilities to list the group's cipher suite or version
        // (§10.1 checks a KeyPackage's own suite and version instead), and peers omit them: the
        // official suite-7 TreeKEM vectors do. Refusing them would break interoperability.
        guard caps.credentials.contains(leaf.credential.credentialType) else { return .credentialTypeNotInCapabilities }
        guard !leaf.extensions.hasRepeatedTypes else { return .repeatedExtensionType }
        for ext in leaf.extensions where !ext.extensionType.isDefault && !supported.contains(ext.extensionType.rawValue) {
            return .extensionNotInCapabilities(ext.extensionType)
        }
        // §13.4: the capabilities must indicate support for each GroupContext extension, and
        // §11.1 for what `required_capabilities` names.
        if let t = groupNeeds.extensions.first(where: { !supported.contains($0.rawValue) }) {
            return .missingRequiredCapability(groupContext.extensions.contains { $0.extensionType == t } ? "group extension \(t)" : "extension \(t)")
        }
        if !groupNeeds.proposals.isEmpty {
            let proposals = Set(caps.proposals.map(\.rawValue))
            if let t = groupNeeds.proposals.first(where: { !proposals.contains($0.rawValue) }) { return .missingRequiredCapability("proposal \(t.rawValue)") }
        }
        if !groupNeeds.credentials.isEmpty {
            let types = Set(caps.credentials.map(\.rawValue))
            if let t = groupNeeds.credentials.first(where: { !types.contains($0.rawValue) }) { return .missingRequiredCapability("credential \(t.rawValue)") }
        }
        if let now = currentTime, case let .keyPackage(lifetime) = leaf.leafNodeSource, !lifetime.contains(now) {
            return .lifetimeInvalid
        }
        return nil
    }

    /// Verifies the leaf's signature; `leafIndex` is the leaf's position for update and commit
    /// sources (§7.2).
    public func verifySignature(_ leaf: LeafNode, at leafIndex: LeafIndex) -> Bool {
        leaf.verifySignature(suite: suite, groupID: leaf.tbsNeedsGroupContext ? groupContext.groupID : nil,
                             leafIndex: leaf.tbsNeedsGroupContext ? leafIndex.rawValue : nil)
    }

    /// All checks for one leaf arriving at `leafIndex` of `tree` (an Update, a commit's
    /// UpdatePath leaf): content, signature, uniqueness of keys against the other members, and
    /// credential-type compatibility with the group.
    public func validate(_ leaf: LeafNode, at leafIndex: LeafIndex, in tree: RatchetTree, expectedSource: LeafNodeSourceType?) -> LeafNodeValidationError? {
        if let e = checkContent(leaf, expectedSource: expectedSource) { return e }
        if let owner = tree.leafIndex(signatureKey: leaf.signatureKey), owner != leafIndex { return .duplicateSignatureKey }
        if let owner = tree.nodeIndex(encryptionKey: leaf.encryptionKey), owner != leafIndex.nodeIndex { return .duplicateEncryptionKey }
        if expectedSource == .update || expectedSource == .commit, let old = tree.leaf(leafIndex) {
            if old.encryptionKey == leaf.encryptionKey { return .encryptionKeyUnchanged }
            // §5.3.1: a member replacing its leaf keeps its identity, as the application defines it.
            guard identity.validSuccessor(old: old.credential, new: leaf.credential) else { return .invalidSuccessorCredential }
        }
        guard tree.credentialTypesCompatible(adding: leaf, at: leafIndex) else { return .credentialTypeNotSupportedByGroup }
        guard verifySignature(leaf, at: leafIndex) else { return .invalidSignature }
        return nil
    }
}

extension RatchetTree {
    /// Whether every member supports every credential type in use (§7.3), optionally with the
    /// leaf at `position` replaced by (or, for a blank or new position, joined by) `extra`.
    /// O(number of credential types), from counts the tree maintains.
    public func credentialTypesCompatible(adding extra: LeafNode? = nil, at position: LeafIndex? = nil) -> Bool {
        var use = credentialUse, support = credentialSupport, members = memberCount
        if let position, let old = leaf(position) {
            members -= 1
            use[old.credential.credentialType, default: 0] -= 1
            for t in Set(old.capabilities.credentials) { support[t, default: 0] -= 1 }
        }
        if let extra {
            members += 1
            use[extra.credential.credentialType, default: 0] += 1
            for t in Set(extra.capabilities.credentials) { support[t, default: 0] += 1 }
        }
        return use.allSatisfy { type, count in count == 0 || support[type, default: 0] == members }
    }
}
