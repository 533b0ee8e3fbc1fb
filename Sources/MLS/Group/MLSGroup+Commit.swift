@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// How to build a commit (§12.4).
public struct CommitOptions: Sendable {
    /// Proposals to include by value, after the cached ones.
    public var proposals: [Proposal] = []
    /// Whether to include the valid proposals received in this epoch, by reference (§12.4:
    /// the committer SHOULD include them).
    public var includePendingProposals = true
    /// Include an UpdatePath even when no proposal requires one (§12.4: "by default, the path
    /// field of a Commit MUST be populated"). Without it the path is sent only when required.
    public var alwaysIncludePath = true
    /// `authenticated_data` of the commit message.
    public var authenticatedData: [UInt8] = []
    /// Also return a signed GroupInfo of the new epoch (``CommitOutput/groupInfo``), for
    /// external joiners (§12.4.3). Off by default: it costs a signature and, with the ratchet
    /// tree in it, the serialization of the whole tree, O(N). A member can sign one for its
    /// current epoch at any time with ``MLSGroup/groupInfo(withTree:)``.
    public var includeGroupInfo = false

    /// Default options: cached proposals, always a path, no GroupInfo.
    public init(proposals: [Proposal] = [], includePendingProposals: Bool = true, alwaysIncludePath: Bool = true, authenticatedData: [UInt8] = [],
                includeGroupInfo: Bool = false) {
        self.proposals = proposals
        self.includePendingProposals = includePendingProposals
        self.alwaysIncludePath = alwaysIncludePath
        self.authenticatedData = authenticatedData
        self.includeGroupInfo = includeGroupInfo
    }
}

/// The messages a commit produces (§12.4.2, §12.4.3).
public struct CommitOutput: Sendable {
    /// The commit, to send to the group.
    public let commit: MLSMessage
    /// A Welcome for the members the commit adds, if any.
    public let welcome: MLSMessage?
    /// A signed GroupInfo of the new epoch (with `external_pub` and the ratchet tree as
    /// configured), for external joiners; only when ``CommitOptions/includeGroupInfo`` asked
    /// for it.
    public let groupInfo: MLSMessage?
    /// What the commit does once merged (also ``PendingCommit/description``).
    public var description: CommitDescription { pending.description }
    /// The commit, pending until the delivery service accepts it: merge it with
    /// ``MLSGroup/merge(_:)``, or pass it to ``MLSGroup/process(_:pending:)`` for the echo.
    public let pending: PendingCommit
}

extension MLSGroup {
    /// Chooses which cached proposals a commit includes: only those the application's policy
    /// accepts now (it may have changed since they were cached), none of this member's own
    /// Updates, no Remove of itself, and per leaf a Remove before the latest Update (§12.2's
    /// SHOULDs).
    func proposalsToCommit() -> [CachedProposal] {
        var chosen: [CachedProposal] = []
        var byLeaf: [UInt32: Int] = [:]
        let lastGCE = proposalCache.last(where: { if case .groupContextExtensions = $0.proposal { true } else { false } })?.ref
        for p in proposalCache where author(p.sender, content: .proposal(p.proposal), in: self).flatMap({ try? checkRules(p.proposal, from: $0) }) != nil {
            var leaf: UInt32?
            switch p.proposal {
            case .update:
                if p.sender == .member(myLeaf) { continue }
                if case let .member(l) = p.sender { leaf = l.rawValue }
            case let .remove(r):
                if r == myLeaf { continue }
                leaf = r.rawValue
            case .reInit where proposalCache.count > 1:
                continue  // §12.2: prefer the other proposals; the ReInit can be resent.
            case .groupContextExtensions where lastGCE != p.ref:
                continue  // only one may be committed: keep the most recent
            default: break
            }
            if let leaf {
                if let i = byLeaf[leaf] {
                    if case .remove = chosen[i].proposal, case .update = p.proposal { continue }
                    chosen[i] = p
                    continue
                }
                byLeaf[leaf] = chosen.count
            }
            chosen.append(p)
        }
        return chosen
    }

    /// Creates a commit (§12.4.1) and returns it with the state it leads to as a
    /// ``PendingCommit``: the group stays in its epoch until the application merges the pending
    /// commit (``merge(_:)``) or the delivery service echoes it (``process(_:pending:)``), §14.
    ///
    /// The method is `mutating` only because building the commit may consume a handshake key
    /// generation of this epoch (PrivateMessage framing, §9) and marks earlier
    /// ``StagedMessage``s as stale; the group's epoch and membership do not change.
    public mutating func commit(_ options: CommitOptions = CommitOptions()) throws(GroupError) -> CommitOutput {
        guard isActive else { throw GroupError.inactive }
        guard pendingReInit == nil else { throw GroupError.reinitPending }
        var current = self
        let cached = options.includePendingProposals ? proposalsToCommit() : []
        var refs: [ProposalOrRef] = cached.map { .reference($0.ref) }
        var list: [(proposal: Proposal, sender: Sender, byReference: Bool)] = cached.map { ($0.proposal, $0.sender, true) }
        for p in options.proposals {
            refs.append(.proposal(p))
            list.append((p, .member(myLeaf), false))
        }
        do {
            let built = try current.buildCommit(CommitPlan(
                sender: .member(myLeaf), proposals: list, proposalRefs: refs, initSecret: epochSecrets.initSecret,
                alwaysIncludePath: options.alwaysIncludePath, authenticatedData: options.authenticatedData))
            let next = built.next, effects = built.effects, secrets = built.secrets
            let description = try current.describeCommit(list, epoch: try current.nextEpoch, committer: myLeaf, external: false, effects: effects, after: next,
                                                         hasPath: built.hasPath, authenticatedData: options.authenticatedData)
            try configuration.checkRules(commit: description, direction: .outgoing, in: current)

            // One signed GroupInfo serves the Welcome and the caller; none is built when neither
            // needs it (it signs, and with the tree serializes all of it).
            var info: GroupInfo?
            if !effects.newMembers.isEmpty || options.includeGroupInfo {
                info = try next.signedGroupInfo(secrets: secrets, withTree: configuration.ratchetTreeInWelcome)
            }
            var welcome: MLSMessage?
            if !effects.newMembers.isEmpty, let info {
                let recipients = effects.newMembers.map { member -> (keyPackage: KeyPackage, secrets: GroupSecrets) in
                    let ancestor = TreeMath.commonAncestor(member.leaf.nodeIndex, myLeaf.nodeIndex)
                    let ps = built.pathSecrets.first { $0.node == ancestor }.map { PathSecret(pathSecret: $0.secret.unsafeCopiedBytes()) }
                    return (member.keyPackage, GroupSecrets(joinerSecret: secrets.joinerSecret.unsafeCopiedBytes(), pathSecret: ps, psks: effects.psks))
                }
                let w = try WelcomeCrypto.makeWelcome(suite: suite, groupInfo: info, welcomeSecret: secrets.welcomeSecret, recipients: recipients)
                welcome = MLSMessage(body: .welcome(w))
            }
            let groupInfo = options.includeGroupInfo ? info.map { MLSMessage(body: .groupInfo($0)) } : nil
            // Proposals by value can be large KeyPackages: a commit that does not fit RFC 9420's
            // vectors is refused, never sent mis-encoded.
            let encoded: [UInt8]
            do { encoded = try built.message.tlsSerializedChecked() } catch { throw GroupError.limitExceeded(.messageBytes) }
            let pending = PendingCommit(description: description, base: context, messageHash: suite.digest(encoded), next: GroupBox(next))
            current.revision &+= 1
            self = current
            return CommitOutput(commit: built.message, welcome: welcome, groupInfo: groupInfo, pending: pending)
        } catch {
            throw GroupError.wrap(error)
        }
    }

    /// Moves to the epoch of this member's pending commit once the delivery service accepted it
    /// (§14), e.g. when it confirms the commit without echoing it.
    ///
    /// - Throws: ``GroupError/stalePendingCommit`` if `pending` was not made from this group's
    ///   current epoch (another member's commit was processed since, this member was removed,
    ///   or it belongs to another group); the group is then unchanged.
    public mutating func merge(_ pending: PendingCommit) throws(GroupError) {
        try checkBase(of: pending)
        let configuration = self.configuration
        let revision = self.revision
        self = merged(pending.next.group)
        self.configuration = configuration
        self.revision = revision &+ 1
    }

    /// Refuses a pending commit that was not built from this group's current epoch.
    ///
    /// The base is the epoch, not the exact value the commit was built from: messages processed
    /// between sending the commit and its acceptance (application data of others, proposals)
    /// change the group but not the epoch the commit leaves, and ``merged(_:)`` keeps the keys
    /// they consumed stay consumed. What does make it stale is anything that ends the epoch for this
    /// member: another commit (the epoch number and transcript change) or a removal (the member
    /// is inactive). The GroupContext names the group, epoch, tree and transcript at once.
    func checkBase(of pending: PendingCommit) throws(GroupError) {
        guard isActive, pending.base == context, pending.next.group.myLeaf == myLeaf else { throw GroupError.stalePendingCommit }
    }

    /// A GroupInfo for the current epoch, signed by this member (§12.4.3), carrying
    /// `external_pub` (if configured) and optionally the ratchet tree.
    public func groupInfo(withTree: Bool = true) throws(GroupError) -> MLSMessage {
        do { return MLSMessage(body: .groupInfo(try signedGroupInfo(secrets: epochSecrets, withTree: withTree))) } catch { throw GroupError.wrap(error) }
    }

    func signedGroupInfo(secrets: KeyScheduleEpoch, withTree: Bool) throws -> GroupInfo {
        var extensions: [Extension] = []
        if withTree {
            // Members' leaves can make the tree large; it must fit one vector with room for the
            // GroupInfo around it (§2.1.2), or the commit is refused rather than mis-encoded.
            let data: [UInt8]
            do { data = try tree.exported.tlsSerializedChecked() } catch { throw GroupError.limitExceeded(.messageBytes) }
            guard data.count <= TLSVarint.max - (1 << 20) else { throw GroupError.limitExceeded(.messageBytes) }
            extensions.append(Extension(extensionType: .ratchetTree, extensionData: data))
        }
        if configuration.externalPubInGroupInfo {
            extensions.append(Extension(extensionType: .externalPub, extensionData: ExternalPub(externalPub: try secrets.externalKeyPair().publicKey).tlsSerialized))
        }
        return try WelcomeCrypto.signedGroupInfo(suite: suite, groupContext: context, extensions: extensions, epoch: secrets,
                                                 signerLeaf: myLeaf.rawValue, signer: signer)
    }

    /// Runs the transcript hash and key schedule for the epoch a commit creates (§8, §8.2).
    /// `self` must already hold the new tree and extensions; its context becomes the new one.
    mutating func deriveNextEpoch(commit: AuthenticatedContent, initSecret: SecretBytes, commitSecret: SecretBytes?, psks: [PreSharedKeyID]) throws -> (KeyScheduleEpoch, [UInt8]) {
        let confirmed = TranscriptHash.confirmed(suite: suite, interimBefore: interimTranscriptHash, commit: commit)
        context.epoch = try nextEpoch
        context.treeHash = tree.treeHash()
        context.confirmedTranscriptHash = confirmed
        let secrets = try KeyScheduleEpoch.derive(suite: suite, initSecret: initSecret, commitSecret: commitSecret,
                                                  pskSecret: try pskSecret(psks), groupContext: context.tlsSerialized)
        return (secrets, confirmed)
    }

    /// Installs the new epoch's secrets, keeping the previous epoch for late application data.
    mutating func advance(from previous: MLSGroup, secrets: KeyScheduleEpoch, confirmationTag: [UInt8]) {
        pastEpochs.append(PastEpoch(context: previous.context, secretTree: previous.secretTree, senderDataSecret: previous.epochSecrets.senderDataSecret, tree: previous.tree))
        if pastEpochs.count > configuration.pastEpochsRetained { pastEpochs.removeFirst(pastEpochs.count - configuration.pastEpochsRetained) }
        epochSecrets = secrets
        interimTranscriptHash = TranscriptHash.interim(suite: suite, confirmed: context.confirmedTranscriptHash, confirmationTag: confirmationTag)
        secretTree = SecretTree(suite: suite, encryptionSecret: secrets.encryptionSecret, leafCount: tree.leafCount, maxForwardDistance: configuration.maxForwardDistance)
        proposalCache = []
        ownProposalMessages = [:]
        pendingLeafKeys = [:]
        resumptionPSKs[context.epoch] = secrets.resumptionPSK
        let keep = configuration.resumptionPSKsRetained
        if resumptionPSKs.count > keep, context.epoch >= UInt64(keep) {
            resumptionPSKs = resumptionPSKs.filter { $0.key > context.epoch - UInt64(keep) }
        }
    }

    /// Applies a received commit (§12.4.2) and describes it; the application's ``GroupRules``
    /// see the description before anything is kept.
    mutating func processCommit(_ commit: Commit, in ac: AuthenticatedContent) throws -> CommitDescription {
        guard pendingReInit == nil else { throw GroupError.reinitPending }
        let previous = self
        let sender = ac.content.sender
        let external: Bool
        switch sender {
        case let .member(leaf): external = false; if leaf == myLeaf { throw GroupError.framing(.ownCommitNotPending) }
        case .newMemberCommit: external = true
        default: throw GroupError.framing(.commitFromNonMember)
        }
        guard commit.proposals.count <= configuration.limits.maxProposalsPerCommit else {
            throw GroupError.limitExceeded(.proposalsPerCommit)
        }
        var list: [(proposal: Proposal, sender: Sender, byReference: Bool)] = []
        // One lookup per reference: linear in the commit and the cache, not their product.
        let cache = Dictionary(proposalCache.map { ($0.ref, $0) }, uniquingKeysWith: { first, _ in first })
        for item in commit.proposals {
            switch item {
            case let .proposal(p):
                list.append((p, sender, false))
            case let .reference(ref):
                guard !external, let cached = cache[ref] else { throw GroupError.unknownProposalReference }
                list.append((cached.proposal, cached.sender, true))
            }
        }
        do {
            let effects = try applyProposals(list.map { ($0.proposal, $0.sender) }, committer: sender)
            if effects.pathRequired, commit.path == nil { throw GroupError.pathRequired }
            if external, let removed = effects.removedLeaves.first {
                // §12.4.3.2: an external commit may remove only the joiner's own old leaf, so the
                // new leaf must carry a valid successor of the removed member's credential.
                guard let old = previous.tree.leaf(removed), let path = commit.path,
                      configuration.identity.validSuccessor(old: old.credential, new: path.leafNode.credential) else {
                    throw GroupError.leafNode(.invalidSuccessorCredential)
                }
            }
            var committer: LeafIndex
            if case let .member(leaf) = sender { committer = leaf } else { committer = tree.leftmostBlankLeaf() }
            if external, let path = commit.path {
                let joiner = MessageAuthor.newMemberCommit(member(committer, path.leafNode))
                for item in list { try checkRules(item.proposal, from: joiner) }
            }
            var provisional = context
            provisional.epoch = try previous.nextEpoch
            let newLeaves = Set(effects.newMembers.map(\.leaf))
            let validator = LeafNodeValidator(suite: suite, groupContext: provisional, identity: configuration.identity, currentTime: nil,
                                              limits: configuration.limits)
            var initSecret = previous.epochSecrets.initSecret
            if let kemOutput = effects.externalInit {
                let external = try previous.epochSecrets.externalKeyPair()
                do {
                    initSecret = try suite.hpke.receiveExport(privateKey: external.privateKey, enc: kemOutput, info: [],
                                                              exporterContext: Self.externalInitLabel, length: suite.kdfLength)
                } catch {
                    throw GroupError.invalidProposal(.externalInitUndecryptable)
                }
            }
            if effects.removedMe {
                // Removed (§12.4.2): the path secrets are encrypted to the remaining members only,
                // so the commit secret, and with it the confirmation tag, is beyond this member.
                // Everything else is checked as for any commit (signature and membership tag
                // above, the proposal list, ExternalInit, and the UpdatePath's leaf, keys and
                // parent hashes), so a commit the other members would refuse cannot evict us.
                if let path = commit.path {
                    _ = try tree.mergeUpdatePath(path, from: committer, groupContext: provisional, excluding: newLeaves,
                                                 validator: validator, senderIsNew: external)
                }
                let description = try previous.describeCommit(list, epoch: try previous.nextEpoch, committer: committer, external: external, effects: effects, after: self,
                                                              hasPath: commit.path != nil, authenticatedData: ac.content.authenticatedData)
                try configuration.checkRules(commit: description, direction: .incoming, in: previous)
                // What remains is the last epoch this member belonged to, marked inactive: its
                // tree and GroupContext agree (storage checks that on restore), and its secrets
                // still open late application messages of that epoch. The tree the commit
                // produced is not ours to keep: we cannot derive the epoch it belongs to.
                self = previous
                isActive = false
                return description
            }
            var commitSecret: SecretBytes?
            if let path = commit.path {
                let r = try tree.processUpdatePath(path, from: committer, groupContext: provisional, privateKey: &privateKey,
                                                   excluding: newLeaves, validator: validator, senderIsNew: external)
                commitSecret = r.commitSecret
            }
            let (secrets, confirmed) = try deriveNextEpoch(commit: ac, initSecret: initSecret, commitSecret: commitSecret, psks: effects.psks)
            let expected = TranscriptHash.confirmationTag(suite: suite, confirmationKey: secrets.confirmationKey, confirmed: confirmed)
            guard let tag = ac.auth.confirmationTag, constantTimeEqual(tag, expected) else { throw GroupError.invalidConfirmationTag }
            advance(from: previous, secrets: secrets, confirmationTag: tag)
            pendingReInit = effects.reinit
            let description = try previous.describeCommit(list, epoch: try previous.nextEpoch, committer: committer, external: external, effects: effects, after: self,
                                                          hasPath: commit.path != nil, authenticatedData: ac.content.authenticatedData)
            try configuration.checkRules(commit: description, direction: .incoming, in: previous)
            return description
        } catch {
            throw GroupError.wrap(error)
        }
    }

    /// The HPKE exporter context for an external init secret (§8.3).
    static let externalInitLabel = Array("MLS 1.0 external init secret".utf8)
}
