@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// What applying a proposal list did (§12.3), for the rest of commit processing.
struct ProposalEffects: Sendable {
    var newMembers: [(leaf: LeafIndex, keyPackage: KeyPackage)] = []
    var psks: [PreSharedKeyID] = []
    /// The `kem_output` of the list's ExternalInit.
    var externalInit: [UInt8]?
    var reinit: ReInit?
    var pathRequired = false
    var removedMe = false
    /// The leaves the list removes, in order.
    var removedLeaves: [LeafIndex] = []
}

extension MLSGroup {
    // MARK: Sending proposals (§12.1)

    /// Sends a proposal, caching it for this member's next commit. Proposals are framed as the
    /// configuration says (§6).
    public mutating func propose(_ proposal: Proposal, authenticatedData: [UInt8] = []) throws(GroupError) -> MLSMessage {
        guard isActive else { throw GroupError.inactive }
        guard pendingReInit == nil else { throw GroupError.reinitPending }
        if case .externalInit = proposal { throw GroupError.invalidProposal(.externalInitOutsideExternalCommit) }
        let size = proposal.tlsSerialized.count
        try checkCacheRoom(for: size)
        var next = self
        try next.validate(proposal, from: .member(myLeaf))
        let content = FramedContent(groupID: groupID, epoch: epoch, sender: .member(myLeaf), authenticatedData: authenticatedData, content: .proposal(proposal))
        do {
            let signature = try MessageProtection.sign(suite: suite, content: content, wireFormat: handshakeWireFormat, context: context, signer: signer)
            let auth = FramedContentAuthData(signature: signature, confirmationTag: nil)
            let ac = AuthenticatedContent(wireFormat: handshakeWireFormat, content: content, auth: auth)
            let message = try next.frame(content, auth: auth)
            next.proposalCache.append(CachedProposal(ref: suite.proposalRef(ac.tlsSerialized), proposal: proposal, sender: .member(myLeaf), size: size))
            next.ownProposalMessages[message.tlsSerialized] = proposal
            self = next
            return message
        } catch {
            throw GroupError.wrap(error)
        }
    }

    /// Proposes adding the owner of `keyPackage` (§12.1.1).
    public mutating func proposeAdd(_ keyPackage: KeyPackage) throws(GroupError) -> MLSMessage {
        try propose(.add(keyPackage))
    }

    /// Proposes removing the member at `leaf` (§12.1.3).
    public mutating func proposeRemove(_ leaf: LeafIndex) throws(GroupError) -> MLSMessage {
        try propose(.remove(leaf))
    }

    /// Proposes replacing this member's leaf with one carrying a fresh encryption key (§12.1.2).
    /// The new private key is kept until a commit applies the Update.
    public mutating func proposeUpdate() throws(GroupError) -> MLSMessage {
        guard var leaf = myLeafNode else { throw GroupError.inactive }
        let keys = suite.hpke.generateKeyPair()
        leaf.encryptionKey = keys.publicKey
        leaf.leafNodeSource = .update
        do {
            try leaf.sign(suite: suite, signer: signer, groupID: groupID, leafIndex: myLeaf.rawValue)
        } catch {
            throw GroupError.wrap(error)
        }
        var next = self
        next.pendingLeafKeys[keys.publicKey] = keys.privateKey
        let message = try next.propose(.update(Update(leafNode: leaf)))
        self = next
        return message
    }

    /// Proposes injecting an external PSK into the next epoch (§12.1.4).
    public mutating func proposeExternalPSK(id: [UInt8]) throws(GroupError) -> MLSMessage {
        try propose(.preSharedKey(PreSharedKeyID(psk: .external(pskID: id), pskNonce: SystemRandom.bytes(suite.kdfLength))))
    }

    /// Proposes injecting this group's resumption PSK of `epoch` into the next epoch (§12.1.4).
    public mutating func proposeResumptionPSK(epoch resumedEpoch: UInt64) throws(GroupError) -> MLSMessage {
        try propose(.preSharedKey(PreSharedKeyID(
            psk: .resumption(usage: .application, pskGroupID: groupID, pskEpoch: resumedEpoch), pskNonce: SystemRandom.bytes(suite.kdfLength))))
    }

    /// Proposes replacing the GroupContext extensions (§12.1.7).
    public mutating func proposeGroupContextExtensions(_ extensions: [Extension]) throws(GroupError) -> MLSMessage {
        try propose(.groupContextExtensions(extensions))
    }

    /// Proposes reinitializing the group with new parameters (§12.1.5, §11.2).
    public mutating func proposeReInit(groupID newID: [UInt8], suite newSuite: CipherSuite, extensions: [Extension] = []) throws(GroupError) -> MLSMessage {
        try propose(.reInit(ReInit(groupID: newID, version: .mls10, cipherSuite: newSuite.id, extensions: extensions)))
    }

    /// A proposal from a party outside the group (§12.1.8): an `external` sender listed at
    /// `senderIndex` of the group's `external_senders` extension, signing with its key, for the
    /// epoch of `groupContext`. Sent as PublicMessage, the only framing an outsider can produce.
    @_spi(Engine) public static func externalProposal(
        _ proposal: Proposal, groupContext: GroupContext, senderIndex: UInt32, signer: any MLSSigner, authenticatedData: [UInt8] = []
    ) throws(GroupError) -> MLSMessage {
        guard let suite = CipherSuite(id: groupContext.cipherSuite) else { throw GroupError.cipherSuiteMismatch }
        switch proposal {
        case .add, .remove, .preSharedKey, .reInit, .groupContextExtensions: break
        default: throw GroupError.framing(.externalSenderProposalType(proposal.proposalType.rawValue))
        }
        let content = FramedContent(groupID: groupContext.groupID, epoch: groupContext.epoch, sender: .external(senderIndex: senderIndex),
                                    authenticatedData: authenticatedData, content: .proposal(proposal))
        do {
            let m = try MessageProtection.protectPublic(suite: suite, content: content, context: groupContext, signer: signer,
                                                        confirmationTag: nil, membershipKey: nil)
            return MLSMessage(body: .publicMessage(m))
        } catch {
            throw GroupError.wrap(error)
        }
    }

    /// A request to join from a new member (§12.1.8): an Add of its own KeyPackage, signed with
    /// the KeyPackage's key, for the epoch of `groupContext`.
    @_spi(Engine) public static func joinProposal(_ bundle: KeyPackageBundle, groupContext: GroupContext) throws(GroupError) -> MLSMessage {
        guard let suite = CipherSuite(id: groupContext.cipherSuite) else { throw GroupError.cipherSuiteMismatch }
        let content = FramedContent(groupID: groupContext.groupID, epoch: groupContext.epoch, sender: .newMemberProposal,
                                    authenticatedData: [], content: .proposal(.add(bundle.keyPackage)))
        do {
            let m = try MessageProtection.protectPublic(suite: suite, content: content, context: groupContext, signer: bundle.signer,
                                                        confirmationTag: nil, membershipKey: nil)
            return MLSMessage(body: .publicMessage(m))
        } catch {
            throw GroupError.wrap(error)
        }
    }

    // MARK: Receiving proposals

    /// Validates a received proposal and caches it under its ProposalRef (§12.1, §5.2).
    mutating func receiveProposal(_ proposal: Proposal, in ac: AuthenticatedContent) throws {
        guard pendingReInit == nil else { throw GroupError.reinitPending }
        let size = proposal.tlsSerialized.count
        try checkCacheRoom(for: size)
        try validate(proposal, from: ac.content.sender)
        proposalCache.append(CachedProposal(ref: suite.proposalRef(ac.tlsSerialized), proposal: proposal, sender: ac.content.sender, size: size))
    }

    /// The checks every proposal must pass on its own (§12.1, §12.1.8), plus the application's policy.
    ///
    /// Within a commit (`inCommit`), Adds and the capabilities a GroupContextExtensions requires
    /// are checked after the whole list is applied instead: §12.3 evaluates Adds against the new
    /// extensions, and §12.1.7 exempts members the same commit removes.
    func validate(_ proposal: Proposal, from sender: Sender, inCommit: Bool = false) throws(GroupError) {
        switch sender {
        case .member: if case .externalInit = proposal { throw GroupError.invalidProposal(.externalInitOutsideExternalCommit) }
        case .external:
            switch proposal {
            case .add, .remove, .preSharedKey, .reInit, .groupContextExtensions: break
            default: throw GroupError.framing(.externalSenderProposalType(proposal.proposalType.rawValue))
            }
        case .newMemberProposal: guard case .add = proposal else { throw GroupError.framing(.newMemberProposalNotAdd) }
        case .newMemberCommit: break
        }
        switch proposal {
        case let .add(keyPackage):
            if !inCommit, let e = leafValidator.validate(keyPackage: keyPackage) { throw GroupError.keyPackage(e) }
        case let .update(update):
            guard case let .member(leaf) = sender else { throw GroupError.framing(.updateFromNonMember) }
            if let e = leafValidator.validate(update.leafNode, at: leaf, in: tree, expectedSource: .update) { throw GroupError.leafNode(e) }
        case let .remove(removed):
            guard tree.leaf(removed) != nil else { throw GroupError.invalidProposal(.removeOfBlankLeaf(removed.rawValue)) }
        case let .preSharedKey(psk):
            guard psk.pskNonce.count == suite.kdfLength else { throw GroupError.invalidProposal(.pskNonceLength) }
            if case let .resumption(usage, _, _) = psk.psk, usage != .application, usage != linkedResumptionUsage {
                throw GroupError.invalidProposal(.resumptionPSKUsage)
            }
        case let .reInit(reinit):
            guard reinit.version.rawValue >= context.version.rawValue else { throw GroupError.invalidProposal(.reinitToOlderVersion) }
        case .externalInit:
            break
        case let .groupContextExtensions(extensions):
            guard !extensions.hasRepeatedTypes else { throw GroupError.invalidProposal(.repeatedExtensionType) }
            if !inCommit { try checkRequiredCapabilities(extensions, leaves: tree.memberLeaves.compactMap { tree.leaf($0) }) }
        }
        // The rules see the proposer resolved (§6). A joiner's proposals in its external commit
        // are put to them once its leaf is known (processCommit, buildCommit).
        if case .newMemberCommit = sender { return }
        guard let proposer = author(sender, content: .proposal(proposal), in: self) else { throw GroupError.framing(.unknownSender) }
        try checkRules(proposal, from: proposer)
    }

    /// Puts one proposal to the application's ``GroupRules``.
    func checkRules(_ proposal: Proposal, from proposer: MessageAuthor) throws(GroupError) {
        do { try configuration.rules.check(proposal: proposal, from: proposer, in: self) } catch { throw GroupError.rejectedByRules(error) }
    }

    /// Every leaf supports what a `required_capabilities` extension in `extensions` demands (§11.1, §12.1.7).
    func checkRequiredCapabilities(_ extensions: [Extension], leaves: [LeafNode]) throws(GroupError) {
        guard let required = try extensions.requiredCapabilities else { return }
        guard required.extensionTypes.count <= configuration.limits.maxCapabilityEntries,
              required.proposalTypes.count <= configuration.limits.maxCapabilityEntries,
              required.credentialTypes.count <= configuration.limits.maxCapabilityEntries else {
            throw GroupError.limitExceeded(.capabilityEntries)
        }
        // Per leaf, sets of what it supports: linear in the leaf's lists and the requirements.
        for leaf in leaves {
            let caps = leaf.capabilities
            let extensions = Set(caps.extensions.map(\.rawValue)), proposals = Set(caps.proposals.map(\.rawValue))
            let credentials = Set(caps.credentials.map(\.rawValue))
            let ok = required.extensionTypes.allSatisfy { $0.isDefault || extensions.contains($0.rawValue) }
                && required.proposalTypes.allSatisfy { $0.isDefault || proposals.contains($0.rawValue) }
                && required.credentialTypes.allSatisfy { credentials.contains($0.rawValue) }
            guard ok else { throw GroupError.invalidProposal(.memberLacksRequiredCapabilities) }
        }
    }

    // MARK: Proposal lists (§12.2, §12.3)

    /// Validates a committed proposal list (§12.2) and applies it to this state (§12.3), which
    /// the caller is turning into the next epoch's.
    mutating func applyProposals(_ list: [(proposal: Proposal, sender: Sender)], committer: Sender) throws -> ProposalEffects {
        var effects = ProposalEffects()
        let external: Bool
        if case .newMemberCommit = committer { external = true } else { external = false }
        var gce: [Extension]?
        var updates: [(LeafIndex, LeafNode)] = []
        var removes: [LeafIndex] = []
        var adds: [KeyPackage] = []
        var touched = Set<UInt32>()
        var pskIDs = Set<[UInt8]>()
        for (proposal, sender) in list {
            try validate(proposal, from: sender, inCommit: true)
            switch proposal {
            case let .groupContextExtensions(x):
                guard gce == nil else { throw GroupError.invalidProposalList(.multipleGroupContextExtensions) }
                gce = x
            case let .update(u):
                guard case let .member(leaf) = sender else { throw GroupError.invalidProposalList(.updateFromNonMember) }
                guard sender != committer else { throw GroupError.invalidProposalList(.updateFromCommitter) }
                guard touched.insert(leaf.rawValue).inserted else { throw GroupError.invalidProposalList(.leafUpdatedOrRemovedTwice(leaf.rawValue)) }
                updates.append((leaf, u.leafNode))
            case let .remove(r):
                guard committer != .member(r) else { throw GroupError.invalidProposalList(.removeOfCommitter) }
                guard touched.insert(r.rawValue).inserted else { throw GroupError.invalidProposalList(.leafUpdatedOrRemovedTwice(r.rawValue)) }
                removes.append(r)
            case let .add(keyPackage):
                adds.append(keyPackage)
            case let .preSharedKey(psk):
                guard pskIDs.insert(psk.tlsSerialized).inserted else { throw GroupError.invalidProposalList(.duplicatePSK) }
                effects.psks.append(psk)
            case let .reInit(r):
                effects.reinit = r
            case let .externalInit(kemOutput):
                guard effects.externalInit == nil else { throw GroupError.invalidProposalList(.multipleExternalInits) }
                effects.externalInit = kemOutput
            }
        }
        if external {
            guard effects.externalInit != nil else { throw GroupError.invalidProposalList(.externalCommitWithoutExternalInit) }
            guard removes.count <= 1, updates.isEmpty, adds.isEmpty, gce == nil, effects.reinit == nil else {
                throw GroupError.invalidProposalList(.externalCommitProposals)
            }
        } else {
            guard effects.externalInit == nil else { throw GroupError.invalidProposalList(.externalInitInRegularCommit) }
            if effects.reinit != nil, list.count > 1 { throw GroupError.invalidProposalList(.reinitWithOtherProposals) }
        }
        effects.pathRequired = list.isEmpty || !updates.isEmpty || !removes.isEmpty || gce != nil || effects.externalInit != nil

        // §12.3 order: extensions, updates, removes, adds.
        if let gce { context.extensions = gce }
        for (leaf, node) in updates {
            if let e = leafValidator.validate(node, at: leaf, in: tree, expectedSource: .update) { throw GroupError.leafNode(e) }
            try tree.update(leaf, with: node)
            if leaf == myLeaf {
                guard let key = pendingLeafKeys[node.encryptionKey] else { throw GroupError.invalidProposal(.updateOfOwnLeafNotSent) }
                privateKey = TreeKEMPrivateKey(suite: suite, leafIndex: myLeaf, leafPrivateKey: key)
            } else {
                privateKey.forget(TreeMath.directPath(leaf.nodeIndex, leafCount: tree.leafCount))
            }
        }
        effects.removedLeaves = removes
        for leaf in removes {
            privateKey.forget(TreeMath.directPath(leaf.nodeIndex, leafCount: tree.leafCount))
            try tree.remove(leaf)
            if leaf == myLeaf { effects.removedMe = true }
        }
        privateKey.forgetBeyond(tree.nodeWidth)
        let results = leafValidator.validate(keyPackages: adds, against: tree)
        if let bad = results.firstIndex(where: { $0 != nil }), let e = results[bad] {
            if case .invalidLeafNode(.duplicateSignatureKey) = e { throw GroupError.invalidProposalList(.addOfExistingClient) }
            throw GroupError.keyPackage(e)
        }
        // The group may not grow past its limits, whoever commits (Adds are O(1) each to place,
        // but every later operation pays for the width and the members).
        let limits = configuration.limits
        guard tree.memberCount + adds.count <= limits.maxMembers else { throw GroupError.limitExceeded(.members) }
        for kp in adds { effects.newMembers.append((tree.add(kp.leafNode), kp)) }
        guard tree.leafCount <= limits.maxLeaves else { throw GroupError.limitExceeded(.leaves) }
        if gce != nil {
            // §12.1.7, §13.4: every remaining member supports the new extensions.
            let leaves = tree.memberLeaves.compactMap { tree.leaf($0) }
            try checkRequiredCapabilities(context.extensions, leaves: leaves)
            guard context.extensions.count <= limits.maxExtensions else { throw GroupError.limitExceeded(.extensions) }
            let needed = context.extensions.map(\.extensionType).filter { !$0.isDefault }
            for leaf in leaves where !needed.isEmpty {
                let supported = Set(leaf.capabilities.extensions.map(\.rawValue))
                if let t = needed.first(where: { !supported.contains($0.rawValue) }) {
                    throw GroupError.invalidProposal(.memberLacksExtension(t))
                }
            }
        }
        guard tree.credentialTypesCompatible() else { throw GroupError.leafNode(.credentialTypeNotSupportedByGroup) }
        return effects
    }

    /// `psk_secret` for the PSKs of a commit (§8.4), `nil` when there are none; this group's
    /// own resumption PSKs come from its retained epochs.
    func pskSecret(_ ids: [PreSharedKeyID]) throws -> SecretBytes? {
        try Self.pskSecret(ids, suite: suite, store: configuration.psks, limits: configuration.limits, own: (groupID, resumptionPSKs))
    }
}

extension TreeKEMPrivateKey {
    /// Forgets keys of nodes a truncation removed.
    mutating func forgetBeyond(_ width: UInt32) {
        keys = keys.filter { $0.key < width }
    }
}
