@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// What a committer obtains from creating an UpdatePath (RFC 9420 §7.5, §12.4.2).
@_spi(Engine) public struct UpdatePathCreation: Sendable {
    /// The UpdatePath to put in the Commit.
    public let updatePath: UpdatePath
    /// `commit_secret` for the key schedule (§8).
    public let commitSecret: SecretBytes
    /// The path secret of each node on the filtered direct path, leaf to root, for the Welcome's
    /// `path_secret` of new members (§12.4.3.1).
    public let pathSecrets: [(node: NodeIndex, secret: SecretBytes)]
    /// The root tree hash after the update, as put into the provisional GroupContext.
    public let treeHash: [UInt8]
}

/// What a member obtains from processing an UpdatePath (RFC 9420 §7.5, §12.4.2).
@_spi(Engine) public struct UpdatePathProcessing: Sendable {
    /// `commit_secret` for the key schedule (§8).
    public let commitSecret: SecretBytes
    /// The path secret that was decrypted (the others are derived from it).
    public let decryptedPathSecret: SecretBytes
    /// The node whose path secret was decrypted.
    public let decryptedNode: NodeIndex
    /// The root tree hash after the merge.
    public let treeHash: [UInt8]
}

extension RatchetTree {
    /// The size of ``resolution(_:excluding:)``, counted without building it.
    func resolutionCount(_ node: NodeIndex, excluding newMembers: Set<LeafIndex>) -> Int {
        guard Int(node.rawValue) < slots.count else { return 0 }
        switch slots[Int(node.rawValue)] {
        case .leaf:
            return newMembers.contains(LeafIndex(node.rawValue / 2)) ? 0 : 1
        case let .parent(p):
            return 1 + p.unmergedLeaves.filter { !newMembers.contains(LeafIndex($0)) }.count
        case .blank:
            guard occupied[Int(node.rawValue)] > 0, let l = TreeMath.left(node), let r = TreeMath.right(node) else { return 0 }
            return resolutionCount(l, excluding: newMembers) + resolutionCount(r, excluding: newMembers)
        }
    }

    /// The resolution of `node` without the leaves of members added by the same commit (§7.6).
    func resolution(_ node: NodeIndex, excluding newMembers: Set<LeafIndex>) -> [NodeIndex] {
        let res = resolution(node)
        return newMembers.isEmpty ? res : res.filter { !($0.isLeaf && newMembers.contains(LeafIndex($0.rawValue / 2))) }
    }

    /// Creates an UpdatePath for `sender` (§7.5–§7.6) and merges it into this tree.
    ///
    /// The direct path is blanked, fresh key pairs are derived along the filtered direct path,
    /// parent hashes are set, the new leaf (a copy of `leafNode`, or of the current leaf, with the
    /// new encryption key and a `commit` source) is signed, and every path secret is encrypted to
    /// the copath resolution minus `newMembers`, with the HPKE seals spread over all cores. The
    /// ciphertext order is the resolution order, identical to a sequential run.
    ///
    /// - Parameters:
    ///   - groupContext: the provisional GroupContext; its tree hash is replaced by the new one.
    ///   - firstPathSecret: the first path secret, for deterministic tests; random by default.
    ///   - sealing: `false` skips the HPKE encryptions and leaves every `encrypted_path_secret`
    ///     empty. Such a path must never be sent; it exists to build large test and benchmark
    ///     trees quickly, where only the resulting tree and keys matter.
    /// - Returns: the path, secrets and tree hash, and the committer's new private state.
    public mutating func createUpdatePath(
        from sender: LeafIndex, signer: any MLSSigner, groupContext: GroupContext, excluding newMembers: Set<LeafIndex> = [],
        leafNode template: LeafNode? = nil, firstPathSecret: SecretBytes? = nil, sealing: Bool = true
    ) throws -> (creation: UpdatePathCreation, privateKey: TreeKEMPrivateKey) {
        guard let current = leaf(sender) else { throw TreeError.invalidSender(sender) }
        // After a bulk Add most hashes are stale: computing them now fans out over all cores,
        // whereas the parent-hash walk below would compute them one by one.
        _ = treeHash()
        let directPath = TreeMath.directPath(sender.nodeIndex, leafCount: leafCount)
        let undo = [(sender.nodeIndex, slots[Int(sender.nodeIndex.rawValue)])] + directPath.map { ($0, slots[Int($0.rawValue)]) }
        do {
            return try createUpdatePathMerging(from: sender, current: current, signer: signer, groupContext: groupContext,
                                               excluding: newMembers, leafNode: template, firstPathSecret: firstPathSecret, sealing: sealing)
        } catch {
            // A seal can fail on a malformed public key in the tree: leave the tree as it was.
            for (n, slot) in undo { setSlot(n, slot) }
            throw error
        }
    }

    private mutating func createUpdatePathMerging(
        from sender: LeafIndex, current: LeafNode, signer: any MLSSigner, groupContext: GroupContext, excluding newMembers: Set<LeafIndex>,
        leafNode template: LeafNode?, firstPathSecret: SecretBytes?, sealing: Bool
    ) throws -> (creation: UpdatePathCreation, privateKey: TreeKEMPrivateKey) {
        let suite = self.suite
        blankDirectPath(sender)
        let path = filteredDirectPath(sender)

        var secrets: [SecretBytes] = []
        var s = firstPathSecret ?? SecretBytes(randomCount: suite.kdfLength)
        for _ in path {
            secrets.append(s)
            s = try TreeKEMPrivateKey.nextPathSecret(suite, s)
        }
        let commitSecret = s
        let pairs = try parallelMap(secrets, minimumBatch: 2) { try TreeKEMPrivateKey.nodeKeyPair(suite, pathSecret: $0) }
        for (k, entry) in path.enumerated() {
            setSlot(entry.node, .parent(ParentNode(encryptionKey: pairs[k].publicKey, parentHash: [], unmergedLeaves: [])))
        }
        let leafParentHash = setParentHashes(along: path)

        let leafKeys = suite.hpke.generateKeyPair()
        var newLeaf = template ?? current
        newLeaf.encryptionKey = leafKeys.publicKey
        newLeaf.leafNodeSource = .commit(parentHash: leafParentHash)
        try newLeaf.sign(suite: suite, signer: signer, groupID: groupContext.groupID, leafIndex: sender.rawValue)
        setSlot(sender.nodeIndex, .leaf(newLeaf))

        var context = groupContext
        context.treeHash = treeHash()
        let contextBytes = context.tlsSerialized

        // Flatten every (path node, resolution node) pair so all seals share one fan-out.
        var jobs: [(slot: Int, key: [UInt8], secret: SecretBytes)] = []
        var counts: [Int] = []
        for (k, entry) in path.enumerated() {
            let targets = sealing ? resolution(entry.copathChild, excluding: newMembers) : []
            counts.append(targets.count)
            for t in targets {
                guard let key = encryptionKey(at: t) else { continue }
                jobs.append((k, key, secrets[k]))
            }
        }
        let ciphertexts = try parallelMap(jobs, minimumBatch: 2) { job in
            try suite.encryptWithLabel(publicKey: job.key, label: "UpdatePathNode", context: contextBytes, plaintext: job.secret.unsafeCopiedBytes())
        }
        var nodes: [UpdatePathNode] = []
        var cursor = 0
        for (k, count) in counts.enumerated() {
            nodes.append(UpdatePathNode(encryptionKey: pairs[k].publicKey, encryptedPathSecret: Array(ciphertexts[cursor..<cursor + count])))
            cursor += count
        }

        var privateKey = TreeKEMPrivateKey(suite: suite, leafIndex: sender, leafPrivateKey: leafKeys.privateKey)
        for (k, entry) in path.enumerated() { privateKey.keys[entry.node.rawValue] = pairs[k].privateKey }
        let creation = UpdatePathCreation(
            updatePath: UpdatePath(leafNode: newLeaf, nodes: nodes), commitSecret: commitSecret,
            pathSecrets: zip(path, secrets).map { ($0.node, $1) }, treeHash: context.treeHash)
        return (creation, privateKey)
    }

    /// Merges an UpdatePath from `sender` into this tree and decrypts the path secret for the
    /// member holding `privateKey` (§7.5, §12.4.2).
    ///
    /// Checks: the path length matches the sender's filtered direct path; each node carries one
    /// ciphertext per copath-resolution member (minus `newMembers`); no path key is already in
    /// the tree; the new leaf passes `validator` (if given) as a `commit` leaf; the leaf's
    /// `parent_hash` matches the merged path; the decrypted path secret derives exactly the
    /// public keys of the path. Only one HPKE decryption is performed.
    ///
    /// On any failure the tree and `privateKey` are left exactly as they were.
    ///
    /// `senderIsNew` is for external commits, whose sender's leaf is still blank.
    public mutating func processUpdatePath(
        _ updatePath: UpdatePath, from sender: LeafIndex, groupContext: GroupContext, privateKey: inout TreeKEMPrivateKey,
        excluding newMembers: Set<LeafIndex> = [], validator: LeafNodeValidator? = nil, senderIsNew: Bool = false
    ) throws -> UpdatePathProcessing {
        let me = privateKey.leafIndex
        guard sender != me, leaf(me) != nil else { throw TreeError.invalidSender(sender) }
        let (path, undo) = try mergeUpdatePath(updatePath, from: sender, groupContext: groupContext, excluding: newMembers,
                                               validator: validator, senderIsNew: senderIsNew)
        func rollback() { for (n, slot) in undo { setSlot(n, slot) } }
        var context = groupContext
        context.treeHash = treeHash()
        let directPath = TreeMath.directPath(sender.nodeIndex, leafCount: leafCount)

        do {
            // The first path node whose copath subtree holds our leaf is the one encrypted to us.
            guard let k = path.firstIndex(where: { TreeMath.isAncestor($0.copathChild, of: me.nodeIndex) }) else { throw TreeError.noDecryptionKey }
            let targets = resolution(path[k].copathChild, excluding: newMembers)
            guard let position = targets.firstIndex(where: { privateKey.keys[$0.rawValue] != nil }),
                  let key = privateKey.keys[targets[position].rawValue] else { throw TreeError.noDecryptionKey }
            let plain: [UInt8]
            do {
                plain = try suite.decryptWithLabel(privateKey: key, label: "UpdatePathNode", context: context.tlsSerialized,
                                                   ciphertext: updatePath.nodes[k].encryptedPathSecret[position])
            } catch {
                throw TreeError.decryptionFailed
            }
            var plainCopy = plain
            let pathSecret = SecretBytes(zeroizing: &plainCopy)
            var updated = privateKey
            updated.forget(directPath)
            let commitSecret = try updated.implant(pathSecret: pathSecret, path: path.map(\.node), from: k,
                                                   publicKeys: { n in path.firstIndex { $0.node == n }.map { updatePath.nodes[$0].encryptionKey } })
            privateKey = updated
            return UpdatePathProcessing(commitSecret: commitSecret, decryptedPathSecret: pathSecret, decryptedNode: path[k].node, treeHash: context.treeHash)
        } catch {
            rollback()
            throw error
        }
    }

    /// The public half of processing an UpdatePath (§7.5, §12.4.2): every check that needs no
    /// private key, then the merge. It is all a member can verify of a commit that removes it,
    /// since the path secrets are encrypted to the remaining members only.
    ///
    /// Checks: the sender is in range (and its leaf present unless `senderIsNew`); the new leaf
    /// passes `validator` (if given) as a `commit` leaf; the path length matches the sender's
    /// filtered direct path; each node carries one ciphertext per copath-resolution member
    /// (minus `newMembers`); no path key is already in the tree or repeated; the leaf's
    /// `parent_hash` matches the merged path. On failure the tree is unchanged; on success the
    /// returned undo list restores it.
    mutating func mergeUpdatePath(
        _ updatePath: UpdatePath, from sender: LeafIndex, groupContext: GroupContext, excluding newMembers: Set<LeafIndex>,
        validator: LeafNodeValidator?, senderIsNew: Bool
    ) throws -> (path: [FilteredPathEntry], undo: [(NodeIndex, Slot)]) {
        // An external committer's leaf is the blank one reserved for it (§12.4.3.2).
        guard sender.rawValue < leafCount, senderIsNew || leaf(sender) != nil else { throw TreeError.invalidSender(sender) }
        if let validator, let e = validator.validate(updatePath.leafNode, at: sender, in: self, expectedSource: .commit) {
            throw TreeError.invalidLeafNode(sender, e)
        }
        let path = filteredDirectPath(sender)
        guard updatePath.nodes.count == path.count else { throw TreeError.pathLengthMismatch(expected: path.count, got: updatePath.nodes.count) }
        let directPath = Set(TreeMath.directPath(sender.nodeIndex, leafCount: leafCount))
        var seen = Set<[UInt8]>()
        for (k, entry) in path.enumerated() {
            let key = updatePath.nodes[k].encryptionKey
            if let owner = nodeIndex(encryptionKey: key), !directPath.contains(owner) { throw TreeError.duplicateEncryptionKey(node: entry.node.rawValue) }
            guard seen.insert(key).inserted, key != updatePath.leafNode.encryptionKey else { throw TreeError.duplicateEncryptionKey(node: entry.node.rawValue) }
            guard updatePath.nodes[k].encryptedPathSecret.count == resolutionCount(entry.copathChild, excluding: newMembers) else {
                throw TreeError.ciphertextCountMismatch(node: entry.node.rawValue)
            }
        }

        // Merge, remembering what to restore if anything below fails.
        var undo: [(NodeIndex, Slot)] = [(sender.nodeIndex, slots[Int(sender.nodeIndex.rawValue)])]
        for p in directPath { undo.append((p, slots[Int(p.rawValue)])) }
        func rollback() { for (n, slot) in undo { setSlot(n, slot) } }

        blankDirectPath(sender)
        for (k, entry) in path.enumerated() {
            setSlot(entry.node, .parent(ParentNode(encryptionKey: updatePath.nodes[k].encryptionKey, parentHash: [], unmergedLeaves: [])))
        }
        let expectedParentHash = setParentHashes(along: path)
        guard case let .commit(leafParentHash) = updatePath.leafNode.leafNodeSource, leafParentHash == expectedParentHash else {
            rollback()
            throw TreeError.parentHashMismatch
        }
        setSlot(sender.nodeIndex, .leaf(updatePath.leafNode))
        return (path, undo)
    }
}
