/// Index of a leaf among the leaves of a ratchet tree (RFC 9420 §4.1, Appendix C).
public struct LeafIndex: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The leaf's position, 0 for the left-most leaf.
    public var rawValue: UInt32
    /// Wraps a leaf position.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Wraps a leaf position.
    public init(_ value: UInt32) { rawValue = value }
    /// The node index of this leaf in the array representation (`2 * leaf`).
    ///
    /// Leaf indices arrive from the wire (`unmerged_leaves`, senders, Remove proposals) as any
    /// `uint32`, but no tree has more than 2^31 leaves (its node width is a `uint32`). A leaf
    /// index of 2^31 or more maps to ``NodeIndex/outside``, which every range check refuses,
    /// rather than trapping on the doubling.
    @_spi(Engine) public var nodeIndex: NodeIndex {
        rawValue < 1 << 31 ? NodeIndex(rawValue << 1) : .outside
    }
    public static func < (a: LeafIndex, b: LeafIndex) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "leaf \(rawValue)" }
}

/// Index of a node in the array representation of a ratchet tree (RFC 9420 Appendix C): leaves
/// at even indices, parents at odd ones.
@_spi(Engine) public struct NodeIndex: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The position in the node array.
    public var rawValue: UInt32
    /// Wraps a node position.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Wraps a node position.
    public init(_ value: UInt32) { rawValue = value }
    public static func < (a: NodeIndex, b: NodeIndex) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "node \(rawValue)" }

    /// An index beyond every tree: the largest tree (2^31 leaves) has node indices up to
    /// 2^32 − 2. Leaf indices too large to double map here (see ``LeafIndex/nodeIndex``).
    public static let outside = NodeIndex(UInt32.max)

    /// Whether this is a leaf (even index).
    @inlinable public var isLeaf: Bool { rawValue & 1 == 0 }

    /// The leaf index of a leaf node.
    public var leafIndex: LeafIndex? { isLeaf ? LeafIndex(rawValue / 2) : nil }

    /// The level of the node: 0 for leaves, one more than its children for parents.
    @inlinable public var level: UInt32 { UInt32((~rawValue).trailingZeroBitCount) }
}

/// Index arithmetic on complete binary trees with a power-of-two number of leaves
/// (RFC 9420 §4.1, Appendix C). Every function is O(1) or O(log n) and allocation-free except the
/// path functions, which return arrays of length log n.
@_spi(Engine) public enum TreeMath {
    /// The exponent of the largest power of two not above `x` (0 for 0).
    @inlinable static func log2(_ x: UInt32) -> UInt32 {
        x == 0 ? 0 : UInt32(31 - x.leadingZeroBitCount)
    }

    /// The number of nodes in a tree with `leafCount` leaves.
    @inlinable public static func nodeWidth(_ leafCount: UInt32) -> UInt32 {
        leafCount == 0 ? 0 : 2 * (leafCount - 1) + 1
    }

    /// The root of a tree with `leafCount` leaves.
    @inlinable public static func root(_ leafCount: UInt32) -> NodeIndex {
        NodeIndex((1 << log2(nodeWidth(leafCount))) - 1)
    }

    /// The left child of a parent node; `nil` for a leaf.
    @inlinable public static func left(_ x: NodeIndex) -> NodeIndex? {
        let k = x.level
        return k == 0 ? nil : NodeIndex(x.rawValue ^ (1 << (k - 1)))
    }

    /// The right child of a parent node; `nil` for a leaf.
    @inlinable public static func right(_ x: NodeIndex) -> NodeIndex? {
        let k = x.level
        return k == 0 ? nil : NodeIndex(x.rawValue ^ (3 << (k - 1)))
    }

    /// The parent of `x` in a tree of `leafCount` leaves; `nil` for the root or a node outside the tree.
    @inlinable public static func parent(_ x: NodeIndex, leafCount: UInt32) -> NodeIndex? {
        guard x != root(leafCount), x.rawValue < nodeWidth(leafCount) else { return nil }
        let k = x.level
        let b = (x.rawValue >> (k + 1)) & 1
        return NodeIndex((x.rawValue | (1 << k)) ^ (b << (k + 1)))
    }

    /// The other child of `x`'s parent; `nil` for the root.
    @inlinable public static func sibling(_ x: NodeIndex, leafCount: UInt32) -> NodeIndex? {
        guard let p = parent(x, leafCount: leafCount) else { return nil }
        return x < p ? right(p) : left(p)
    }

    /// The direct path of `x`, from its parent up to the root (RFC 9420 §4.1).
    public static func directPath(_ x: NodeIndex, leafCount: UInt32) -> [NodeIndex] {
        var path: [NodeIndex] = []
        var n = x
        while let p = parent(n, leafCount: leafCount) {
            path.append(p)
            n = p
        }
        return path
    }

    /// The copath of `x`: the sibling of `x` and of each node on its direct path below the root.
    public static func copath(_ x: NodeIndex, leafCount: UInt32) -> [NodeIndex] {
        var path: [NodeIndex] = []
        var n = x
        while let s = sibling(n, leafCount: leafCount), let p = parent(n, leafCount: leafCount) {
            path.append(s)
            n = p
        }
        return path
    }

    /// The lowest node that is an ancestor of (or equal to) both `x` and `y`.
    public static func commonAncestor(_ x: NodeIndex, _ y: NodeIndex) -> NodeIndex {
        let lx = x.level + 1, ly = y.level + 1
        if lx <= ly, x.rawValue >> ly == y.rawValue >> ly { return y }
        if ly <= lx, x.rawValue >> lx == y.rawValue >> lx { return x }
        var xn = x.rawValue, yn = y.rawValue
        var k: UInt32 = 0
        while xn != yn {
            xn >>= 1
            yn >>= 1
            k += 1
        }
        return NodeIndex((xn << k) + (1 << (k - 1)) - 1)
    }

    /// Whether `ancestor` is `node` or lies above it on its direct path.
    @inlinable public static func isAncestor(_ ancestor: NodeIndex, of node: NodeIndex) -> Bool {
        let k = ancestor.level
        return node.rawValue >> (k + 1) == ancestor.rawValue >> (k + 1)
    }
}
