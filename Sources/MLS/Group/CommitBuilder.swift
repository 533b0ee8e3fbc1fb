@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// What one commit this client builds consists of (RFC 9420 §12.4.1): everything in which a
/// member's commit, a ReInit or branch group's first commit (both member commits) and an
/// external join's commit (§12.4.3.2) differ. The rest is ``MLSGroup/buildCommit(_:)``'s.
struct CommitPlan {
    /// `member(myLeaf)` for a member's commit, `newMemberCommit` for an external commit.
    var sender: Sender
    /// The proposals in the order the commit applies them, with their proposers and whether
    /// the commit refers to them (§12.3).
    var proposals: [(proposal: Proposal, sender: Sender, byReference: Bool)]
    /// The commit's `proposals` field, in the same order.
    var proposalRefs: [ProposalOrRef]
    /// The init secret of the key schedule (§8): the epoch's, or for an external commit the
    /// one exported to the group's `external_pub` (§8.3).
    var initSecret: SecretBytes
    /// Whether to send an UpdatePath when no proposal requires one (§12.4).
    var alwaysIncludePath: Bool
    var authenticatedData: [UInt8]
    /// An external joiner's LeafNode: it takes the leftmost blank leaf once the proposals are
    /// applied (§12.4.3.2, §7.7), and the UpdatePath starts there.
    var joinerLeaf: LeafNode? = nil
}

/// A commit built and framed, with the state of the epoch it creates.
struct BuiltCommit {
    /// The framed commit, to send.
    let message: MLSMessage
    /// The state in the new epoch: tree, private keys, GroupContext and secrets installed.
    let next: MLSGroup
    /// The new epoch's key schedule (for Welcome and GroupInfo).
    let secrets: KeyScheduleEpoch
    let effects: ProposalEffects
    /// The committer's leaf (for an external commit, the leaf the joiner took).
    let committer: LeafIndex
    /// The path secrets of the UpdatePath's nodes, for the Welcome's `path_secret` (§12.4.3.1).
    let pathSecrets: [(node: NodeIndex, secret: SecretBytes)]
    let hasPath: Bool
}

extension MLSGroup {
    /// The one commit builder (§12.4.1): applies the proposals to a copy of this state, creates
    /// the UpdatePath if required or asked for, signs the FramedContent, runs the transcript
    /// hash and key schedule (§8.2), computes the confirmation tag and frames the commit. Every
    /// kind of commit this client sends goes through it, so the order of these steps (the
    /// signature covers the content but not the confirmation tag, which needs the new epoch's
    /// confirmation key, which needs the confirmed transcript hash over the signed content) is
    /// written once.
    ///
    /// `self` is the state in the epoch the commit leaves; PrivateMessage framing consumes one
    /// of its handshake key generations, which is why it is `mutating`. Nothing else of `self`
    /// changes.
    mutating func buildCommit(_ plan: CommitPlan) throws -> BuiltCommit {
        var next = self
        let effects = try next.applyProposals(plan.proposals.map { ($0.proposal, $0.sender) }, committer: plan.sender)
        let committer: LeafIndex
        if let joiner = plan.joinerLeaf {
            // §7.3: our signature key may not already be another member's (unless the commit
            // removes that leaf, as a resynchronisation does). Found by FuzzExternalJoin: the
            // state built otherwise was one the members refuse and the store cannot restore.
            guard next.tree.leafIndex(signatureKey: joiner.signatureKey) == nil else { throw GroupError.leafNode(.duplicateSignatureKey) }
            committer = next.tree.leftmostBlankLeaf()
            next.tree.setLeaf(committer, joiner)
            for p in plan.proposals { try next.checkRules(p.proposal, from: .newMemberCommit(next.member(committer, joiner))) }
        } else {
            committer = myLeaf
        }
        // The UpdatePath's leaf and parent hashes are computed under the new epoch's number
        // and the proposals' extensions, with the transcript of the epoch being left (§7.9).
        var provisional = next.context
        provisional.epoch = try nextEpoch
        provisional.confirmedTranscriptHash = context.confirmedTranscriptHash
        var path: UpdatePath?
        var commitSecret: SecretBytes?
        var pathSecrets: [(node: NodeIndex, secret: SecretBytes)] = []
        if effects.pathRequired || plan.alwaysIncludePath || plan.joinerLeaf != nil {
            let newLeaves = Set(effects.newMembers.map(\.leaf))
            let (creation, key) = try next.tree.createUpdatePath(from: committer, signer: signer, groupContext: provisional, excluding: newLeaves)
            next.privateKey = key
            path = creation.updatePath
            commitSecret = creation.commitSecret
            pathSecrets = creation.pathSecrets
        }
        // An external joiner has no membership key or secret tree of this epoch: its commit is
        // a PublicMessage (§12.4.3.2).
        let wireFormat: WireFormat = plan.sender == .newMemberCommit ? .publicMessage : handshakeWireFormat
        let content = FramedContent(groupID: groupID, epoch: epoch, sender: plan.sender, authenticatedData: plan.authenticatedData,
                                    content: .commit(Commit(proposals: plan.proposalRefs, path: path)))
        let signature = try MessageProtection.sign(suite: suite, content: content, wireFormat: wireFormat, context: context, signer: signer)
        var ac = AuthenticatedContent(wireFormat: wireFormat, content: content, auth: FramedContentAuthData(signature: signature, confirmationTag: nil))
        let (secrets, confirmed) = try next.deriveNextEpoch(commit: ac, initSecret: plan.initSecret, commitSecret: commitSecret, psks: effects.psks)
        let tag = TranscriptHash.confirmationTag(suite: suite, confirmationKey: secrets.confirmationKey, confirmed: confirmed)
        ac.auth.confirmationTag = tag
        let message = try frame(content, auth: ac.auth, wireFormat: wireFormat)
        next.advance(from: self, secrets: secrets, confirmationTag: tag)
        next.pendingReInit = effects.reinit
        return BuiltCommit(message: message, next: next, secrets: secrets, effects: effects, committer: committer, pathSecrets: pathSecrets,
                           hasPath: path != nil)
    }
}
