@_spi(Engine) import MLSCodec

/// The nodes in which one ratchet tree differs from another it was derived from or led to:
/// what storage writes after a transition, and how it keeps the trees of past epochs and of a
/// pending commit as small overlays on the current tree instead of whole copies.
@_spi(Engine) public struct TreeDelta: Sendable, Equatable {
    /// The node width of the target tree.
    public var nodeWidth: UInt32
    /// Nodes of the target tree that differ from the reference, ascending by index; `nil` is blank.
    public var nodes: [(index: UInt32, node: Node?)]

    /// Assembles a delta.
    public init(nodeWidth: UInt32, nodes: [(index: UInt32, node: Node?)]) {
        self.nodeWidth = nodeWidth
        self.nodes = nodes
    }

    public static func == (a: TreeDelta, b: TreeDelta) -> Bool {
        a.nodeWidth == b.nodeWidth && a.nodes.map(\.index) == b.nodes.map(\.index) && a.nodes.map(\.node) == b.nodes.map(\.node)
    }
}

extension RatchetTree {
    /// A stamp no node write has used before.
    static func freshStamp() -> UInt64 {
        nodeStampCounterNext()
    }

    /// The node at `i` in its wire form, `nil` if blank.
    func node(at i: Int) -> Node? {
        switch slots[i] {
        case .blank: nil
        case let .leaf(l): .leaf(l)
        case let .parent(p): .parent(p)
        }
    }

    /// How this tree differs from `reference`: the nodes to write over `reference` (after
    /// resizing it to this tree's width) to obtain this tree. Chunks of the stamp array that the
    /// two trees share are skipped whole, so for trees derived from one another the cost is
    /// about width / 64 plus 64 per changed chunk; elsewhere it compares one integer per node.
    /// The result holds only the nodes that changed.
    ///
    /// With no reference, every non-blank node is listed.
    public func delta(relativeTo reference: RatchetTree?) -> TreeDelta {
        var out: [(index: UInt32, node: Node?)] = []
        let shared = reference.map { min($0.slots.count, slots.count) } ?? 0
        if let reference {
            let size = ChunkedArray<UInt64>.chunkSize
            for start in stride(from: 0, to: shared, by: size) where !stamps.sharesChunk(start, with: reference.stamps) {
                for i in start..<min(start + size, shared) where stamps[i] != reference.stamps[i] {
                    // Two blanks are equal whatever wrote them.
                    if slots[i].isBlank && reference.slots[i].isBlank { continue }
                    out.append((UInt32(i), node(at: i)))
                }
            }
        }
        for i in shared..<slots.count where !slots[i].isBlank { out.append((UInt32(i), node(at: i))) }
        return TreeDelta(nodeWidth: nodeWidth, nodes: out)
    }

    /// Applies `delta` to this tree: resizes it to the delta's width, then writes its nodes.
    /// Indexes and the hash cache stay consistent; nodes the delta does not name keep their
    /// stamps, so later deltas against this tree stay small.
    mutating func apply(_ delta: TreeDelta) throws(TreeError) {
        let width = Int(delta.nodeWidth)
        guard width > 0, width % 2 == 1, (width + 1) & width == 0 else { throw TreeError.indexOutOfRange(delta.nodeWidth) }
        while slots.count < width { extend() }
        if slots.count > width {
            for i in width..<slots.count where !slots[i].isBlank { setSlot(NodeIndex(UInt32(i)), .blank) }
            slots.removeLast(slots.count - width)
            hashes.removeLast(hashes.count - width)
            stamps.removeLast(stamps.count - width)
            occupied.removeLast(occupied.count - width)
            // Cached hashes stay valid: a subtree's hash does not depend on the tree around it.
        }
        for (index, node) in delta.nodes {
            guard Int(index) < width else { throw TreeError.indexOutOfRange(index) }
            let n = NodeIndex(index)
            switch node {
            case nil: setSlot(n, .blank)
            case let .leaf(l)?:
                guard n.isLeaf else { throw TreeError.nodeTypeMismatch(node: n.rawValue) }
                setSlot(n, .leaf(l))
            case let .parent(p)?:
                guard !n.isLeaf else { throw TreeError.nodeTypeMismatch(node: n.rawValue) }
                setSlot(n, .parent(p))
            }
        }
        firstBlankHint = 0
    }
}
