@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// Why a group operation was refused. Each case names the RFC 9420 check that failed; the
/// group is unchanged whenever one is thrown.
public enum GroupError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The member was removed from the group (or the group was reinitialized) and can no longer act in it.
    case inactive
    /// The message belongs to another group (§6).
    case wrongGroup
    /// The message's epoch is not one this member can process (§6, §12.4.2).
    case wrongEpoch(UInt64)
    /// The protocol version is not mls10 (§6).
    case unsupportedVersion
    /// The cipher suite is not the group's (§12.4.3.1, §10.1).
    case cipherSuiteMismatch
    /// The message's wire format cannot be processed here.
    case unexpectedWireFormat
    /// Framing failed (signature, membership tag, decryption, …), or the sender may not send
    /// this content (§6, §12.1.8).
    case framing(FramingError)
    /// A commit references a proposal that was not received in this epoch (§12.4).
    case unknownProposalReference
    /// A proposal, the KeyPackage of an Add, or the list of proposals a commit carries is
    /// invalid (§10.1, §12.1, §12.2).
    case invalidProposal(ProposalViolation)
    /// The commit must carry an UpdatePath (§12.4).
    case pathRequired
    /// A PSK named by the commit or Welcome is not available (§8.4, §12.4.2).
    case missingPSK
    /// The confirmation tag does not verify (§6.1, §8.2).
    case invalidConfirmationTag
    /// The application's ``GroupRules`` refused a proposal or a commit.
    case rejectedByRules(RuleViolation)
    /// Proposals were received in this epoch: a commit must come before application data (§12.4).
    case pendingProposals
    /// There is no pending commit to merge.
    case noPendingCommit
    /// The pending commit was not made from the group's current epoch: another commit was
    /// processed since, the member was removed, or it belongs to another group (§14). It can
    /// never be merged; drop it.
    case stalePendingCommit
    /// The ratchet tree or an UpdatePath is invalid, or TreeKEM failed (§7, §12.4.2, §12.4.3.1).
    case tree(TreeError)
    /// A LeafNode is invalid (§7.3).
    case leafNode(LeafNodeValidationError)
    /// The cipher suite is not one this library implements (§17.1).
    case unsupportedCipherSuite(UInt16)
    /// The Welcome has no `secrets` entry for this KeyPackage: it is for other joiners (§12.4.3.1).
    case welcomeNotForKeyPackage
    /// A Welcome's `encrypted_group_secrets` did not decrypt under the KeyPackage's init key
    /// (§12.4.3.1). Why HPKE failed is deliberately not said: the distinction helps only an attacker.
    case groupSecretsUndecryptable
    /// A Welcome's GroupSecrets do not decode strictly or break a rule of §12.4.3.1 (joiner secret
    /// not `KDF.Nh` bytes, more than one reinit or branch PSK).
    case malformedGroupSecrets(String)
    /// A Welcome's `encrypted_group_info` did not decrypt under the welcome key and nonce (§12.4.3.1).
    case groupInfoUndecryptable
    /// A GroupInfo does not decode strictly, or contradicts the Welcome's GroupSecrets (a reinit or
    /// branch PSK with an epoch other than 1) (§12.4.3, §12.4.3.1).
    case malformedGroupInfo(String)
    /// A GroupInfo's signature does not verify under its signer's key (§12.4.3, §12.4.3.1).
    case invalidGroupInfoSignature
    /// The Welcome's ratchet tree was neither in the `ratchet_tree` extension nor supplied.
    case missingRatchetTree
    /// Our own leaf was not found in the joined tree (§12.4.3.1).
    case ownLeafNotFound
    /// The GroupInfo lacks what an external join needs (`external_pub`) (§12.4.3.2).
    case missingExternalPub
    /// The group has committed a ReInit and only reinitialization may follow (§11.2).
    case reinitPending
    /// A cryptographic primitive failed on our own inputs.
    case crypto(CryptoError)
    /// Malformed bytes.
    case decoding(TLSDecodingError)
    /// An extension's data does not decode as its type says (§13).
    case malformedExtension(ExtensionType, TLSDecodingError)
    /// A value this member built does not fit RFC 9420's encoding (a vector beyond 2^30 − 1 bytes).
    case encoding(TLSEncodingError)
    /// Restoring persisted state failed.
    case state(GroupStateError)
    /// This epoch already caches ``GroupConfiguration/maxCachedProposals`` proposals; commit
    /// them before more are accepted.
    case proposalCacheFull
    /// An input exceeds one of the configured ``MLSLimits`` (checked before it is processed).
    case limitExceeded(MLSLimit)
    /// The epoch counter cannot advance: a GroupContext at epoch 2^64 − 1 has no next epoch
    /// (§8.1), so such a group is refused on join and can take no commit.
    case epochExhausted
    /// A lower layer threw an error type this library does not map: a bug in MLSKit, named by
    /// the type so it can be reported.
    case internalError(String)

    public var description: String {
        switch self {
        case .inactive: "this member is no longer in the group"
        case .wrongGroup: "message is for another group"
        case let .wrongEpoch(e): "epoch \(e) cannot be processed"
        case .unsupportedVersion: "unsupported protocol version"
        case .cipherSuiteMismatch: "cipher suite mismatch"
        case .unexpectedWireFormat: "unexpected wire format"
        case let .framing(e): "framing: \(e)"
        case .unknownProposalReference: "commit references an unknown proposal"
        case let .invalidProposal(d): "invalid proposal: \(d)"
        case .pathRequired: "commit requires an UpdatePath"
        case .missingPSK: "PSK not available"
        case .invalidConfirmationTag: "confirmation tag does not verify"
        case let .rejectedByRules(v): "rejected by the application's rules: \(v)"
        case .pendingProposals: "proposals are pending: commit before sending application data"
        case .noPendingCommit: "no pending commit"
        case .stalePendingCommit: "the pending commit is not for the group's current epoch"
        case let .tree(e): "ratchet tree: \(e)"
        case let .leafNode(e): "LeafNode: \(e)"
        case let .unsupportedCipherSuite(s): "cipher suite 0x\(String(s, radix: 16)) is not implemented"
        case .welcomeNotForKeyPackage: "the Welcome has no secrets for this KeyPackage"
        case .groupSecretsUndecryptable: "the Welcome's group secrets did not decrypt"
        case let .malformedGroupSecrets(d): "the Welcome's group secrets are malformed: \(d)"
        case .groupInfoUndecryptable: "the Welcome's GroupInfo did not decrypt"
        case let .malformedGroupInfo(d): "the GroupInfo is malformed: \(d)"
        case .invalidGroupInfoSignature: "the GroupInfo signature does not verify"
        case .missingRatchetTree: "no ratchet tree for the Welcome"
        case .ownLeafNotFound: "own leaf not in the tree"
        case .missingExternalPub: "GroupInfo has no external_pub"
        case .reinitPending: "a ReInit was committed"
        case let .crypto(e): "crypto: \(e)"
        case let .decoding(d): "malformed input: \(d)"
        case let .malformedExtension(t, d): "malformed \(t) extension: \(d)"
        case let .encoding(e): "cannot encode: \(e)"
        case let .state(e): "\(e)"
        case .proposalCacheFull: "too many proposals are pending in this epoch"
        case let .limitExceeded(l): "input exceeds the \(l) limit"
        case .epochExhausted: "the epoch counter is at its maximum"
        case let .internalError(t): "internal error (unmapped \(t))"
        }
    }

    /// A broken rule of a commit's proposal list (§12.2): a ``ProposalViolation``, spelled apart
    /// at the throw sites so that the list checks read as such.
    static func invalidProposalList(_ violation: ProposalViolation) -> GroupError {
        .invalidProposal(violation)
    }

    /// An invalid KeyPackage (§10.1), which only ever arrives in an Add: the KeyPackage checks
    /// are engine SPI, and the application sees which of them failed as a ``ProposalViolation``.
    static func keyPackage(_ error: KeyPackageValidationError) -> GroupError {
        switch error {
        case .cipherSuiteMismatch: .invalidProposal(.keyPackageCipherSuiteMismatch)
        case .versionMismatch: .invalidProposal(.keyPackageVersionMismatch)
        case .invalidSignature: .invalidProposal(.keyPackageInvalidSignature)
        case .initKeyEqualsEncryptionKey: .invalidProposal(.keyPackageInitKeyIsEncryptionKey)
        case let .invalidLeafNode(e): .invalidProposal(.keyPackageLeafNode(e))
        }
    }

    /// Runs `body`, mapping what it throws to the group's typed errors: the public API throws
    /// only ``GroupError``.
    static func catching<T>(_ body: () throws -> T) throws(GroupError) -> T {
        do { return try body() } catch { throw wrap(error) }
    }

    /// An extension's data failed to decode.
    static func malformed(_ type: ExtensionType, _ error: any Error) -> GroupError {
        if let e = error as? TLSDecodingError { return .malformedExtension(type, e) }
        return wrap(error)
    }

    /// A Welcome that could not be opened (§12.4.3.1), as the group's reason: the engine's
    /// `WelcomeError` is SPI, and four of its cases are the group's own.
    static func welcome(_ error: WelcomeError) -> GroupError {
        switch error {
        case let .unsupportedCipherSuite(s): .unsupportedCipherSuite(s)
        case .cipherSuiteMismatch: .cipherSuiteMismatch
        case .noSecretsForKeyPackage: .welcomeNotForKeyPackage
        case .groupSecretsUndecryptable: .groupSecretsUndecryptable
        case let .malformedGroupSecrets(d): .malformedGroupSecrets(d)
        case .missingPSK: .missingPSK
        case .groupInfoUndecryptable: .groupInfoUndecryptable
        case let .malformedGroupInfo(d): .malformedGroupInfo(d)
        case .invalidGroupInfoSignature: .invalidGroupInfoSignature
        case .invalidConfirmationTag: .invalidConfirmationTag
        case let .crypto(e): .crypto(e)
        }
    }

    /// Maps errors from lower layers to the group's typed errors.
    static func wrap(_ error: any Error) -> GroupError {
        switch error {
        case let e as GroupError: e
        case let e as FramingError: .framing(e)
        case let e as TreeError: .tree(e)
        case let e as WelcomeError: .welcome(e)
        case let e as CryptoError: .crypto(e)
        case let e as KeyPackageValidationError: .keyPackage(e)
        case let e as LeafNodeValidationError: .leafNode(e)
        case let e as SecretTreeError: .framing(.keyUnavailable(e))
        case let e as TLSDecodingError: .decoding(e)
        case let e as TLSEncodingError: .encoding(e)
        case let e as GroupStateError: .state(e)
        case let e as CredentialRejection: .leafNode(.invalidCredential(e))
        default:
            // Every error type the layers below throw is listed above; an unknown one is a bug in
            // this library, reported as what it is rather than disguised as another error.
            .internalError(String(describing: type(of: error)))
        }
    }
}

/// Why a proposal, the KeyPackage of an Add, the list of proposals a commit carries, or a
/// reinitialization or branch built on a proposal is invalid (RFC 9420 §10.1, §11.2, §11.3,
/// §12.1, §12.2).
public enum ProposalViolation: Sendable, Equatable, CustomStringConvertible {
    // MARK: The proposal list of a commit (§12.2, §12.4.3.2)

    /// Two Updates or Removes name the same leaf.
    case leafUpdatedOrRemovedTwice(UInt32)
    /// More than one GroupContextExtensions.
    case multipleGroupContextExtensions
    /// More than one ExternalInit.
    case multipleExternalInits
    /// An external commit without ExternalInit (§12.4.3.2).
    case externalCommitWithoutExternalInit
    /// An external commit with proposals other than ExternalInit, one Remove and PSKs (§12.4.3.2).
    case externalCommitProposals
    /// The same PreSharedKeyID twice.
    case duplicatePSK
    /// An Update from the committer (it updates through its path).
    case updateFromCommitter
    /// An Update from a non-member.
    case updateFromNonMember
    /// A Remove of the committer.
    case removeOfCommitter
    /// A ReInit together with other proposals.
    case reinitWithOtherProposals
    /// An ExternalInit in a member's commit.
    case externalInitInRegularCommit
    /// An Add of a client already in the group (same signature key).
    case addOfExistingClient

    // MARK: The KeyPackage of an Add (§10.1, §12.1.1)

    /// The KeyPackage's cipher suite is not the group's.
    case keyPackageCipherSuiteMismatch
    /// The KeyPackage's protocol version is not the group's.
    case keyPackageVersionMismatch
    /// The signature over KeyPackageTBS does not verify.
    case keyPackageInvalidSignature
    /// The KeyPackage's `init_key` equals its leaf's `encryption_key`.
    case keyPackageInitKeyIsEncryptionKey
    /// The KeyPackage's leaf is not valid for a KeyPackage (§7.3), or its credential was refused.
    case keyPackageLeafNode(LeafNodeValidationError)

    // MARK: Single proposals, reinitialization and branching (§11.2, §11.3, §12.1)

    /// A Remove of a blank leaf (§12.1.3).
    case removeOfBlankLeaf(UInt32)
    /// A ReInit to an older protocol version (§12.1.5).
    case reinitToOlderVersion
    /// An extension list repeats a type (§13.4).
    case repeatedExtensionType
    /// ExternalInit outside an external commit (§12.1.6).
    case externalInitOutsideExternalCommit
    /// ExternalInit's `kem_output` does not decapsulate with the epoch's external key (§8.3).
    case externalInitUndecryptable
    /// A `psk_nonce` that is not KDF.Nh bytes (§8.4).
    case pskNonceLength
    /// A resumption PSK with usage `reinit` or `branch` outside reinitialization or branching (§8.6).
    case resumptionPSKUsage
    /// A member lacks the capabilities `required_capabilities` demands (§11.1, §12.1.7).
    case memberLacksRequiredCapabilities
    /// A member does not support an extension of the new GroupContext (§12.1.7).
    case memberLacksExtension(ExtensionType)
    /// An Update of this member's leaf that this member did not send (§12.1.2).
    case updateOfOwnLeafNotSent
    /// Reinitialization without a committed ReInit (§11.2).
    case noReInitCommitted
    /// The new group does not match the committed ReInit (§11.2).
    case reinitMismatch
    /// The Welcome of a reinitialized group lacks the old group's `reinit` resumption PSK (§11.2).
    case missingReInitPSK
    /// The Welcome of a branched group lacks the old group's `branch` resumption PSK (§11.3).
    case missingBranchPSK
    /// A reinitialized or branched group's Welcome is not for epoch 1 (§11.2, §11.3).
    case resumptionWelcomeEpoch
    /// A branch changes the version or cipher suite (§11.3).
    case branchChangesVersionOrSuite
    /// A branch includes someone who is not in the parent group (§11.3).
    case branchMemberNotInParent

    public var description: String {
        switch self {
        case let .leafUpdatedOrRemovedTwice(l): "two Updates/Removes for leaf \(l)"
        case .multipleGroupContextExtensions: "more than one GroupContextExtensions"
        case .multipleExternalInits: "more than one ExternalInit"
        case .externalCommitWithoutExternalInit: "external commit without ExternalInit"
        case .externalCommitProposals: "external commit with proposals other than ExternalInit, one Remove and PSKs"
        case .duplicatePSK: "duplicate PreSharedKeyID"
        case .updateFromCommitter: "Update from the committer"
        case .updateFromNonMember: "Update from a non-member"
        case .removeOfCommitter: "Remove of the committer"
        case .reinitWithOtherProposals: "ReInit with other proposals"
        case .externalInitInRegularCommit: "ExternalInit in a regular commit"
        case .addOfExistingClient: "Add of a client already in the group"
        case .keyPackageCipherSuiteMismatch: "KeyPackage cipher suite differs from the group's"
        case .keyPackageVersionMismatch: "KeyPackage protocol version differs from the group's"
        case .keyPackageInvalidSignature: "KeyPackage signature does not verify"
        case .keyPackageInitKeyIsEncryptionKey: "KeyPackage init_key equals the leaf's encryption_key"
        case let .keyPackageLeafNode(e): "KeyPackage leaf node invalid: \(e)"
        case let .removeOfBlankLeaf(l): "Remove of a blank leaf \(l)"
        case .reinitToOlderVersion: "ReInit to an older version"
        case .repeatedExtensionType: "an extension list repeats a type"
        case .externalInitOutsideExternalCommit: "ExternalInit outside an external commit"
        case .externalInitUndecryptable: "ExternalInit kem_output does not decapsulate"
        case .pskNonceLength: "psk_nonce is not KDF.Nh bytes"
        case .resumptionPSKUsage: "resumption PSK with usage reinit or branch"
        case .memberLacksRequiredCapabilities: "a member lacks the required capabilities"
        case let .memberLacksExtension(t): "a member does not support the extension \(t)"
        case .updateOfOwnLeafNotSent: "Update of our leaf we did not send"
        case .noReInitCommitted: "no ReInit was committed"
        case .reinitMismatch: "the new group does not match the ReInit"
        case .missingReInitPSK: "the Welcome does not carry this group's reinit resumption PSK"
        case .missingBranchPSK: "the Welcome does not carry this group's branch resumption PSK"
        case .resumptionWelcomeEpoch: "reinit/branch Welcome must be for epoch 1"
        case .branchChangesVersionOrSuite: "a branch must keep the version and cipher suite"
        case .branchMemberNotInParent: "a branch member is not in the parent group"
        }
    }
}
