import MLSCrypto

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
    /// Framing failed: signature, membership tag, decryption, … (§6).
    case framing(FramingError)
    /// The sender is not allowed to send this content (§6, §12.1.8).
    case invalidSender(String)
    /// A commit references a proposal that was not received in this epoch (§12.4).
    case unknownProposalReference
    /// The proposal list is invalid (§12.2); the string names the rule.
    case invalidProposalList(String)
    /// A single proposal is invalid (§12.1); the string names the rule.
    case invalidProposal(String)
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
    /// The ratchet tree is invalid (§7, §12.4.3.1).
    case tree(TreeError)
    /// TreeKEM failed (§7.5).
    case treeKEM(TreeKEMError)
    /// A KeyPackage is invalid (§10.1).
    case keyPackage(KeyPackageValidationError)
    /// A LeafNode is invalid (§7.3).
    case leafNode(LeafNodeValidationError)
    /// The Welcome could not be opened (§12.4.3.1).
    case welcome(WelcomeError)
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
    case decoding(String)
    /// This epoch already caches ``GroupConfiguration/maxCachedProposals`` proposals; commit
    /// them before more are accepted.
    case proposalCacheFull
    /// An input exceeds one of the configured ``MLSLimits`` (checked before it is processed).
    case limitExceeded(MLSLimit)
    /// The epoch counter cannot advance: a GroupContext at epoch 2^64 − 1 has no next epoch
    /// (§8.1), so such a group is refused on join and can take no commit.
    case epochExhausted

    public var description: String {
        switch self {
        case .inactive: "this member is no longer in the group"
        case .wrongGroup: "message is for another group"
        case let .wrongEpoch(e): "epoch \(e) cannot be processed"
        case .unsupportedVersion: "unsupported protocol version"
        case .cipherSuiteMismatch: "cipher suite mismatch"
        case .unexpectedWireFormat: "unexpected wire format"
        case let .framing(e): "framing: \(e)"
        case let .invalidSender(d): "invalid sender: \(d)"
        case .unknownProposalReference: "commit references an unknown proposal"
        case let .invalidProposalList(d): "invalid proposal list: \(d)"
        case let .invalidProposal(d): "invalid proposal: \(d)"
        case .pathRequired: "commit requires an UpdatePath"
        case .missingPSK: "PSK not available"
        case .invalidConfirmationTag: "confirmation tag does not verify"
        case let .rejectedByRules(v): "rejected by the application's rules: \(v)"
        case .pendingProposals: "proposals are pending: commit before sending application data"
        case .noPendingCommit: "no pending commit"
        case let .tree(e): "ratchet tree: \(e)"
        case let .treeKEM(e): "TreeKEM: \(e)"
        case let .keyPackage(e): "KeyPackage: \(e)"
        case let .leafNode(e): "LeafNode: \(e)"
        case let .welcome(e): "Welcome: \(e)"
        case .missingRatchetTree: "no ratchet tree for the Welcome"
        case .ownLeafNotFound: "own leaf not in the tree"
        case .missingExternalPub: "GroupInfo has no external_pub"
        case .reinitPending: "a ReInit was committed"
        case let .crypto(e): "crypto: \(e)"
        case let .decoding(d): "malformed input: \(d)"
        case .proposalCacheFull: "too many proposals are pending in this epoch"
        case let .limitExceeded(l): "input exceeds the \(l) limit"
        case .epochExhausted: "the epoch counter is at its maximum"
        }
    }

    /// Maps errors from lower layers to the group's typed errors.
    static func wrap(_ error: any Error) -> GroupError {
        switch error {
        case let e as GroupError: e
        case let e as FramingError: .framing(e)
        case let e as TreeError: .tree(e)
        case let e as TreeKEMError: .treeKEM(e)
        case let e as WelcomeError: .welcome(e)
        case let e as CryptoError: .crypto(e)
        case let e as KeyPackageValidationError: .keyPackage(e)
        case let e as LeafNodeValidationError: .leafNode(e)
        case let e as SecretTreeError: .framing(.keyUnavailable(e))
        default: .decoding("\(error)")
        }
    }
}
