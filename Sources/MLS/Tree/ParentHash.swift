@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// Parent hashes (RFC 9420 §7.9).
extension RatchetTree {
    /// `Hash(ParentHashInput)` for parent `node` with copath child whose original tree hash is
    /// `siblingHash` (§7.9).
    func parentHash(encryptionKey: [UInt8], parentHash: [UInt8], siblingHash: some Collection<UInt8>) -> [UInt8] {
        var w = TLSWriter(capacity: encryptionKey.count + parentHash.count + 80)
        w.writeOpaque(encryptionKey)
        w.writeOpaque(parentHash)
        w.writeOpaque(siblingHash)
        return suite.digest(w.bytes)
    }

    /// Sets the `parent_hash` fields along a freshly written filtered direct path, root first, and
    /// returns the value the leaf must carry (§7.9). The path's nodes must have no unmerged leaves
    /// (an UpdatePath clears them), so each original sibling tree hash is the cached one.
    mutating func setParentHashes(along path: [(node: NodeIndex, copathChild: NodeIndex)]) -> [UInt8] {
        var above: [UInt8] = []
        for (node, sibling) in path.reversed() {
            guard case var .parent(p) = slots[Int(node.rawValue)] else { continue }
            p.parentHash = above
            setSlot(node, .parent(p))
            above = parentHash(encryptionKey: p.encryptionKey, parentHash: p.parentHash, siblingHash: treeHash(of: sibling))
        }
        return above
    }

    /// The parent hash carried by the node at `node`, if it carries one (parents, and leaves
    /// whose source is `commit`).
    func storedParentHash(_ node: NodeIndex) -> [UInt8]? {
        switch slots[Int(node.rawValue)] {
        case let .parent(p): p.parentHash
        case let .leaf(l): if case let .commit(ph) = l.leafNodeSource { ph } else { nil }
        case .blank: nil
        }
    }

    /// Verifies that every non-blank parent node is parent-hash valid (§7.9.2), "top down": each
    /// must have exactly one descendant D, on one side C, with D.parent_hash equal to its parent
    /// hash with copath child S, D in the resolution of C, and P's unmerged leaves under C equal
    /// to that resolution without D.
    ///
    /// Cost is linear in the tree: each blank node is walked only from its nearest non-blank
    /// ancestor, the resolution walk stops once it exceeds the size the check allows, and
    /// original sibling hashes reuse the cache except along paths to unmerged leaves. Once the
    /// cache is full the checks only read the tree, so they run on all cores.
    public mutating func verifyParentHashes() throws {
        _ = treeHash()
        let tree = self
        let parents = stride(from: 1, to: slots.count, by: 2).filter { !slots[$0].isBlank }.map { NodeIndex(UInt32($0)) }
        let valid = parallelMap(parents, minimumBatch: 64) { tree.isParentHashValid($0) }
        if let bad = valid.firstIndex(of: false) { throw TreeError.parentHashInvalid(node: parents[bad].rawValue) }
    }

    /// The check of ``verifyParentHashes()`` for one node; requires a full hash cache.
    func isParentHashValid(_ node: NodeIndex) -> Bool {
        guard case let .parent(p) = slots[Int(node.rawValue)], let left = TreeMath.left(node), let right = TreeMath.right(node) else { return false }
        var matches = 0
        for (c, s) in [(left, right), (right, left)] {
            let level = c.level
            let first = (c.rawValue >> (level + 1)) << level
            let end = first + (1 << level)
            let under = p.unmergedLeaves.filter { $0 >= first && $0 < end }.map { LeafIndex($0).nodeIndex }
            guard let res = resolution(c, limit: under.count + 1), res.count == under.count + 1 else { continue }
            // Sets: a hostile unmerged list must not make this quadratic.
            let inResolution = Set(res), unmerged = Set(under)
            guard under.allSatisfy(inResolution.contains) else { continue }
            let others = res.filter { !unmerged.contains($0) }
            guard others.count == 1, let stored = storedParentHash(others[0]) else { continue }
            let expected: [UInt8]
            if p.unmergedLeaves.isEmpty {
                expected = parentHash(encryptionKey: p.encryptionKey, parentHash: p.parentHash, siblingHash: cachedHash(s))
            } else {
                expected = parentHash(encryptionKey: p.encryptionKey, parentHash: p.parentHash, siblingHash: originalTreeHash(of: s, excluding: p.unmergedLeaves))
            }
            if stored == expected { matches += 1 }
        }
        return matches == 1
    }

    /// Verifies the `unmerged_leaves` lists (§7.1, §12.4.3.1): sorted, each entry a non-blank leaf
    /// below the node, and listed at every non-blank node between that leaf and this one.
    public func verifyUnmergedLeaves() throws {
        // First every list sorted and in range, so that the walk below can binary-search the
        // lists it passes: O(total entries · log n · log entries), not quadratic.
        for i in stride(from: 1, to: slots.count, by: 2) {
            guard case let .parent(p) = slots[i] else { continue }
            var previous: UInt32? = nil
            for u in p.unmergedLeaves {
                guard previous.map({ $0 < u }) ?? true, u < leafCount else { throw TreeError.invalidUnmergedLeaves(node: UInt32(i)) }
                previous = u
            }
        }
        for i in stride(from: 1, to: slots.count, by: 2) {
            guard case let .parent(p) = slots[i] else { continue }
            let node = NodeIndex(UInt32(i))
            for u in p.unmergedLeaves {
                // Range first: the entry is a wire value, and only a leaf of this tree has a node.
                guard u < leafCount else { throw TreeError.invalidUnmergedLeaves(node: node.rawValue) }
                let leafNode = LeafIndex(u).nodeIndex
                guard !slots[Int(leafNode.rawValue)].isBlank, TreeMath.isAncestor(node, of: leafNode) else {
                    throw TreeError.invalidUnmergedLeaves(node: node.rawValue)
                }
                var n = leafNode
                while let up = TreeMath.parent(n, leafCount: leafCount), up != node {
                    if case let .parent(between) = slots[Int(up.rawValue)], !between.unmergedLeaves.sortedContains(u) {
                        throw TreeError.invalidUnmergedLeaves(node: node.rawValue)
                    }
                    n = up
                }
            }
        }
    }
}
