@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// Why persisted group state could not be read back. A record is refused, never misread.
public enum GroupStateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes do not start with the MLSKit group-state magic.
    case notGroupState
    /// The record or node blob uses a format version this build does not know.
    case unsupportedVersion(UInt16)
    /// The record names a cipher suite this build does not implement.
    case unknownCipherSuite(UInt16)
    /// The bytes are malformed (truncated, trailing bytes, an index outside the tree, a secret of
    /// the wrong length).
    case malformed(String)
    /// The stored tree's hash differs from the stored GroupContext's `tree_hash` (§8.1): nodes
    /// were lost, altered or mixed from another state.
    case treeHashMismatch
    /// The group signs with a signer that keeps its key outside MLSKit; pass it to the restore.
    case signerRequired

    public var description: String {
        switch self {
        case .notGroupState: "not an MLSKit group state record"
        case let .unsupportedVersion(v):
            "unsupported group state format version \(v) (this build reads records of versions \(GroupStateSnapshot.readableFormatVersions) and nodes of version \(GroupStateSnapshot.nodeFormatVersion))"
        case let .unknownCipherSuite(s): "group state uses unknown cipher suite \(s)"
        case let .malformed(m): "group state is malformed: \(m)"
        case .treeHashMismatch: "stored ratchet tree does not match the stored GroupContext's tree_hash"
        case .signerRequired: "the group's signer keeps its key outside MLSKit and must be supplied"
        }
    }
}

/// A member's group state in MLSKit's persisted form (see Docs/Storage.md): a record holding
/// everything except the current ratchet tree's nodes, plus the tree nodes that changed since a
/// reference state. Storing nodes apart from the record is what lets a commit write O(log n)
/// nodes instead of the whole tree.
///
/// The encoding is deterministic (maps are written in key order) and versioned: the record is
/// the named structure `GroupStateRecord` (see Docs/Storage.md); a record of a version this
/// build cannot read is refused with ``GroupStateError/unsupportedVersion(_:)``.
@_spi(Engine) public struct GroupStateSnapshot: Sendable {
    /// The record format version this build writes.
    public static let formatVersion: UInt16 = GroupStateRecord.currentVersion
    /// The record format versions this build reads: version 1 records (written before the
    /// record became a tagged structure) load, and are rewritten as the current version by the
    /// next transition.
    public static let readableFormatVersions: ClosedRange<UInt16> = GroupStateRecord.readableVersions
    /// The format version of a stored tree node. Nodes are versioned apart from the record: their
    /// layout (RFC 9420's `Node`) did not change when the record's did.
    public static let nodeFormatVersion: UInt8 = 1

    /// The group ID.
    public let groupID: [UInt8]
    /// The epoch the state is in.
    public let epoch: UInt64
    /// The record: secrets, GroupContext, pending commit, past epochs. Secret, so zeroized on release.
    public let record: SecretBytes
    /// The current tree's nodes that differ from the reference state (all non-blank nodes when
    /// ``isComplete``), with the tree's width.
    public let tree: TreeDelta
    /// Whether ``tree`` lists every non-blank node (no reference state was given, or it belonged
    /// to another group).
    public let isComplete: Bool

    /// A tree node as stored: a one-byte format version, then the RFC 9420 `Node` (§7.8).
    public static func encodeNode(_ node: Node) -> [UInt8] {
        var w = TLSWriter(capacity: 256)
        w.writeUInt8(nodeFormatVersion)
        w.write(node)
        return w.takeBytes()
    }

    /// Reads a node written by ``encodeNode(_:)``.
    public static func decodeNode(_ blob: [UInt8]) throws(GroupStateError) -> Node {
        var r = TLSReader(blob)
        do {
            let version = try r.readUInt8()
            guard version == nodeFormatVersion else { throw GroupStateError.unsupportedVersion(UInt16(version)) }
            let node = try r.read(Node.self)
            try r.finish()
            return node
        } catch let e as GroupStateError {
            throw e
        } catch {
            throw GroupStateError.malformed("tree node: \(error)")
        }
    }
}

extension MLSGroup {
    /// This state in persisted form. With `reference` (the state last written for this group),
    /// only the tree nodes that differ from it are included; the record is always complete.
    ///
    /// - Parameter pending: this member's pending commit, written in the same record so a
    ///   restarted process can still merge it or recognise its echo (§14). It is written only
    ///   if it was made from this state's epoch; a stale one is left out.
    @_spi(Engine) public func snapshot(relativeTo reference: MLSGroup? = nil, pending: PendingCommit? = nil) -> GroupStateSnapshot {
        snapshot(relativeTo: reference, pending: pending, formatVersion: GroupStateSnapshot.formatVersion)
    }

    /// ``snapshot(relativeTo:pending:)`` in a chosen record version: only the current one is
    /// ever written to a store; older ones exist so tests can produce the records an older build wrote.
    func snapshot(relativeTo reference: MLSGroup?, pending: PendingCommit? = nil, formatVersion: UInt16) -> GroupStateSnapshot {
        let base = reference.flatMap { $0.groupID == groupID && $0.suite == suite ? $0.tree : nil }
        var w = TLSWriter(capacity: 4096)
        stateRecord(pending: pending).encode(to: &w, version: formatVersion)
        var bytes = w.takeBytes()
        return GroupStateSnapshot(groupID: groupID, epoch: epoch, record: SecretBytes(zeroizing: &bytes),
                                  tree: tree.delta(relativeTo: base), isComplete: base == nil)
    }

    /// Whether `pending` was made from this state's epoch (see ``merge(_:)``).
    @_spi(Engine) public func isBase(of pending: PendingCommit) -> Bool {
        (try? checkBase(of: pending)) != nil
    }

    /// The named record of this state.
    func stateRecord(pending: PendingCommit? = nil) -> GroupStateRecord {
        let pendingRecord = pending.flatMap { pending -> PendingCommitRecord? in
            guard isBase(of: pending) else { return nil }
            let next = pending.next.group
            return PendingCommitRecord(commitHash: pending.messageHash, nextContext: next.context, nextTree: next.tree.delta(relativeTo: tree),
                                       nextMember: next.memberStateRecord())
        }
        let past = pastEpochs.enumerated().map { i, past in
            let newer = i + 1 < pastEpochs.count ? pastEpochs[i + 1].tree : tree
            return PastEpochRecord(context: past.context, secretTree: past.secretTree, senderDataSecret: past.senderDataSecret,
                                   tree: past.tree.delta(relativeTo: newer))
        }
        return GroupStateRecord(suite: suite, context: context, nodeWidth: tree.nodeWidth, member: memberStateRecord(), pending: pendingRecord,
                                pastEpochs: past)
    }

    /// The member's private and per-epoch state, maps in ascending key order so the same state
    /// always encodes to the same bytes.
    private func memberStateRecord() -> MemberStateRecord {
        MemberStateRecord(
            leafIndex: privateKey.leafIndex.rawValue,
            pathKeys: privateKey.keys.sorted { $0.key < $1.key }.map { (node: $0.key, privateKey: $0.value) },
            // An in-memory signer's key is part of the state; a signer that keeps its key elsewhere
            // (an HSM) is stored as an empty key and must be supplied again on restore.
            signaturePrivateKey: (signer as? InMemorySigner)?.privateKey ?? SecretBytes(zeros: 0),
            epochSecrets: EpochSecretsRecord(epochSecrets),
            secretTree: secretTree,
            interimTranscriptHash: interimTranscriptHash,
            proposals: proposalCache.map { (ref: $0.ref, proposal: $0.proposal, sender: $0.sender) },
            resumptionPSKs: resumptionPSKs.sorted { $0.key < $1.key }.map { (epoch: $0.key, psk: $0.value) },
            updateLeafKeys: pendingLeafKeys.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { (publicKey: $0.key, privateKey: $0.value) },
            linkedResumptionUsage: linkedResumptionUsage,
            ownProposals: ownProposalMessages.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { (message: $0.key, proposal: $0.value) },
            isActive: isActive,
            pendingReInit: pendingReInit)
    }

    /// Restores a group from a record and the current tree's non-blank nodes, as written by
    /// ``snapshot(relativeTo:pending:)`` (any of ``GroupStateSnapshot/readableFormatVersions``).
    /// A pending commit in the record is checked and dropped; use
    /// ``restoring(record:nodes:configuration:signer:)`` to get it.
    ///
    /// The configuration is the application's and is not stored: it holds policy objects
    /// (credential validation, proposal policy, PSK lookup, the clock) that cannot be written
    /// down, and it bounds what is read here (`limits.maxLeaves`, `maxForwardDistance`). There is
    /// deliberately no default, so a restored group never silently runs under another policy
    /// than the one it was created with.
    ///
    /// The rebuilt tree's hash must equal the stored GroupContext's `tree_hash` (§8.1), so nodes
    /// that were lost, altered or taken from another state are detected.
    @_spi(Engine) public init(restoringRecord record: SecretBytes, nodes: [UInt32: Node], configuration: GroupConfiguration,
                signer external: (any MLSSigner)? = nil) throws(GroupStateError) {
        self = try Self.restoring(record: record, nodes: nodes, configuration: configuration, signer: external).group
    }

    /// Restores a group and the pending commit stored with it (the record written by
    /// ``snapshot(relativeTo:pending:)``): the same checks as
    /// ``init(restoringRecord:nodes:configuration:signer:)``, and the pending commit's state is
    /// rebuilt and checked too.
    @_spi(Engine) public static func restoring(record: SecretBytes, nodes: [UInt32: Node], configuration: GroupConfiguration,
                                               signer external: (any MLSSigner)? = nil) throws(GroupStateError)
        -> (group: MLSGroup, pendingCommit: PendingCommit?) {
        var bytes = record.unsafeCopiedBytes()
        defer { SecretBytes.zeroize(&bytes) }
        let state = try GroupStateRecord(decoding: bytes, maxForwardDistance: configuration.maxForwardDistance)
        let suite = state.suite
        do {
            // A stored record is input too (a tampered store): the widths are bounded by the
            // same limit as a received tree before anything of that size is allocated.
            let maxWidth = TreeMath.nodeWidth(configuration.limits.maxLeaves)
            guard state.nodeWidth <= maxWidth else { throw GroupStateError.malformed("tree width \(state.nodeWidth) exceeds the configured limit") }
            var tree = try buildTree(suite: suite, width: state.nodeWidth, nodes: nodes)
            guard tree.treeHash() == state.context.treeHash else { throw GroupStateError.treeHashMismatch }
            // The unmerged lists feed resolution math; a stored tree gets the check a received one does.
            do { try tree.verifyUnmergedLeaves() } catch { throw GroupStateError.malformed("\(error)") }
            var group = try restoreMember(state.member, suite: suite, context: state.context, tree: tree, configuration: configuration,
                                               signer: external)
            var pendingCommit: PendingCommit?
            if let pending = state.pending {
                var nextTree = tree
                guard pending.nextTree.nodeWidth <= maxWidth else { throw GroupStateError.malformed("pending tree width \(pending.nextTree.nodeWidth)") }
                try nextTree.apply(pending.nextTree)
                try nextTree.verifyUnmergedLeaves()
                // The pending commit leads to the next epoch, and only to it.
                guard pending.nextContext.epoch == state.context.epoch &+ 1, state.context.epoch < .max else {
                    throw GroupStateError.malformed("pending commit epoch")
                }
                let next = try restoreMember(pending.nextMember, suite: suite, context: pending.nextContext, tree: nextTree,
                                                  configuration: configuration, signer: external)
                guard pending.commitHash.count == suite.hash.outputLength else { throw GroupStateError.malformed("pending commit hash length") }
                pendingCommit = PendingCommit(description: try group.describeRestoredCommit(next: next), base: group.context,
                                              messageHash: pending.commitHash, next: GroupBox(next))
            }
            for past in state.pastEpochs where past.tree.nodeWidth > maxWidth {
                throw GroupStateError.malformed("past tree width \(past.tree.nodeWidth)")
            }
            // Rebuild newest first: each past tree is an overlay on the next newer one.
            var newer = tree
            var epochs: [PastEpoch] = []
            for past in state.pastEpochs.reversed() {
                var t = newer
                try t.apply(past.tree)
                try t.verifyUnmergedLeaves()
                epochs.append(PastEpoch(context: past.context, secretTree: past.secretTree, senderDataSecret: past.senderDataSecret, tree: t))
                newer = t
            }
            group.pastEpochs = epochs.reversed()
            return (group, pendingCommit)
        } catch let e as GroupStateError {
            throw e
        } catch {
            throw GroupStateError.malformed("\(error)")
        }
    }

    private static func buildTree(suite: CipherSuite, width: UInt32, nodes: [UInt32: Node]) throws -> RatchetTree {
        guard width > 0, width % 2 == 1, (width &+ 1) & width == 0, width < UInt32.max / 2 else { throw GroupStateError.malformed("tree width \(width)") }
        guard let last = nodes.keys.max() else { throw GroupStateError.malformed("empty tree") }
        guard last < width else { throw GroupStateError.malformed("node \(last) outside a tree of width \(width)") }
        var list = [Node?](repeating: nil, count: Int(last) + 1)
        for (i, node) in nodes { list[Int(i)] = node }
        var tree = try RatchetTree(suite: suite, nodes: RatchetTreeNodes(nodes: list))
        guard tree.nodeWidth <= width else { throw GroupStateError.malformed("tree wider than recorded") }
        while tree.nodeWidth < width { tree.extend() }
        return tree
    }

    /// A group in `context` over `tree` with the member state of `m`, checked against the tree:
    /// the own leaf, the path keys' nodes and the cached proposals' senders must exist in it,
    /// and the secret tree must have its size.
    private static func restoreMember(_ m: MemberStateRecord, suite: CipherSuite, context: GroupContext, tree: RatchetTree,
                                      configuration: GroupConfiguration, signer external: (any MLSSigner)?) throws -> MLSGroup {
        let leaf = LeafIndex(m.leafIndex)
        guard leaf.rawValue < tree.leafCount else { throw GroupStateError.malformed("own leaf outside the tree") }
        var keys: [UInt32: SecretBytes] = [:]
        for entry in m.pathKeys {
            guard entry.node < tree.nodeWidth else { throw GroupStateError.malformed("private key index \(entry.node)") }
            keys[entry.node] = entry.privateKey
        }
        guard m.secretTree.leafCount == tree.leafCount else { throw GroupStateError.malformed("secret tree size") }
        var privateKey = TreeKEMPrivateKey(suite: suite, leafIndex: leaf, leafPrivateKey: SecretBytes(zeros: 0))
        privateKey.keys = keys
        let signer: any MLSSigner
        if m.signaturePrivateKey.count == 0 {
            guard let external else { throw GroupStateError.signerRequired }
            signer = external
        } else {
            do { signer = try InMemorySigner(scheme: suite.signature, privateKey: m.signaturePrivateKey) } catch { throw GroupStateError.malformed("signature key") }
        }
        // The signer must be the one of our own leaf, or every signature we made would be refused.
        if let own = tree.leaf(leaf), own.signatureKey != signer.publicKey { throw GroupStateError.malformed("signature key is not our leaf's") }
        var group = MLSGroup(suite: suite, context: context, tree: tree, privateKey: privateKey, signer: signer,
                             epochSecrets: m.epochSecrets.keySchedule(suite: suite), interimTranscriptHash: m.interimTranscriptHash,
                             configuration: configuration)
        group.secretTree = m.secretTree
        for p in m.proposals {
            let cached = CachedProposal(ref: p.ref, proposal: p.proposal, sender: p.sender)
            if case let .member(l) = cached.sender, tree.leaf(l) == nil { throw GroupStateError.malformed("cached proposal from \(l)") }
            group.proposalCache.append(cached)
        }
        // The decoder already refused maps out of order (and so any duplicate key); keeping the
        // first of equal keys rather than trapping keeps that true even if it ever did not.
        group.resumptionPSKs = Dictionary(m.resumptionPSKs.map { ($0.epoch, $0.psk) }, uniquingKeysWith: { first, _ in first })
        group.pendingLeafKeys = Dictionary(m.updateLeafKeys.map { ($0.publicKey, $0.privateKey) }, uniquingKeysWith: { first, _ in first })
        group.linkedResumptionUsage = m.linkedResumptionUsage
        group.ownProposalMessages = Dictionary(m.ownProposals.map { ($0.message, $0.proposal) }, uniquingKeysWith: { first, _ in first })
        group.isActive = m.isActive
        group.pendingReInit = m.pendingReInit
        return group
    }
}

extension GroupStateSnapshot {
    /// The resumption PSK (§8.6) a record retains for `epoch`, read from the record alone: the
    /// tree is not rebuilt, so no configuration is needed. For a PSK store that looks up
    /// resumption PSKs of stored groups without loading them.
    public static func resumptionPSK(inRecord record: SecretBytes, epoch: UInt64) throws(GroupStateError) -> SecretBytes? {
        var bytes = record.unsafeCopiedBytes()
        defer { SecretBytes.zeroize(&bytes) }
        // The forward distance only bounds later decryption with the secret trees read here;
        // nothing is decrypted with them.
        let state = try GroupStateRecord(decoding: bytes, maxForwardDistance: 0)
        return state.member.resumptionPSKs.first { $0.epoch == epoch }?.psk
    }
}
