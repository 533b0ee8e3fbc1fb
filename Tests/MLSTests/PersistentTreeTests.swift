@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLS

/// The ratchet tree's persistent storage: copies share what a change does not touch, and the
/// derived per-node data (subtree occupancy, key indexes, stamps) stays what a from-scratch
/// computation gives after any sequence of operations.
@Suite struct PersistentTreeTests {
    @Test func chunkedArrayBehavesLikeAnArray() {
        var chunked = ChunkedArray<Int>()
        var plain: [Int] = []
        // Sizes that start, fill and cross chunk boundaries, then shrink to partial chunks.
        for (k, n) in [1, 63, 1, 64, 130, 7].enumerated() {
            chunked.appendRepeating(k, count: n)
            plain.append(contentsOf: repeatElement(k, count: n))
        }
        for i in stride(from: 0, to: plain.count, by: 5) {
            chunked[i] = -i
            plain[i] = -i
        }
        #expect(Array(chunked) == plain)
        for k in [1, 64, 70, 0, 3] {
            chunked.removeLast(k)
            plain.removeLast(k)
            #expect(Array(chunked) == plain)
        }
        chunked.appendRepeating(9, count: 100)
        plain.append(contentsOf: repeatElement(9, count: 100))
        #expect(Array(chunked) == plain)
    }

    @Test func copiesAreIndependentAndShareUntouchedChunks() {
        var a = ChunkedArray(repeating: 0, count: 1000)
        let before = a
        a[700] = 1
        #expect(before[700] == 0 && a[700] == 1)
        #expect(a.sharesChunk(0, with: before))
        #expect(!a.sharesChunk(700, with: before))
        // Truncating a copy does not change the original.
        var b = a
        b.removeLast(500)
        #expect(a.count == 1000 && a[700] == 1 && b.count == 500)
    }

    /// Occupancy recomputed from the nodes alone.
    func naiveOccupied(_ tree: RatchetTree, _ node: NodeIndex) -> Int {
        guard Int(node.rawValue) < tree.slots.count else { return 0 }
        var count = tree.isBlank(node) ? 0 : 1
        if let l = TreeMath.left(node), let r = TreeMath.right(node) { count += naiveOccupied(tree, l) + naiveOccupied(tree, r) }
        return count
    }

    /// The resolution of §4.1.1 by its definition, walking every blank node.
    func naiveResolution(_ tree: RatchetTree, _ node: NodeIndex) -> [NodeIndex] {
        if let p = tree.parent(node) { return [node] + p.unmergedLeaves.map { LeafIndex($0).nodeIndex } }
        if !tree.isBlank(node) { return [node] }
        guard let l = TreeMath.left(node), let r = TreeMath.right(node) else { return [] }
        return naiveResolution(tree, l) + naiveResolution(tree, r)
    }

    func checkDerivedData(_ tree: RatchetTree) {
        for i in 0..<tree.slots.count {
            let n = NodeIndex(UInt32(i))
            #expect(tree.occupied[i] == naiveOccupied(tree, n), "occupancy at \(i)")
            #expect(tree.resolution(n) == naiveResolution(tree, n), "resolution at \(i)")
        }
        // The rebuilt tree derives everything from the nodes alone.
        let rebuilt = try? RatchetTree(suite: tree.suite, nodes: tree.exported)
        #expect(rebuilt.map { Array($0.occupied) } == Array(tree.occupied.prefix(rebuilt?.slots.count ?? 0)))
    }

    @Test(arguments: [TreeFixture.Shape.blank(11), .full(13), .withRemovals(9, removed: 4), .churn(20, steps: 40, seed: 11)])
    func occupancyAndResolutionsMatchTheDefinition(_ shape: TreeFixture.Shape) throws {
        var f = try TreeFixture(suite: CipherSuite(id: 1)!, groupID: [4, 2])
        try f.build(shape)
        checkDerivedData(f.tree)
        // Removing from the right edge truncates; adding again extends.
        let last = f.tree.memberLeaves.last!
        if last.rawValue > 0 { try f.remove(last) }
        checkDerivedData(f.tree)
        f.add(try f.makeMembers(5))
        checkDerivedData(f.tree)
    }

    @Test func aCommitLeavesTheTreeBeforeItIntactAndSharesItsChunks() throws {
        var f = try TreeFixture(suite: CipherSuite(id: 1)!, groupID: [4, 2])
        try f.build(.full(300))
        var before = f.tree
        let hashBefore = before.treeHash()
        let exportedBefore = before.exported
        try f.commit(from: LeafIndex(123))
        var after = f.tree
        // The old value is unchanged in content and hash.
        #expect(before.exported == exportedBefore)
        #expect(before.treeHash() == hashBefore)
        #expect(after.treeHash() != hashBefore)
        // Only the chunks holding the committer's path were copied.
        let path = Set(([LeafIndex(123).nodeIndex] + TreeMath.directPath(LeafIndex(123).nodeIndex, leafCount: after.leafCount))
            .map { Int($0.rawValue) >> ChunkedArray<UInt64>.chunkShift })
        for start in stride(from: 0, to: after.slots.count, by: ChunkedArray<UInt64>.chunkSize) {
            #expect(after.slots.sharesChunk(start, with: before.slots) == !path.contains(start >> ChunkedArray<UInt64>.chunkShift))
        }
        // The delta names exactly the changed nodes.
        let delta = after.delta(relativeTo: before)
        #expect(Set(delta.nodes.map(\.index)).isSubset(of: Set(([LeafIndex(123).nodeIndex] + TreeMath.directPath(LeafIndex(123).nodeIndex, leafCount: after.leafCount)).map(\.rawValue))))
        var rebuilt = before
        try rebuilt.apply(delta)
        #expect(rebuilt.exported == after.exported)
        #expect(rebuilt.treeHash() == after.treeHash())
        // Key indexes of the old value still find the old keys.
        let oldKey = before.leaf(LeafIndex(123))!.encryptionKey
        #expect(before.nodeIndex(encryptionKey: oldKey) == LeafIndex(123).nodeIndex)
        #expect(after.nodeIndex(encryptionKey: oldKey) == nil)
    }
}
