@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// A member of a group as the application sees it (RFC 9420 §7.2, §5.3): its leaf, its
/// credential and the identity the group's credential policy derives from that credential.
///
/// Leaf indices change meaning as members leave and join (a freed leaf is reused, §7.7), so an
/// audit trail should record the ``identity`` (and, where it matters, the ``signatureKey``), not
/// the leaf.
public struct Member: Sendable, Equatable, CustomStringConvertible {
    /// The member's leaf in the epoch this value describes.
    public let leaf: LeafIndex
    /// The member's credential (§5.3).
    public let credential: Credential
    /// The stable identity the configured ``IdentityProvider`` derives from the credential
    /// (by default a basic credential's identity, or an X.509 end entity's DER subject).
    public let identity: [UInt8]
    /// The member's signature public key (§5.1.2); unique among the group's members (§7.3).
    public let signatureKey: [UInt8]

    init(leaf: LeafIndex, node: LeafNode, identity: [UInt8]) {
        self.leaf = leaf
        credential = node.credential
        self.identity = identity
        signatureKey = node.signatureKey
    }

    /// The identity as text when it is UTF-8 (as mailbox identities are), otherwise hex.
    public var description: String {
        let text = String(decoding: identity, as: UTF8.self)
        let printable = Array(text.utf8) == identity && !text.contains(where: { $0.isNewline })
        return "\(printable ? text : identity.map { String(format2: $0) }.joined()) (leaf \(leaf.rawValue))"
    }
}

extension String {
    /// Two lowercase hex digits, without Foundation.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self.init([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}

/// Who sent a proposal or message, as the application sees it (§6: the `Sender` of the framed
/// content, resolved against the group's roster).
public enum MessageAuthor: Sendable, Equatable {
    /// A member of the group.
    case member(Member)
    /// An entry of the group's `external_senders` extension (§12.1.8.1), by index, with its credential.
    case externalSender(index: UInt32, credential: Credential)
    /// A client asking to join with its own KeyPackage (`new_member_proposal`, §12.1.8).
    case newMemberProposal(credential: Credential)
    /// A client joining by external commit (`new_member_commit`, §12.4.3.2), at the leaf it takes.
    case newMemberCommit(Member)

    /// The member, when the author is (or, for an external commit, becomes) one.
    public var member: Member? {
        switch self {
        case let .member(m), let .newMemberCommit(m): m
        case .externalSender, .newMemberProposal: nil
        }
    }
}

/// A proposal as a commit applied it (§12.2, §12.3): the proposal, who proposed it, and whether
/// the commit carried it by value or referred to a cached one.
public struct CommittedProposal: Sendable, Equatable {
    /// The proposal.
    public let proposal: Proposal
    /// Who proposed it: the committer for a proposal by value.
    public let proposer: MessageAuthor
    /// Whether the commit referred to it by `ProposalRef` (§5.2) rather than carrying it.
    public let byReference: Bool
}

/// A member's leaf replaced by an Update proposal (§12.1.2).
public struct MemberUpdate: Sendable, Equatable {
    /// The member before the commit.
    public let before: Member
    /// The member after the commit (same leaf; new keys, possibly a successor credential).
    public let after: Member
}

/// What a commit did (RFC 9420 §12.4), described in members rather than leaf integers: who
/// committed, who was added, removed and updated, and what else changed. It is available before
/// the commit is applied (``StagedMessage``), so an application can audit or refuse it.
public struct CommitDescription: Sendable, Equatable {
    /// The epoch the commit creates.
    public let epoch: UInt64
    /// The committer, at its leaf in the new epoch (for an external commit, the joiner at the leaf
    /// it takes).
    public let committer: Member
    /// Whether this is an external commit (`new_member_commit`, §12.4.3.2).
    public let isExternal: Bool
    /// Every proposal the commit applies, in order (§12.3), with its proposer.
    public let proposals: [CommittedProposal]
    /// Members the commit adds, at their new leaves (§12.1.1).
    public let added: [Member]
    /// Members the commit removes, as they were before it (§12.1.3).
    public let removed: [Member]
    /// Members whose leaves Update proposals replace (§12.1.2).
    public let updated: [MemberUpdate]
    /// Pre-shared keys the commit injects (§12.1.4).
    public let psks: [PreSharedKeyID]
    /// The new GroupContext extensions, when the commit replaces them (§12.1.7).
    public let newExtensions: [Extension]?
    /// A committed ReInit: the group is frozen until it is reinitialized (§11.2, §12.1.5).
    public let reinit: ReInit?
    /// Whether the commit carries an UpdatePath (§12.4): the committer's keys are renewed.
    public let hasPath: Bool
    /// Whether the commit removes the member processing it. Then the group becomes inactive and
    /// ``committer`` is who removed it.
    public let removedSelf: Bool
    /// The commit message's `authenticated_data` (§6).
    public let authenticatedData: [UInt8]
}

/// A received message, verified and decoded, with the state processing it leads to, not yet
/// applied (RFC 9420 §6, §12.4.2, §15).
///
/// Dropping it leaves the group as it was. ``MLSGroup/apply(_:)`` adopts the state; it cannot
/// fail for a value staged from the group's current state.
public struct StagedMessage: Sendable {
    /// What the message is and who sent it.
    public let processed: ProcessedMessage
    /// The description of the commit, when the message is one.
    public var commit: CommitDescription? { processed.content.commit }
    let next: GroupBox
    /// The ``MLSGroup/revision`` of the state it was staged from.
    let base: UInt64
}

extension ProcessedContent {
    /// The commit's description, when the content is a commit.
    public var commit: CommitDescription? {
        if case let .commit(d) = self { return d }
        return nil
    }
}

extension MLSGroup {
    /// The member at `leaf`, with the identity the configured credential policy derives.
    public func member(at leaf: LeafIndex) -> Member? {
        tree.leaf(leaf).map { member(leaf, $0) }
    }

    func member(_ leaf: LeafIndex, _ node: LeafNode) -> Member {
        Member(leaf: leaf, node: node, identity: configuration.identity.identity(of: node.credential))
    }

    /// The group's members, in leaf order.
    public var roster: [Member] {
        tree.memberLeaves.compactMap { member(at: $0) }
    }

    /// Resolves a framed content's `Sender` against the state it was sent in (§6).
    func author(_ sender: Sender, content: MLSContent, in state: MLSGroup, newLeaf: LeafIndex? = nil, after: MLSGroup? = nil) -> MessageAuthor? {
        switch sender {
        case let .member(leaf):
            return state.member(at: leaf).map(MessageAuthor.member)
        case let .external(index):
            guard let senders = try? state.externalSenders(), Int(exactly: index).map({ $0 < senders.count }) == true else { return nil }
            return .externalSender(index: index, credential: senders[Int(index)].credential)
        case .newMemberProposal:
            guard case let .proposal(.add(add)) = content else { return nil }
            return .newMemberProposal(credential: add.leafNode.credential)
        case .newMemberCommit:
            guard let newLeaf, let m = (after ?? state).member(at: newLeaf) else { return nil }
            return .newMemberCommit(m)
        }
    }

    /// Describes a commit from the state before it (`self`), the state after it, and what
    /// applying the proposals did.
    func describeCommit(_ list: [(proposal: Proposal, sender: Sender, byReference: Bool)], epoch: UInt64, committer: LeafIndex, external: Bool,
                        effects: ProposalEffects, after next: MLSGroup, hasPath: Bool, authenticatedData: [UInt8]) throws -> CommitDescription {
        guard let committerMember = next.member(at: committer) ?? member(at: committer) else {
            throw GroupError.framing(.unknownSender)
        }
        var proposals: [CommittedProposal] = []
        proposals.reserveCapacity(list.count)
        var updated: [MemberUpdate] = []
        var extensions: [Extension]?
        for item in list {
            let proposer: MessageAuthor
            if item.sender == .newMemberCommit || (!item.byReference && !external && item.sender == .member(committer)) {
                proposer = external ? .newMemberCommit(committerMember) : .member(member(at: committer) ?? committerMember)
            } else {
                let content = MLSContent.proposal(item.proposal)
                guard let a = author(item.sender, content: content, in: self) else { throw GroupError.framing(.unknownSender) }
                proposer = a
            }
            proposals.append(CommittedProposal(proposal: item.proposal, proposer: proposer, byReference: item.byReference))
            switch item.proposal {
            case let .update(u):
                if case let .member(leaf) = item.sender, let before = member(at: leaf) {
                    updated.append(MemberUpdate(before: before, after: member(leaf, u.leafNode)))
                }
            case let .groupContextExtensions(g):
                extensions = g
            default: break
            }
        }
        return CommitDescription(
            epoch: epoch, committer: committerMember, isExternal: external, proposals: proposals,
            added: effects.newMembers.map { member($0.leaf, $0.keyPackage.leafNode) },
            removed: effects.removedLeaves.compactMap { member(at: $0) },
            updated: updated, psks: effects.psks, newExtensions: extensions, reinit: effects.reinit, hasPath: hasPath,
            removedSelf: effects.removedMe, authenticatedData: authenticatedData)
    }
}

extension MLSGroup {
    /// Describes this member's pending commit from the states before and after it, for a pending
    /// commit restored from storage, whose proposal list is not persisted: membership changes
    /// are found by comparing the trees' leaves, so ``CommitDescription/proposals`` and
    /// ``CommitDescription/psks`` are empty and ``CommitDescription/authenticatedData`` is empty.
    /// O(N), only on restore.
    func describeRestoredCommit(next: MLSGroup) throws -> CommitDescription {
        guard let committer = next.member(at: myLeaf) else { throw GroupStateError.malformed("pending commit without our leaf") }
        var added: [Member] = [], removed: [Member] = [], updated: [MemberUpdate] = []
        let width = max(tree.leafCount, next.tree.leafCount)
        var leaf: UInt32 = 0
        while leaf < width {
            defer { leaf += 1 }
            let index = LeafIndex(leaf)
            guard index != myLeaf else { continue }
            switch (member(at: index), next.member(at: index)) {
            case let (nil, after?): added.append(after)
            case let (before?, nil): removed.append(before)
            case let (before?, after?):
                guard tree.leaf(index) != next.tree.leaf(index) else { break }
                // A leaf replaced by a valid successor was updated; anything else is a new member
                // in a freed leaf.
                if configuration.identity.validSuccessor(old: before.credential, new: after.credential) {
                    updated.append(MemberUpdate(before: before, after: after))
                } else {
                    removed.append(before)
                    added.append(after)
                }
            case (nil, nil): break
            }
        }
        return CommitDescription(
            epoch: next.epoch, committer: committer, isExternal: false, proposals: [], added: added, removed: removed, updated: updated, psks: [],
            newExtensions: next.context.extensions == context.extensions ? nil : next.context.extensions, reinit: next.pendingReInit,
            hasPath: next.myLeafNode?.encryptionKey != myLeafNode?.encryptionKey, removedSelf: false, authenticatedData: [])
    }
}
