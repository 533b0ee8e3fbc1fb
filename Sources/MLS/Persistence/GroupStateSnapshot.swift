import MLSCodec
import MLSCrypto

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
        case let .unsupportedVersion(v): "unsupported group state format version \(v) (this build reads \(GroupStateSnapshot.formatVersion))"
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
/// The encoding is deterministic (maps are written in key order) and versioned: a record of
/// another version is refused with ``GroupStateError/unsupportedVersion(_:)``.
public struct GroupStateSnapshot: Sendable {
    /// The format version this build writes and reads.
    public static let formatVersion: UInt16 = 1
    /// Leading bytes of every record.
    static let magic: [UInt8] = Array("MLSK".utf8)

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
        w.writeUInt8(UInt8(formatVersion))
        w.write(node)
        return w.takeBytes()
    }

    /// Reads a node written by ``encodeNode(_:)``.
    public static func decodeNode(_ blob: [UInt8]) throws(GroupStateError) -> Node {
        var r = TLSReader(blob)
        do {
            let version = try r.readUInt8()
            guard UInt16(version) == formatVersion else { throw GroupStateError.unsupportedVersion(UInt16(version)) }
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
    public func snapshot(relativeTo reference: MLSGroup? = nil) -> GroupStateSnapshot {
        let base = reference.flatMap { $0.groupID == groupID && $0.suite == suite ? $0.tree : nil }
        var w = TLSWriter(capacity: 4096)
        w.writeRaw(GroupStateSnapshot.magic)
        w.writeUInt16(GroupStateSnapshot.formatVersion)
        w.writeUInt16(suite.id)
        w.write(context)
        w.writeUInt32(tree.nodeWidth)
        encodeMemberState(to: &w)
        if let pending {
            w.writeUInt8(1)
            let next = pending.next.group
            w.writeOpaque(pending.messageHash)
            w.write(next.context)
            Self.encode(next.tree.delta(relativeTo: tree), to: &w)
            next.encodeMemberState(to: &w)
        } else {
            w.writeUInt8(0)
        }
        // Past epochs, oldest first; each tree is an overlay on the next newer one.
        w.writeVector { w in
            for (i, past) in pastEpochs.enumerated() {
                let newer = i + 1 < pastEpochs.count ? pastEpochs[i + 1].tree : tree
                w.write(past.context)
                past.secretTree.encodeState(to: &w)
                past.senderDataSecret.withUnsafeBytes { w.writeOpaque($0) }
                Self.encode(past.tree.delta(relativeTo: newer), to: &w)
            }
        }
        var bytes = w.takeBytes()
        return GroupStateSnapshot(groupID: groupID, epoch: epoch, record: SecretBytes(zeroizing: &bytes),
                                  tree: tree.delta(relativeTo: base), isComplete: base == nil)
    }

    /// The member's private and per-epoch state (everything but context and trees).
    private func encodeMemberState(to w: inout TLSWriter) {
        func secret(_ s: SecretBytes, _ w: inout TLSWriter) { s.withUnsafeBytes { w.writeOpaque($0) } }
        w.writeUInt32(privateKey.leafIndex.rawValue)
        w.writeVector { w in
            for (node, key) in privateKey.keys.sorted(by: { $0.key < $1.key }) {
                w.writeUInt32(node)
                secret(key, &w)
            }
        }
        // An in-memory signer's key is part of the state; a signer that keeps its key elsewhere
        // (an HSM) is stored as an empty key and must be supplied again on restore.
        secret((signer as? InMemorySigner)?.privateKey ?? SecretBytes(zeros: 0), &w)
        let e = epochSecrets
        for s in [e.joinerSecret, e.welcomeSecret, e.senderDataSecret, e.encryptionSecret, e.exporterSecret, e.epochAuthenticator,
                  e.externalSecret, e.confirmationKey, e.membershipKey, e.resumptionPSK, e.initSecret] {
            secret(s, &w)
        }
        secretTree.encodeState(to: &w)
        w.writeOpaque(interimTranscriptHash)
        w.writeVector { w in
            for p in proposalCache {
                w.writeOpaque(p.ref)
                w.write(p.proposal)
                w.write(p.sender)
            }
        }
        w.writeVector { w in
            for (epoch, psk) in resumptionPSKs.sorted(by: { $0.key < $1.key }) {
                w.writeUInt64(epoch)
                secret(psk, &w)
            }
        }
        w.writeVector { w in
            for (pub, key) in pendingLeafKeys.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                w.writeOpaque(pub)
                secret(key, &w)
            }
        }
        w.writeOptional(linkedResumptionUsage)
        w.writeVector { w in
            for (message, proposal) in ownProposalMessages.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                w.writeOpaque(message)
                w.write(proposal)
            }
        }
        w.writeUInt8(isActive ? 1 : 0)
        w.writeOptional(pendingReInit)
    }

    private static func encode(_ delta: TreeDelta, to w: inout TLSWriter) {
        w.writeUInt32(delta.nodeWidth)
        w.writeVector { w in
            for (index, node) in delta.nodes {
                w.writeUInt32(index)
                w.writeOptional(node)
            }
        }
    }

    private static func decodeDelta(_ r: inout TLSReader) throws -> TreeDelta {
        let width = try r.readUInt32()
        var list = try r.readVectorReader()
        var nodes: [(index: UInt32, node: Node?)] = []
        while !list.isAtEnd {
            let index = try list.readUInt32()
            guard index < width, nodes.last.map({ $0.index < index }) ?? true else { throw GroupStateError.malformed("tree overlay index \(index)") }
            nodes.append((index, try list.readOptional(of: Node.self)))
        }
        return TreeDelta(nodeWidth: width, nodes: nodes)
    }

    /// Restores a group from a record and the current tree's non-blank nodes, as written by
    /// ``snapshot(relativeTo:)``. The configuration is the application's and is not stored.
    ///
    /// The rebuilt tree's hash must equal the stored GroupContext's `tree_hash` (§8.1), so nodes
    /// that were lost, altered or taken from another state are detected.
    public init(restoringRecord record: SecretBytes, nodes: [UInt32: Node], configuration: GroupConfiguration = GroupConfiguration(),
                signer external: (any MLSSigner)? = nil) throws(GroupStateError) {
        var bytes = record.unsafeCopiedBytes()
        defer { SecretBytes.zeroize(&bytes) }
        var r = TLSReader(bytes)
        do {
            guard r.remaining >= 6, try r.readBytes(4) == GroupStateSnapshot.magic else { throw GroupStateError.notGroupState }
            let version = try r.readUInt16()
            guard version == GroupStateSnapshot.formatVersion else { throw GroupStateError.unsupportedVersion(version) }
            let suiteID = try r.readUInt16()
            guard let suite = CipherSuite(id: suiteID) else { throw GroupStateError.unknownCipherSuite(suiteID) }
            let context = try r.read(GroupContext.self)
            let width = try r.readUInt32()
            // A stored record is input too (a tampered store): the widths are bounded by the
            // same limit as a received tree before anything of that size is allocated.
            let maxWidth = TreeMath.nodeWidth(configuration.limits.maxLeaves)
            guard width <= maxWidth else { throw GroupStateError.malformed("tree width \(width) exceeds the configured limit") }
            var tree = try Self.buildTree(suite: suite, width: width, nodes: nodes)
            guard tree.treeHash() == context.treeHash else { throw GroupStateError.treeHashMismatch }
            // The unmerged lists feed resolution math; a stored tree gets the check a received one does.
            do { try tree.verifyUnmergedLeaves() } catch { throw GroupStateError.malformed("\(error)") }
            var group = try Self.decodeMemberState(&r, suite: suite, context: context, tree: tree, configuration: configuration, signer: external)
            if try r.readPresence("pending commit") {
                let message = try r.readOpaque()
                let nextContext = try r.read(GroupContext.self)
                var nextTree = tree
                let delta = try Self.decodeDelta(&r)
                guard delta.nodeWidth <= maxWidth else { throw GroupStateError.malformed("pending tree width \(delta.nodeWidth)") }
                try nextTree.apply(delta)
                try nextTree.verifyUnmergedLeaves()
                // The pending commit leads to the next epoch, and only to it.
                guard nextContext.epoch == context.epoch &+ 1, context.epoch < .max else { throw GroupStateError.malformed("pending commit epoch") }
                let next = try Self.decodeMemberState(&r, suite: suite, context: nextContext, tree: nextTree, configuration: configuration, signer: external)
                guard message.count == suite.hash.outputLength else { throw GroupStateError.malformed("pending commit hash length") }
                group.pending = PendingCommit(messageHash: message, next: GroupBox(next), description: try group.describeRestoredCommit(next: next))
            }
            var pastReader = try r.readVectorReader()
            var past: [(context: GroupContext, secretTree: SecretTree, senderData: SecretBytes, delta: TreeDelta)] = []
            while !pastReader.isAtEnd {
                let ctx = try pastReader.read(GroupContext.self)
                let st = try SecretTree(decodingStateFrom: &pastReader, suite: suite, maxForwardDistance: configuration.maxForwardDistance)
                var raw = try pastReader.readOpaque()
                let senderData = SecretBytes(zeroizing: &raw)
                let delta = try Self.decodeDelta(&pastReader)
                guard delta.nodeWidth <= maxWidth else { throw GroupStateError.malformed("past tree width \(delta.nodeWidth)") }
                past.append((ctx, st, senderData, delta))
            }
            // Rebuild newest first: each past tree is an overlay on the next newer one.
            var newer = tree
            var epochs: [PastEpoch] = []
            for p in past.reversed() {
                var t = newer
                try t.apply(p.delta)
                try t.verifyUnmergedLeaves()
                epochs.append(PastEpoch(context: p.context, secretTree: p.secretTree, senderDataSecret: p.senderData, tree: t))
                newer = t
            }
            group.pastEpochs = epochs.reversed()
            try r.finish()
            self = group
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

    private static func decodeMemberState(_ r: inout TLSReader, suite: CipherSuite, context: GroupContext, tree: RatchetTree,
                                          configuration: GroupConfiguration, signer external: (any MLSSigner)?) throws -> MLSGroup {
        func secret(_ r: inout TLSReader) throws -> SecretBytes {
            var raw = try r.readOpaque()
            return SecretBytes(zeroizing: &raw)
        }
        let leaf = LeafIndex(try r.readUInt32())
        guard leaf.rawValue < tree.leafCount else { throw GroupStateError.malformed("own leaf outside the tree") }
        var keyList = try r.readVectorReader()
        var keys: [UInt32: SecretBytes] = [:]
        while !keyList.isAtEnd {
            let node = try keyList.readUInt32()
            guard node < tree.nodeWidth, keys[node] == nil else { throw GroupStateError.malformed("private key index \(node)") }
            keys[node] = try secret(&keyList)
        }
        let signatureKey = try secret(&r)
        let s = try (0..<11).map { _ in try secret(&r) }
        let epochSecrets = KeyScheduleEpoch(
            suite: suite, joinerSecret: s[0], welcomeSecret: s[1], senderDataSecret: s[2], encryptionSecret: s[3], exporterSecret: s[4],
            epochAuthenticator: s[5], externalSecret: s[6], confirmationKey: s[7], membershipKey: s[8], resumptionPSK: s[9], initSecret: s[10])
        let secretTree = try SecretTree(decodingStateFrom: &r, suite: suite, maxForwardDistance: configuration.maxForwardDistance)
        guard secretTree.leafCount == tree.leafCount else { throw GroupStateError.malformed("secret tree size") }
        let interim = try r.readOpaque()
        var privateKey = TreeKEMPrivateKey(suite: suite, leafIndex: leaf, leafPrivateKey: SecretBytes(zeros: 0))
        privateKey.keys = keys
        let signer: any MLSSigner
        if signatureKey.count == 0 {
            guard let external else { throw GroupStateError.signerRequired }
            signer = external
        } else {
            do { signer = try InMemorySigner(scheme: suite.signature, privateKey: signatureKey) } catch { throw GroupStateError.malformed("signature key") }
        }
        // The signer must be the one of our own leaf, or every signature we make would be refused.
        if let own = tree.leaf(leaf), own.signatureKey != signer.publicKey { throw GroupStateError.malformed("signature key is not our leaf's") }
        var group = MLSGroup(suite: suite, context: context, tree: tree, privateKey: privateKey, signer: signer,
                             epochSecrets: epochSecrets, interimTranscriptHash: interim, configuration: configuration)
        group.secretTree = secretTree
        var proposals = try r.readVectorReader()
        while !proposals.isAtEnd {
            let cached = CachedProposal(ref: try proposals.readOpaque(), proposal: try proposals.read(Proposal.self), sender: try proposals.read(Sender.self))
            if case let .member(l) = cached.sender, tree.leaf(l) == nil { throw GroupStateError.malformed("cached proposal from \(l)") }
            group.proposalCache.append(cached)
        }
        var psks = try r.readVectorReader()
        group.resumptionPSKs = [:]
        while !psks.isAtEnd {
            let epoch = try psks.readUInt64()
            group.resumptionPSKs[epoch] = try secret(&psks)
        }
        var leafKeys = try r.readVectorReader()
        while !leafKeys.isAtEnd {
            let pub = try leafKeys.readOpaque()
            group.pendingLeafKeys[pub] = try secret(&leafKeys)
        }
        group.linkedResumptionUsage = try r.readOptional(of: ResumptionPSKUsage.self)
        var own = try r.readVectorReader()
        while !own.isAtEnd {
            let message = try own.readOpaque()
            group.ownProposalMessages[message] = try own.read(Proposal.self)
        }
        group.isActive = try r.readPresence("is_active")
        group.pendingReInit = try r.readOptional(of: ReInit.self)
        return group
    }
}
