@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// A proposal received (or sent) in the current epoch, kept until a commit uses or drops it.
struct CachedProposal: Sendable {
    /// `ProposalRef` of the AuthenticatedContent that carried it (§5.2).
    let ref: [UInt8]
    let proposal: Proposal
    let sender: Sender
    /// The proposal's encoded size, counted against ``GroupConfiguration/maxCachedProposalBytes``.
    let size: Int

    init(ref: [UInt8], proposal: Proposal, sender: Sender, size: Int? = nil) {
        self.ref = ref
        self.proposal = proposal
        self.sender = sender
        self.size = size ?? proposal.tlsSerialized.count
    }
}

/// The keys of a past epoch kept for late application messages (§9.2).
struct PastEpoch: Sendable {
    let context: GroupContext
    var secretTree: SecretTree
    let senderDataSecret: SecretBytes
    let tree: RatchetTree
}

/// An immutable box for a group state held inside another value (a pending commit's successor,
/// a staged message's result), so copying that value does not copy the state.
final class GroupBox: Sendable {
    let group: MLSGroup
    init(_ group: MLSGroup) { self.group = group }
}

/// A commit this member created and sent, not yet accepted by the delivery service
/// (RFC 9420 §12.4, §14).
///
/// ``MLSGroup/commit(_:)`` returns it in ``CommitOutput/pending`` and leaves the group in its
/// epoch: §14 requires a member to move to the new epoch only once the commit is known to be the
/// one the group takes, and two members may commit in the same epoch. The pending commit is a
/// value of its own rather than a successor hidden in the group, so the application holds it
/// next to the group (MLSStore's `PersistentGroup` does this for a stored group), sees what it
/// does (``description``) and decides what happens with it:
///
/// - the delivery service accepted it without echoing it: ``MLSGroup/merge(_:)``;
/// - the delivery service echoes it: pass it to ``MLSGroup/process(_:pending:)``, which
///   recognises the commit by its hash and merges it;
/// - another member's commit for the same epoch won, or the delivery service rejected it: drop
///   it. It cannot be merged after the group moved on (``GroupError/stalePendingCommit``).
///
/// It holds the private keys of the epoch it creates (path secrets, the new epoch's secrets):
/// keep it as secret as the group itself.
public struct PendingCommit: Sendable {
    /// What the commit does once merged (its ``CommitDescription/epoch`` is the epoch it
    /// creates). A pending commit restored from storage is described by comparing the states
    /// before and after it, since its proposal list is not stored: its
    /// ``CommitDescription/proposals``, ``CommitDescription/psks`` and
    /// ``CommitDescription/authenticatedData`` are empty.
    public let description: CommitDescription
    /// The GroupContext of the state the commit was built from: a merge is refused unless the
    /// group is still in exactly that epoch (same group, epoch number, tree and transcript).
    let base: GroupContext
    /// Hash of the MLSMessage bytes, to recognise the commit when the delivery service returns
    /// it. A hash rather than the message: a commit to a large group can be hundreds of
    /// kilobytes, and a stored pending commit is rewritten on every transition until the merge.
    let messageHash: [UInt8]
    /// The state the commit leads to.
    let next: GroupBox

    /// The epoch the commit leaves; merging it moves the group to `epoch + 1`.
    public var epoch: UInt64 { base.epoch }
    /// The group the commit belongs to.
    public var groupID: [UInt8] { base.groupID }
}

/// One member's view of an MLS group (RFC 9420 §8, §12): the public tree and GroupContext, the
/// member's private keys, and the epoch's secrets.
///
/// The group is a value. Every operation either completes and changes it, or throws a
/// ``GroupError`` and leaves it exactly as it was.
public struct MLSGroup: Sendable {
    /// The group's cipher suite.
    public let suite: CipherSuite
    /// The current GroupContext (§8.1).
    @_spi(Engine) public internal(set) var context: GroupContext
    /// The public ratchet tree (§7).
    @_spi(Engine) public internal(set) var tree: RatchetTree
    var privateKey: TreeKEMPrivateKey
    let signer: any MLSSigner
    var epochSecrets: KeyScheduleEpoch
    var secretTree: SecretTree
    var interimTranscriptHash: [UInt8]
    var proposalCache: [CachedProposal] = []
    var pastEpochs: [PastEpoch] = []
    var resumptionPSKs: [UInt64: SecretBytes] = [:]
    /// Private keys of this member's proposed Update leaves, until a commit applies one (§12.1.2).
    var pendingLeafKeys: [[UInt8]: SecretBytes] = [:]
    /// While the first commit of a reinitialized or branched group is built, the resumption
    /// usage whose PSK it may carry (§11.2, §11.3); `nil` otherwise.
    var linkedResumptionUsage: ResumptionPSKUsage?
    /// Serialized proposals this member sent in this epoch, recognised when echoed back.
    var ownProposalMessages: [[UInt8]: Proposal] = [:]
    /// The application's decisions for this group.
    public var configuration: GroupConfiguration { didSet { revision &+= 1 } }
    /// Counts this value's changes, so a ``StagedMessage`` of an older state is recognised.
    var revision: UInt64 = 0
    /// Whether this member is still in the group (false once a commit removed it).
    public internal(set) var isActive = true
    /// A committed ReInit: the group is frozen until it is reinitialized (§11.2).
    public internal(set) var pendingReInit: ReInit?

    /// The group ID.
    public var groupID: [UInt8] { context.groupID }
    /// The public ratchet tree in its wire form (§12.4.3.3), for joiners who get it out of band
    /// when Welcomes do not carry it (``GroupConfiguration/ratchetTreeInWelcome``).
    public var exportedTree: RatchetTreeNodes { tree.exported }
    /// The current epoch.
    public var epoch: UInt64 { context.epoch }

    /// The number of the epoch the next commit creates (§8.1); throws instead of wrapping when
    /// the counter is exhausted, since the epoch comes from a received GroupContext.
    var nextEpoch: UInt64 {
        get throws(GroupError) {
            let (next, overflow) = context.epoch.addingReportingOverflow(1)
            guard !overflow else { throw .epochExhausted }
            return next
        }
    }
    /// This member's leaf.
    public var myLeaf: LeafIndex { privateKey.leafIndex }
    /// This member's current leaf node.
    @_spi(Engine) public var myLeafNode: LeafNode? { tree.leaf(myLeaf) }
    /// The leaves of all members.
    public var members: [LeafIndex] { tree.memberLeaves }
    /// Proposals received in this epoch and not yet committed.
    public var pendingProposals: [Proposal] { proposalCache.map(\.proposal) }

    /// Refuses one more cached proposal of `size` bytes beyond the configured bounds.
    func checkCacheRoom(for size: Int) throws(GroupError) {
        guard proposalCache.count < configuration.maxCachedProposals,
              proposalCache.reduce(size, { $0 + $1.size }) <= configuration.maxCachedProposalBytes else {
            throw GroupError.proposalCacheFull
        }
    }

    /// `epoch_authenticator` of the current epoch (§8.7).
    public var epochAuthenticator: [UInt8] { epochSecrets.epochAuthenticator.unsafeCopiedBytes() }

    /// `MLS-Exporter(label, context, length)` (§8.5).
    public func exportSecret(label: String, context: [UInt8], length: Int) throws(GroupError) -> SecretBytes {
        try GroupError.catching { try epochSecrets.exporter(label: Array(label.utf8), context: context, length: length) }
    }

    /// The resumption PSK of the current epoch (§8.6).
    public var resumptionPSK: SecretBytes { epochSecrets.resumptionPSK }

    /// The resumption PSK of a retained epoch of this group (§8.6), or `nil` once it is dropped.
    public func resumptionPSK(epoch: UInt64) -> SecretBytes? { resumptionPSKs[epoch] }

    /// The validator for leaves arriving in this group under its current context.
    var leafValidator: LeafNodeValidator {
        LeafNodeValidator(suite: suite, groupContext: context, identity: configuration.identity, currentTime: configuration.currentTime(),
                          limits: configuration.limits)
    }

    init(suite: CipherSuite, context: GroupContext, tree: RatchetTree, privateKey: TreeKEMPrivateKey, signer: any MLSSigner,
         epochSecrets: KeyScheduleEpoch, interimTranscriptHash: [UInt8], configuration: GroupConfiguration) {
        self.suite = suite
        self.context = context
        self.tree = tree
        self.privateKey = privateKey
        self.signer = signer
        self.epochSecrets = epochSecrets
        self.interimTranscriptHash = interimTranscriptHash
        self.configuration = configuration
        secretTree = SecretTree(suite: suite, encryptionSecret: epochSecrets.encryptionSecret, leafCount: tree.leafCount,
                                maxForwardDistance: configuration.maxForwardDistance)
        resumptionPSKs[context.epoch] = epochSecrets.resumptionPSK
    }

    /// Creates a one-member group (§11): the creator's leaf, epoch 0, a random epoch secret, an
    /// empty confirmed transcript hash, and the interim hash over its confirmation tag.
    ///
    /// - Parameters:
    ///   - bundle: the creator's KeyPackage material; its leaf becomes leaf 0.
    ///   - extensions: the initial GroupContext extensions.
    public static func create(
        suite: CipherSuite, groupID: [UInt8], creator bundle: KeyPackageBundle, extensions: [Extension] = [],
        configuration: GroupConfiguration = GroupConfiguration()
    ) throws(GroupError) -> MLSGroup {
        guard bundle.keyPackage.cipherSuite == suite.id else { throw GroupError.cipherSuiteMismatch }
        var tree = RatchetTree(suite: suite, firstLeaf: bundle.keyPackage.leafNode)
        let context = GroupContext(version: .mls10, cipherSuite: suite.id, groupID: groupID, epoch: 0, treeHash: tree.treeHash(),
                                   confirmedTranscriptHash: [], extensions: extensions)
        let validator = LeafNodeValidator(suite: suite, groupContext: context, identity: configuration.identity, limits: configuration.limits)
        if let e = validator.checkContent(bundle.keyPackage.leafNode, expectedSource: .keyPackage) { throw GroupError.leafNode(e) }
        let secrets = try GroupError.catching { try KeyScheduleEpoch.initial(suite: suite) }
        let tag = TranscriptHash.confirmationTag(suite: suite, confirmationKey: secrets.confirmationKey, confirmed: [])
        let key = TreeKEMPrivateKey(suite: suite, leafIndex: LeafIndex(0), leafPrivateKey: bundle.encryptionPrivateKey)
        return MLSGroup(suite: suite, context: context, tree: tree, privateKey: key, signer: bundle.signer,
                        epochSecrets: secrets, interimTranscriptHash: TranscriptHash.interim(suite: suite, confirmed: [], confirmationTag: tag),
                        configuration: configuration)
    }

    // MARK: Application messages (§15)

    /// Encrypts application data as a PrivateMessage (§6.3, §15). Refused while proposals of
    /// this epoch are uncommitted (§12.4) or after removal.
    public mutating func encrypt(_ plaintext: [UInt8], authenticatedData: [UInt8] = []) throws(GroupError) -> MLSMessage {
        guard isActive else { throw GroupError.inactive }
        guard pendingReInit == nil else { throw GroupError.reinitPending }
        guard proposalCache.isEmpty else { throw GroupError.pendingProposals }
        let content = FramedContent(groupID: groupID, epoch: epoch, sender: .member(myLeaf), authenticatedData: authenticatedData,
                                    content: .application(plaintext))
        do {
            var tree = secretTree
            let message = try MessageProtection.protectPrivate(
                suite: suite, content: content, context: context, signer: signer, confirmationTag: nil,
                secretTree: &tree, senderDataSecret: epochSecrets.senderDataSecret, paddingLength: padding(for: plaintext.count))
            secretTree = tree
            revision &+= 1
            return MLSMessage(body: .privateMessage(message))
        } catch {
            throw GroupError.wrap(error)
        }
    }

    /// Zero bytes to add so the content fills whole padding blocks (§6.3.1, §15.1).
    func padding(for length: Int) -> Int {
        let block = configuration.paddingBlock
        guard block > 0 else { return 0 }
        return (block - (length + suite.signature.signatureOverhead) % block) % block
    }

    // MARK: Framing handshake messages

    /// Frames signed handshake content in the wire format the configuration asks for, or in
    /// `wireFormat` when the sender has no choice (an external commit is always public, §12.4.3.2).
    mutating func frame(_ content: FramedContent, auth: FramedContentAuthData, wireFormat: WireFormat? = nil) throws -> MLSMessage {
        switch wireFormat ?? handshakeWireFormat {
        case .privateMessage:
            var tree = secretTree
            let m = try MessageProtection.framePrivate(suite: suite, content: content, auth: auth, secretTree: &tree,
                                                       senderDataSecret: epochSecrets.senderDataSecret)
            secretTree = tree
            return MLSMessage(body: .privateMessage(m))
        default:
            // The membership key is used only for member senders (§6.2).
            let m = try MessageProtection.framePublic(suite: suite, content: content, auth: auth, context: context, membershipKey: epochSecrets.membershipKey)
            return MLSMessage(body: .publicMessage(m))
        }
    }

    var handshakeWireFormat: WireFormat { configuration.encryptsHandshakes ? .privateMessage : .publicMessage }

    // MARK: Receiving

    /// Verifies and unprotects a handshake or application message for this group, returning the
    /// authenticated content. Application messages of retained past epochs are accepted (§9.2).
    mutating func unprotect(_ message: MLSMessage) throws -> AuthenticatedContent {
        guard message.version == .mls10 else { throw GroupError.unsupportedVersion }
        switch message.body {
        case let .publicMessage(pm):
            guard pm.content.groupID == groupID else { throw GroupError.wrongGroup }
            guard pm.content.epoch == epoch else { throw GroupError.wrongEpoch(pm.content.epoch) }
            let key = try signatureKey(of: pm.content.sender, content: pm.content.content)
            do {
                return try MessageProtection.unprotectPublic(suite: suite, message: pm, context: context,
                                                             membershipKey: epochSecrets.membershipKey, verificationKey: key)
            } catch {
                throw GroupError.wrap(error)
            }
        case let .privateMessage(pm):
            guard pm.groupID == groupID else { throw GroupError.wrongGroup }
            if pm.epoch == epoch {
                var tree = secretTree
                let current = self.tree
                do {
                    let ac = try MessageProtection.unprotectPrivate(
                        suite: suite, message: pm, context: context, secretTree: &tree, senderDataSecret: epochSecrets.senderDataSecret,
                        verificationKey: { current.leaf($0)?.signatureKey })
                    secretTree = tree
                    return ac
                } catch {
                    throw GroupError.wrap(error)
                }
            }
            // Late application data of a retained epoch; handshake messages must be current.
            guard pm.contentType == .application, let i = pastEpochs.firstIndex(where: { $0.context.epoch == pm.epoch }) else {
                throw GroupError.wrongEpoch(pm.epoch)
            }
            var past = pastEpochs[i]
            let oldTree = past.tree
            do {
                let ac = try MessageProtection.unprotectPrivate(
                    suite: suite, message: pm, context: past.context, secretTree: &past.secretTree, senderDataSecret: past.senderDataSecret,
                    verificationKey: { oldTree.leaf($0)?.signatureKey })
                pastEpochs[i] = past
                return ac
            } catch {
                throw GroupError.wrap(error)
            }
        default:
            throw GroupError.unexpectedWireFormat
        }
    }

    /// The pending commit's next state, with the past epochs as they are now: keys consumed
    /// since the commit was created (messages decrypted meanwhile) stay consumed (§9.2).
    func merged(_ next: MLSGroup) -> MLSGroup {
        var result = next
        var past = pastEpochs
        past.append(PastEpoch(context: context, secretTree: secretTree, senderDataSecret: epochSecrets.senderDataSecret, tree: tree))
        if past.count > configuration.pastEpochsRetained { past.removeFirst(past.count - configuration.pastEpochsRetained) }
        result.pastEpochs = past
        return result
    }

    /// The signature key a sender's content must verify under (§6.1, §12.1.8).
    func signatureKey(of sender: Sender, content: MLSContent) throws -> [UInt8] {
        switch sender {
        case let .member(leaf):
            guard let l = tree.leaf(leaf) else { throw GroupError.framing(.notAMember(leaf)) }
            return l.signatureKey
        case let .external(index):
            guard case .proposal = content else { throw GroupError.framing(.externalSenderMayOnlyPropose) }
            let senders = try externalSenders()
            guard Int(index) < senders.count else { throw GroupError.framing(.noSuchExternalSender(index)) }
            return senders[Int(index)].signatureKey
        case .newMemberProposal:
            guard case let .proposal(.add(add)) = content else { throw GroupError.framing(.newMemberProposalNotAdd) }
            return add.leafNode.signatureKey
        case .newMemberCommit:
            guard case let .commit(commit) = content, let path = commit.path else { throw GroupError.framing(.newMemberCommitWithoutPath) }
            return path.leafNode.signatureKey
        }
    }

    /// The `external_senders` extension of the GroupContext (§12.1.8.1).
    func externalSenders() throws(GroupError) -> [ExternalSender] {
        try context.extensions.externalSenders
    }
}

/// What processing a message produced.
public enum ProcessedContent: Sendable, Equatable {
    /// Application data (§15).
    case application([UInt8])
    /// A proposal, now cached for the next commit (§12.1).
    case proposal(Proposal)
    /// A commit moved the group to a new epoch (§12.4.2), as described. When
    /// ``CommitDescription/removedSelf`` is true it removed this member, who can no longer send
    /// or read in the group.
    case commit(CommitDescription)
}

/// A processed message and who sent it.
public struct ProcessedMessage: Sendable {
    /// The authenticated sender, as framed (§6); applications use ``author``.
    @_spi(Engine) public let sender: Sender
    /// The sender resolved against the group's roster of the message's epoch: the member (with
    /// credential and identity), the external sender or the joining client.
    public let author: MessageAuthor
    /// The epoch the message belonged to.
    public let epoch: UInt64
    /// The content.
    public let content: ProcessedContent
    /// The message's `authenticated_data`.
    public let authenticatedData: [UInt8]
}

extension MLSGroup {
    /// Processes a message from the delivery service (§6, §12.4.2, §15) and applies the result:
    /// ``stage(_:pending:)`` followed by ``apply(_:)``.
    ///
    /// - Parameter pending: this member's pending commit of the current epoch, if it has one:
    ///   when the delivery service echoes that commit, it is merged (§14). Any other message is
    ///   processed as usual; if it is another member's commit, the pending one can no longer be
    ///   merged and should be dropped.
    ///
    /// On any error the group is unchanged.
    public mutating func process(_ message: MLSMessage, pending: PendingCommit? = nil) throws(GroupError) -> ProcessedMessage {
        let staged = try stage(message, pending: pending)
        apply(staged)
        return staged.processed
    }

    /// Verifies and decodes a message from the delivery service (§6, §12.4.2, §15) without
    /// changing the group: application data is decrypted, proposals are validated, commits are
    /// validated and described, and the configured ``GroupRules`` are consulted. The result
    /// carries the state the message leads to; ``apply(_:)`` adopts it.
    ///
    /// This member's own commit, returned by the delivery service, stages the merge of
    /// `pending` when it is that commit (recognised by the hash of the message). Without it
    /// the commit is refused with ``FramingError/ownCommitNotPending``: the member cannot
    /// process its own commit, whose path secrets only the pending commit holds. The echo of a
    /// pending commit the group can no longer merge (it left that epoch) is refused with
    /// ``GroupError/stalePendingCommit``.
    public func stage(_ message: MLSMessage, pending: PendingCommit? = nil) throws(GroupError) -> StagedMessage {
        guard isActive else { throw .inactive }
        do {
            let bytes = try message.tlsSerializedChecked()
            if let pending, pending.messageHash == suite.digest(bytes) {
                // The echo of a commit made from another state of this member's (an older epoch,
                // another group state) cannot be merged here.
                try checkBase(of: pending)
                let d = pending.description
                let processed = ProcessedMessage(sender: .member(myLeaf), author: .member(d.committer), epoch: epoch, content: .commit(d),
                                                 authenticatedData: d.authenticatedData)
                return StagedMessage(processed: processed, next: GroupBox(merged(pending.next.group)), base: revision)
            }
            var next = self
            if let own = ownProposalMessages[bytes], let me = member(at: myLeaf) {
                // Our own proposal came back; it was cached when sent.
                return StagedMessage(processed: ProcessedMessage(sender: .member(myLeaf), author: .member(me), epoch: epoch, content: .proposal(own), authenticatedData: []),
                                     next: GroupBox(next), base: revision)
            }
            let ac = try next.unprotect(message)
            let sender = ac.content.sender
            let content: ProcessedContent
            var author = self.author(sender, content: ac.content.content, in: ac.content.epoch == epoch ? self : next)
            switch ac.content.content {
            case let .application(data):
                guard case .member = sender else { throw GroupError.framing(.applicationFromNonMember) }
                if ac.content.epoch != epoch, case let .member(leaf) = sender, let past = pastEpochs.first(where: { $0.context.epoch == ac.content.epoch }),
                   let node = past.tree.leaf(leaf) {
                    author = .member(member(leaf, node))
                }
                content = .application(data)
            case let .proposal(proposal):
                try next.receiveProposal(proposal, in: ac)
                content = .proposal(proposal)
            case let .commit(commit):
                let description = try next.processCommit(commit, in: ac)
                if case .newMemberCommit = sender { author = .newMemberCommit(description.committer) }
                content = .commit(description)
            }
            guard let author else { throw GroupError.framing(.unknownSender) }
            let processed = ProcessedMessage(sender: sender, author: author, epoch: ac.content.epoch, content: content,
                                             authenticatedData: ac.content.authenticatedData)
            return StagedMessage(processed: processed, next: GroupBox(next), base: revision)
        } catch {
            throw GroupError.wrap(error)
        }
    }

    /// Adopts the state a staged message leads to. It cannot fail: a value staged from this
    /// state is applied as it is. A value staged from an older state (the group sent, processed
    /// or applied something since) is stale, and applying it would roll back keys already
    /// consumed, so it is ignored and `false` is returned.
    @discardableResult
    public mutating func apply(_ staged: StagedMessage) -> Bool {
        guard staged.base == revision else { return false }
        let configuration = self.configuration
        self = staged.next.group
        self.configuration = configuration
        revision = staged.base &+ 1
        return true
    }
}

extension SignatureScheme {
    /// Approximate size of a signature, used only to aim padding at block boundaries.
    var signatureOverhead: Int {
        switch self {
        case .ed25519: 64
        case .ed448: 114
        case .ecdsaP256SHA256: 72
        case .ecdsaP384SHA384: 104
        case .ecdsaP521SHA512: 139
        }
    }
}
