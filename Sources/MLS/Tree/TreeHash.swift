import Dispatch
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

    /// The cached hash bytes of `node` (only meaningful when valid).
    func cachedHash(_ node: NodeIndex) -> ArraySlice<UInt8> {
        let start = Int(node.rawValue) * hashLength
        return hashBytes[start..<start + hashLength]
    }

    /// The tree hash of the root, recomputing only invalidated nodes.
    public mutating func treeHash() -> [UInt8] {
        Array(treeHash(of: root))
    }

    /// The tree hash of the subtree rooted at `node`, recomputing only invalidated nodes.
    public mutating func treeHash(of node: NodeIndex) -> ArraySlice<UInt8> {
        if !hashValid[Int(node.rawValue)] {
            // After a join or a bulk Add most nodes are invalid: hash disjoint subtrees on all
            // cores first. After a commit only one path is, and the sequential walk is cheaper.
            if node == root, leafCount >= 256 { hashSubtreesInParallel(minimumInvalid: 4) }
            computeHash(node)
        }
        return cachedHash(node)
    }

    /// The hash of one node from its contents and its children's hashes (§7.8). `childHash`
    /// must return the already-computed hash of a child.
    func nodeDigest(_ node: NodeIndex, childHash: (NodeIndex) -> ArraySlice<UInt8>) -> [UInt8] {
        let slot = slots[Int(node.rawValue)]
        // Node types match positions (checked when the tree is built), so only odd indices,
        // which always have children, reach the parent case.
        guard let l = TreeMath.left(node), let r = TreeMath.right(node) else {
            if case let .leaf(leaf) = slot { return suite.digest(Self.leafHashInput(LeafIndex(node.rawValue / 2), leaf)) }
            return suite.digest(Self.leafHashInput(LeafIndex(node.rawValue / 2), nil))
        }
        var parent: ParentNode? = nil
        if case let .parent(p) = slot { parent = p }
        return suite.digest(Self.parentHashInput(parent, left: childHash(l), right: childHash(r)))
    }

    /// Recursively computes and caches the hash of `node` and of its invalid descendants.
    mutating func computeHash(_ node: NodeIndex) {
        let i = Int(node.rawValue)
        if hashValid[i] { return }
        if !node.isLeaf, let l = TreeMath.left(node), let r = TreeMath.right(node) {
            computeHash(l)
            computeHash(r)
        }
        let digest = nodeDigest(node) { cachedHash($0) }
        hashBytes.replaceSubrange(i * hashLength..<(i + 1) * hashLength, with: digest)
        hashValid[i] = true
    }

    /// Fills the cache for the subtrees a few levels below the root concurrently. Each task writes
    /// only its own subtree's disjoint slice of the cache, so the result is identical to a
    /// sequential computation.
    mutating func hashSubtreesInParallel(minimumInvalid: Int) {
        let rootLevel = root.level
        let depth = UInt32(min(Int(rootLevel), 4))  // 16 subtrees: enough to balance two cores
        let level = rootLevel - depth
        let count = Int(leafCount >> level)
        let subtreeRoots = (0..<count).map { NodeIndex(UInt32($0) << (level + 1) | ((1 << level) - 1)) }
            .filter { !hashValid[Int($0.rawValue)] }
        guard subtreeRoots.count >= minimumInvalid else { return }
        let tree = self
        let hashLength = self.hashLength
        hashBytes.withUnsafeMutableBufferPointer { bytes in
            hashValid.withUnsafeMutableBufferPointer { valid in
                let sink = UnsafeSink(bytes: bytes, valid: valid)
                DispatchQueue.concurrentPerform(iterations: subtreeRoots.count) { k in
                    tree.hashSubtree(subtreeRoots[k], hashLength: hashLength, into: sink)
                }
            }
        }
    }

    /// Computes the hashes of a whole subtree into `sink`, without touching `self`.
    func hashSubtree(_ node: NodeIndex, hashLength: Int, into sink: UnsafeSink) {
        if sink.valid[Int(node.rawValue)] { return }
        if !node.isLeaf, let l = TreeMath.left(node), let r = TreeMath.right(node) {
            hashSubtree(l, hashLength: hashLength, into: sink)
            hashSubtree(r, hashLength: hashLength, into: sink)
        }
        sink.store(node, nodeDigest(node) { sink.slice($0, hashLength) }, hashLength)
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

/// Write access to the hash cache for concurrent subtree hashing.
///
/// `@unchecked Sendable` is sound here because every task writes only the entries of its own
/// subtree and reads only entries it wrote itself; the buffers outlive `concurrentPerform`.
struct UnsafeSink: @unchecked Sendable {
    let bytes: UnsafeMutableBufferPointer<UInt8>
    let valid: UnsafeMutableBufferPointer<Bool>

    func store(_ node: NodeIndex, _ digest: [UInt8], _ length: Int) {
        let start = Int(node.rawValue) * length
        for k in 0..<length { bytes[start + k] = digest[k] }
        valid[Int(node.rawValue)] = true
    }

    func slice(_ node: NodeIndex, _ length: Int) -> ArraySlice<UInt8> {
        let start = Int(node.rawValue) * length
        return ArraySlice(UnsafeBufferPointer(rebasing: bytes[start..<start + length]))
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
