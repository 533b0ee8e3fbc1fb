@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// Tree hashes (RFC 9420 §7.8), computed from the per-node cache.
extension RatchetTree {
    /// Encodes `TreeHashInput` for a leaf (§7.8).
    static func leafHashInput(_ leaf: LeafIndex, _ node: LeafNode?) -> [UInt8] {
        var w = TLSWriter(capacity: 256)
        NodeType.leaf.encode(to: &w)
        w.writeUInt32(leaf.rawValue)
        w.writeOptional(node)
        return w.bytes
    }

    /// Encodes `TreeHashInput` for a parent (§7.8).
    static func parentHashInput(_ node: ParentNode?, left: ArraySlice<UInt8>, right: ArraySlice<UInt8>) -> [UInt8] {
        var w = TLSWriter(capacity: 128 + left.count + right.count)
        NodeType.parent.encode(to: &w)
        w.writeOptional(node)
        w.writeOpaque(left)
        w.writeOpaque(right)
        return w.bytes
    }

    /// The cached hash of `node` (empty unless valid; callers compute it first).
    func cachedHash(_ node: NodeIndex) -> ArraySlice<UInt8> {
        (hashes[Int(node.rawValue)] ?? [])[...]
    }

    /// The tree hash of the root, recomputing only invalidated nodes.
    public mutating func treeHash() -> [UInt8] {
        Array(treeHash(of: root))
    }

    /// The tree hash of the subtree rooted at `node`, recomputing only invalidated nodes.
    public mutating func treeHash(of node: NodeIndex) -> ArraySlice<UInt8> {
        if hashes[Int(node.rawValue)] == nil {
            // After a join or a bulk Add most nodes are invalid: hash disjoint subtrees on all
            // cores first. After a commit only one path is, and the sequential walk is cheaper.
            if node == root, leafCount >= 256 { hashSubtreesInParallel(minimumInvalid: 4) }
            computeHash(node)
        }
        return cachedHash(node)
    }

    /// The hash of one node from its contents and its children's hashes (§7.8).
    func nodeDigest(_ node: NodeIndex, left: ArraySlice<UInt8>, right: ArraySlice<UInt8>) -> [UInt8] {
        let slot = slots[Int(node.rawValue)]
        // Node types match positions (checked when the tree is built), so only odd indices,
        // which always have children, reach the parent case.
        guard !node.isLeaf else {
            if case let .leaf(leaf) = slot { return suite.digest(Self.leafHashInput(LeafIndex(node.rawValue / 2), leaf)) }
            return suite.digest(Self.leafHashInput(LeafIndex(node.rawValue / 2), nil))
        }
        var parent: ParentNode? = nil
        if case let .parent(p) = slot { parent = p }
        return suite.digest(Self.parentHashInput(parent, left: left, right: right))
    }

    /// Recursively computes and caches the hash of `node` and of its invalid descendants.
    mutating func computeHash(_ node: NodeIndex) {
        let i = Int(node.rawValue)
        if hashes[i] != nil { return }
        var left: ArraySlice<UInt8> = [], right: ArraySlice<UInt8> = []
        if !node.isLeaf, let l = TreeMath.left(node), let r = TreeMath.right(node) {
            computeHash(l)
            computeHash(r)
            left = cachedHash(l)
            right = cachedHash(r)
        }
        hashes[i] = nodeDigest(node, left: left, right: right)
    }

    /// Fills the cache for the subtrees a few levels below the root concurrently. Each task
    /// hashes its own subtree into a private buffer (a subtree is a contiguous range of the
    /// array representation); the buffers are then stored in the cache, so the result is
    /// identical to a sequential computation.
    mutating func hashSubtreesInParallel(minimumInvalid: Int) {
        let rootLevel = root.level
        let depth = UInt32(min(Int(rootLevel), 4))  // 16 subtrees: enough to balance two cores
        let level = rootLevel - depth
        let count = Int(leafCount >> level)
        let subtreeRoots = (0..<count).map { NodeIndex(UInt32($0) << (level + 1) | ((1 << level) - 1)) }
            .filter { hashes[Int($0.rawValue)] == nil }
        guard subtreeRoots.count >= minimumInvalid else { return }
        let tree = self
        let span = (1 << (Int(level) + 1)) - 1
        let computed = parallelMap(subtreeRoots, minimumBatch: 1) { root -> [[UInt8]?] in
            var local = [[UInt8]?](repeating: nil, count: span)
            _ = tree.hashSubtree(root, first: Int(root.rawValue) - (span >> 1), into: &local)
            return local
        }
        for (root, local) in zip(subtreeRoots, computed) {
            let first = Int(root.rawValue) - (span >> 1)
            for (k, hash) in local.enumerated() where hash != nil { hashes[first + k] = hash }
        }
    }

    /// Computes the hashes of the invalid nodes of a subtree into `local` (indexed from the
    /// subtree's first node `first`), without touching `self`; returns the hash of `node`.
    func hashSubtree(_ node: NodeIndex, first: Int, into local: inout [[UInt8]?]) -> ArraySlice<UInt8> {
        if let cached = hashes[Int(node.rawValue)] { return cached[...] }
        var left: ArraySlice<UInt8> = [], right: ArraySlice<UInt8> = []
        if !node.isLeaf, let l = TreeMath.left(node), let r = TreeMath.right(node) {
            left = hashSubtree(l, first: first, into: &local)
            right = hashSubtree(r, first: first, into: &local)
        }
        let digest = nodeDigest(node, left: left, right: right)
        local[Int(node.rawValue) - first] = digest
        return digest[...]
    }

    /// The tree hash of the subtree at `node` in the tree with the leaves in `excluded` blanked
    /// and removed from every `unmerged_leaves` list: the "original sibling tree hash" of §7.9.
    /// Requires a full cache; subtrees containing none of the excluded leaves reuse it, so the
    /// cost is O(|excluded| · log n).
    func originalTreeHash(of node: NodeIndex, excluding excluded: [UInt32]) -> [UInt8] {
        // Sorted once, then split by range at each level: O(|excluded| · log n) in all, where a
        // filter per visited node would be quadratic in a hostile `unmerged_leaves` list.
        originalTreeHash(of: node, sortedExcluded: excluded.sorted()[...])
    }

    private func originalTreeHash(of node: NodeIndex, sortedExcluded excluded: ArraySlice<UInt32>) -> [UInt8] {
        let level = node.level
        let first = (node.rawValue >> (level + 1)) << level
        let end = first + (1 << level)
        let inside = excluded[excluded.partitioningIndex { $0 >= first }..<excluded.partitioningIndex { $0 >= end }]
        if inside.isEmpty { return Array(cachedHash(node)) }
        if node.isLeaf { return suite.digest(Self.leafHashInput(LeafIndex(node.rawValue / 2), nil)) }
        guard let l = TreeMath.left(node), let r = TreeMath.right(node) else { return [] }
        let left = originalTreeHash(of: l, sortedExcluded: inside)
        let right = originalTreeHash(of: r, sortedExcluded: inside)
        var p: ParentNode? = nil
        if case var .parent(x) = slots[Int(node.rawValue)] {
            x.unmergedLeaves.removeAll { inside.sortedContains($0) }
            p = x
        }
        return suite.digest(Self.parentHashInput(p, left: left[...], right: right[...]))
    }
}

extension Collection where Element: Comparable {
    /// The first index whose element satisfies `predicate`, for a predicate that is false and
    /// then true along the collection (binary search; O(log n)).
    func partitioningIndex(where predicate: (Element) -> Bool) -> Index {
        var low = startIndex, count = self.count
        while count > 0 {
            let half = count / 2
            let mid = index(low, offsetBy: half)
            if predicate(self[mid]) {
                count = half
            } else {
                low = index(after: mid)
                count -= half + 1
            }
        }
        return low
    }

    /// Whether a sorted collection contains `value` (binary search; O(log n)).
    func sortedContains(_ value: Element) -> Bool {
        let i = partitioningIndex { $0 >= value }
        return i != endIndex && self[i] == value
    }
}
