@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import HashTreeCollections
import Synchronization

/// Source of node write stamps, unique across every tree in the process.
private let nodeStampCounter = Atomic<UInt64>(0)

/// The next node write stamp (see ``RatchetTree/stamps``).
func nodeStampCounterNext() -> UInt64 {
    nodeStampCounter.wrappingAdd(1, ordering: .relaxed).newValue
}

/// Why a ratchet tree or an UpdatePath was refused, or an operation on the tree could not be
/// carried out (RFC 9420 §7, §12.4.2, §12.4.3.3). Nodes are named by their position in the
/// array representation (Appendix C: leaves at even positions, parents at odd ones).
public enum TreeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The serialized tree is empty.
    case emptyTree
    /// The serialized tree ends with a blank node (§12.4.3.3).
    case trailingBlank
    /// A leaf appears at an odd node position or a parent at an even one (§12.4.3.3).
    case nodeTypeMismatch(node: UInt32)
    /// The tree is larger than the 32-bit leaf index space allows.
    case tooLarge
    /// Two nodes carry the same HPKE encryption key, or an UpdatePath brings a key already in
    /// the tree or repeats one (§7.3, §12.4.3.1).
    case duplicateEncryptionKey(node: UInt32)
    /// Two leaves carry the same signature key (§7.3).
    case duplicateSignatureKey(LeafIndex)
    /// An `unmerged_leaves` entry is unsorted, not a non-blank descendant leaf, or missing from an
    /// intermediate non-blank node (§7.1, §12.4.3.1).
    case invalidUnmergedLeaves(node: UInt32)
    /// A parent node is not parent-hash valid (§7.9.2).
    case parentHashInvalid(node: UInt32)
    /// The tree hash does not match the expected value (§12.4.3.1).
    case treeHashMismatch
    /// A leaf node failed validation (§7.3), including an UpdatePath's new leaf for its sender.
    case invalidLeafNode(LeafIndex, LeafNodeValidationError)
    /// A leaf index names no member.
    case blankLeaf(LeafIndex)
    /// A leaf or node index lies outside the tree.
    case indexOutOfRange(UInt32)
    /// A private key does not match the public key at its node (§7.4).
    case keyMismatch(node: UInt32)
    /// An UpdatePath has a different number of nodes than the sender's filtered direct path (§7.6).
    case pathLengthMismatch(expected: Int, got: Int)
    /// An UpdatePathNode carries a different number of ciphertexts than its copath resolution (§7.6).
    case ciphertextCountMismatch(node: UInt32)
    /// An UpdatePath's leaf `parent_hash` does not match the path (§7.9.2).
    case parentHashMismatch
    /// No private key of this member can decrypt any ciphertext of an UpdatePath (§7.6).
    case noDecryptionKey
    /// An UpdatePath's path secret did not decrypt (§7.6).
    case decryptionFailed
    /// An UpdatePath's sender is this member, or the sender's or this member's leaf is blank.
    case invalidSender(LeafIndex)

    public var description: String {
        switch self {
        case .emptyTree: "the ratchet tree is empty"
        case .trailingBlank: "the ratchet tree ends with a blank node"
        case let .nodeTypeMismatch(n): "wrong node type at node \(n)"
        case .tooLarge: "the ratchet tree is too large"
        case let .duplicateEncryptionKey(n): "encryption key at node \(n) appears elsewhere in the tree"
        case let .duplicateSignatureKey(l): "signature key at \(l) appears at another leaf"
        case let .invalidUnmergedLeaves(n): "unmerged leaves of node \(n) are invalid"
        case let .parentHashInvalid(n): "node \(n) is not parent-hash valid"
        case .treeHashMismatch: "tree hash does not match"
        case let .invalidLeafNode(l, e): "\(l) is invalid: \(e)"
        case let .blankLeaf(l): "\(l) is blank"
        case let .indexOutOfRange(i): "index \(i) is outside the tree"
        case let .keyMismatch(n): "private key does not match the public key at node \(n)"
        case let .pathLengthMismatch(e, g): "UpdatePath has \(g) nodes, the filtered direct path \(e)"
        case let .ciphertextCountMismatch(n): "wrong number of ciphertexts for node \(n)"
        case .parentHashMismatch: "leaf parent_hash does not match the path"
        case .noDecryptionKey: "no private key can decrypt the path"
        case .decryptionFailed: "path secret did not decrypt"
        case let .invalidSender(l): "invalid UpdatePath sender \(l)"
        }
    }
}

/// Public-key bytes as a dictionary key, hashed in one pass over the bytes rather than element
/// by element as `[UInt8]` is: the key indexes are built for every leaf of a joined tree.
struct KeyBytes: Hashable, Sendable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// The public state of a group's ratchet tree (RFC 9420 §4, §7), built for large groups.
///
/// Nodes live in one array indexed by the array representation of Appendix C. Tree hashes are
/// cached per node and invalidated only along the paths a change touches, so after a commit
/// only O(log n) hashes are recomputed. Indexes from signature keys to leaves and from
/// encryption keys to nodes make the uniqueness checks of §7.3 O(1).
///
/// Every transition copies the tree (a staged commit keeps the state before it; past epochs
/// keep theirs), so all per-node storage is persistent: the node arrays are
/// ``ChunkedArray``s and the key indexes are hash tries (`TreeDictionary`), whose copies share
/// everything a change does not touch. A commit therefore costs O(log n) writes and no O(n)
/// copy or release (Docs/Performance.md, "Whole group operations").
///
/// Mutations keep the indexes and the hash cache consistent; they do not validate. Validation
/// (§7.3, §7.9.2, §12.4.3.1) is done by the operations that receive untrusted input.
@_spi(Engine) public struct RatchetTree: Sendable {
    /// One node of the tree. The payloads are boxed (`indirect`) so that copying a chunk costs
    /// one reference-count operation per node.
    enum Slot: Sendable, Equatable {
        case blank
        indirect case leaf(LeafNode)
        indirect case parent(ParentNode)

        var isBlank: Bool { self == .blank }
        var encryptionKey: [UInt8]? {
            switch self {
            case .blank: nil
            case let .leaf(l): l.encryptionKey
            case let .parent(p): p.encryptionKey
            }
        }
    }

    /// The cipher suite whose hash the tree hash uses.
    public let suite: CipherSuite
    var slots: ChunkedArray<Slot>
    /// Cached tree hashes per node; `nil` where the hash must be recomputed.
    var hashes: ChunkedArray<[UInt8]?>
    /// Per node, the stamp of the write that put its current value there (0 for a blank that was
    /// never written). Stamps are unique in the process, so two trees derived from one another
    /// hold the same value at a node exactly when their stamps there agree: comparing stamps
    /// finds the nodes a transition changed without comparing node contents (see
    /// ``changedNodes(relativeTo:)``), which is what lets storage write O(log n) nodes per commit.
    var stamps: ChunkedArray<UInt64>
    /// Per node, how many non-blank nodes its subtree holds (itself included). Answers "is
    /// this subtree blank?" in O(1), so a resolution costs its own size rather than the size
    /// of the subtree: the copath of a leaf near the blank right edge of a tree whose leaf
    /// count is not a power of two would otherwise walk thousands of blank nodes per commit.
    var occupied: ChunkedArray<Int>
    var signatureKeyIndex: TreeDictionary<KeyBytes, UInt32> = [:]
    var encryptionKeyIndex: TreeDictionary<KeyBytes, UInt32> = [:]
    /// No leaf left of this index is blank: where the search for a free leaf starts.
    var firstBlankHint = 0
    /// Per credential type: how many members use it, and how many list it in their capabilities.
    /// Keeps the §7.3 credential-compatibility check O(types) instead of O(members).
    var credentialUse: [CredentialType: Int] = [:]
    var credentialSupport: [CredentialType: Int] = [:]
    /// Number of non-blank leaves.
    public private(set) var memberCount = 0

    var hashLength: Int { suite.hash.outputLength }

    /// A one-member tree holding `leaf` at leaf 0, as for a newly created group (§11).
    public init(suite: CipherSuite, firstLeaf leaf: LeafNode) {
        self.suite = suite
        slots = ChunkedArray(repeating: .leaf(leaf), count: 1)
        hashes = ChunkedArray(repeating: nil, count: 1)
        stamps = ChunkedArray(repeating: Self.freshStamp(), count: 1)
        occupied = ChunkedArray(repeating: 1, count: 1)
        index(NodeIndex(0), .leaf(leaf))
    }

    /// Builds a tree from its `ratchet_tree` extension form (§12.4.3.3): the last node must be
    /// non-blank, node types must match positions, and the tree is padded with blanks to a full
    /// tree. Duplicate encryption or signature keys are refused. Signatures, parent hashes and
    /// leaf contents are not checked here: see ``validate(groupContext:validator:)``.
    public init(suite: CipherSuite, nodes: RatchetTreeNodes) throws {
        let list = nodes.nodes
        guard let last = list.last else { throw TreeError.emptyTree }
        guard last != nil else { throw TreeError.trailingBlank }
        guard list.count < Int(UInt32.max / 2) else { throw TreeError.tooLarge }
        var leaves: UInt32 = 1
        while TreeMath.nodeWidth(leaves) < UInt32(list.count) { leaves *= 2 }
        self.suite = suite
        let width = Int(TreeMath.nodeWidth(leaves))
        slots = ChunkedArray(repeating: .blank, count: width)
        hashes = ChunkedArray(repeating: nil, count: width)
        stamps = ChunkedArray(repeating: 0, count: width)
        occupied = ChunkedArray(repeating: 0, count: width)
        // One stamp for the whole tree: its nodes were all written by this one event.
        let stamp = Self.freshStamp()
        for (i, node) in list.enumerated() {
            let n = NodeIndex(UInt32(i))
            switch node {
            case nil: continue
            case let .leaf(l)?:
                guard n.isLeaf else { throw TreeError.nodeTypeMismatch(node: n.rawValue) }
                slots[i] = .leaf(l)
                if signatureKeyIndex[KeyBytes(l.signatureKey)] != nil { throw TreeError.duplicateSignatureKey(LeafIndex(UInt32(i / 2))) }
            case let .parent(p)?:
                guard !n.isLeaf else { throw TreeError.nodeTypeMismatch(node: n.rawValue) }
                slots[i] = .parent(p)
            }
            if let key = slots[i].encryptionKey, encryptionKeyIndex[KeyBytes(key)] != nil { throw TreeError.duplicateEncryptionKey(node: n.rawValue) }
            stamps[i] = stamp
            index(n, slots[i])
        }
        countOccupied()
    }

    /// Fills ``occupied`` bottom-up, level by level: O(n) once, for a tree built from its nodes.
    private mutating func countOccupied() {
        let width = slots.count
        var level = 0
        while (1 << level) - 1 < width {
            for i in stride(from: (1 << level) - 1, to: width, by: 1 << (level + 1)) {
                var count = slots[i].isBlank ? 0 : 1
                if level > 0 {
                    let half = 1 << (level - 1)
                    count += occupied[i - half] + occupied[i + half]
                }
                occupied[i] = count
            }
            level += 1
        }
    }

    /// The tree in its `ratchet_tree` extension form, without trailing blanks (§12.4.3.3).
    public var exported: RatchetTreeNodes {
        var end = slots.count
        while end > 0, slots[end - 1].isBlank { end -= 1 }
        return RatchetTreeNodes(nodes: slots[0..<end].map { slot in
            switch slot {
            case .blank: nil
            case let .leaf(l): .leaf(l)
            case let .parent(p): .parent(p)
            }
        })
    }

    // MARK: Shape and access

    /// Number of leaves (always a power of two).
    public var leafCount: UInt32 { UInt32((slots.count + 1) / 2) }

    /// Number of nodes in the array representation.
    public var nodeWidth: UInt32 { UInt32(slots.count) }

    /// The root node's index.
    public var root: NodeIndex { TreeMath.root(leafCount) }

    /// The leaf node at `leaf`, or `nil` if it is blank or outside the tree.
    public func leaf(_ leaf: LeafIndex) -> LeafNode? {
        let i = Int(leaf.rawValue) * 2
        guard i < slots.count, case let .leaf(l) = slots[i] else { return nil }
        return l
    }

    /// The parent node at `node`, or `nil` if it is blank, a leaf, or outside the tree.
    public func parent(_ node: NodeIndex) -> ParentNode? {
        guard Int(node.rawValue) < slots.count, case let .parent(p) = slots[Int(node.rawValue)] else { return nil }
        return p
    }

    /// Whether the node is blank (nodes outside the tree count as blank).
    public func isBlank(_ node: NodeIndex) -> Bool {
        Int(node.rawValue) >= slots.count || slots[Int(node.rawValue)].isBlank
    }

    /// The HPKE public key held at `node`, if any.
    public func encryptionKey(at node: NodeIndex) -> [UInt8]? {
        Int(node.rawValue) < slots.count ? slots[Int(node.rawValue)].encryptionKey : nil
    }

    /// The indices of the non-blank leaves, in order.
    public var memberLeaves: [LeafIndex] {
        stride(from: 0, to: slots.count, by: 2).compactMap { slots[$0].isBlank ? nil : LeafIndex(UInt32($0 / 2)) }
    }

    /// The leaf whose signature key is `key`, if any (O(1)).
    public func leafIndex(signatureKey key: [UInt8]) -> LeafIndex? {
        signatureKeyIndex[KeyBytes(key)].map { LeafIndex($0) }
    }

    /// The node whose encryption key is `key`, if any (O(1)).
    public func nodeIndex(encryptionKey key: [UInt8]) -> NodeIndex? {
        encryptionKeyIndex[KeyBytes(key)].map { NodeIndex($0) }
    }

    // MARK: Resolution and paths (§4.1)

    /// The resolution of `node` (§4.1.1): the minimal set of non-blank nodes covering its subtree,
    /// left to right, with a parent's unmerged leaves after it.
    public func resolution(_ node: NodeIndex) -> [NodeIndex] {
        resolution(node, limit: .max) ?? []
    }

    /// The resolution of `node`, or `nil` as soon as it would exceed `limit` entries (so a
    /// check that only accepts small resolutions never walks a large blank subtree to the end).
    func resolution(_ node: NodeIndex, limit: Int) -> [NodeIndex]? {
        var out: [NodeIndex] = []
        return appendResolution(node, to: &out, limit: limit) ? out : nil
    }

    private func appendResolution(_ node: NodeIndex, to out: inout [NodeIndex], limit: Int) -> Bool {
        guard Int(node.rawValue) < slots.count else { return true }
        switch slots[Int(node.rawValue)] {
        case .leaf:
            out.append(node)
        case let .parent(p):
            out.append(node)
            for l in p.unmergedLeaves { out.append(LeafIndex(l).nodeIndex) }
        case .blank:
            if occupied[Int(node.rawValue)] > 0, let l = TreeMath.left(node), let r = TreeMath.right(node) {
                return appendResolution(l, to: &out, limit: limit) && appendResolution(r, to: &out, limit: limit)
            }
        }
        return out.count <= limit
    }

    /// Whether the resolution of `node` is empty, i.e. its whole subtree is blank. Stops at the
    /// first non-blank node found.
    func resolutionIsEmpty(_ node: NodeIndex) -> Bool {
        Int(node.rawValue) >= slots.count || occupied[Int(node.rawValue)] == 0
    }

    /// A node of a filtered direct path and the child of it on the copath side (§4.1.2).
    public typealias FilteredPathEntry = (node: NodeIndex, copathChild: NodeIndex)

    /// The filtered direct path of `leaf` (§4.1.2), leaf to root, each entry with the child of
    /// that node on the leaf's copath.
    public func filteredDirectPath(_ leaf: LeafIndex) -> [FilteredPathEntry] {
        var out: [FilteredPathEntry] = []
        var n = leaf.nodeIndex
        while let p = TreeMath.parent(n, leafCount: leafCount), let s = TreeMath.sibling(n, leafCount: leafCount) {
            if !resolutionIsEmpty(s) { out.append((p, s)) }
            n = p
        }
        return out
    }

    // MARK: Mutation (§7.7, §12.1)

    /// Adds `node`'s keys to the indexes.
    mutating func index(_ node: NodeIndex, _ slot: Slot) {
        if let key = slot.encryptionKey { encryptionKeyIndex[KeyBytes(key)] = node.rawValue }
        if case let .leaf(l) = slot {
            signatureKeyIndex[KeyBytes(l.signatureKey)] = node.rawValue / 2
            countCredentials(l, +1)
        }
    }

    mutating func countCredentials(_ leaf: LeafNode, _ delta: Int) {
        memberCount += delta
        credentialUse[leaf.credential.credentialType, default: 0] += delta
        // A set: a repeated entry counts once, and the work is linear in the list.
        for t in Set(leaf.capabilities.credentials) { credentialSupport[t, default: 0] += delta }
    }

    /// Replaces one node, keeping indexes and the hash cache consistent: the node's hash and its
    /// ancestors' are invalidated, nothing else.
    mutating func setSlot(_ node: NodeIndex, _ slot: Slot) {
        let i = Int(node.rawValue)
        let old = slots[i]
        if let key = old.encryptionKey, encryptionKeyIndex[KeyBytes(key)] == node.rawValue { encryptionKeyIndex[KeyBytes(key)] = nil }
        if case let .leaf(l) = old {
            if signatureKeyIndex[KeyBytes(l.signatureKey)] == node.rawValue / 2 { signatureKeyIndex[KeyBytes(l.signatureKey)] = nil }
            countCredentials(l, -1)
        }
        if slot.isBlank, node.isLeaf { firstBlankHint = min(firstBlankHint, i / 2) }
        slots[i] = slot
        stamps[i] = Self.freshStamp()
        index(node, slot)
        invalidate(node)
        let change = (slot.isBlank ? 0 : 1) - (old.isBlank ? 0 : 1)
        if change != 0 {
            var n: NodeIndex? = node
            while let x = n {
                occupied[Int(x.rawValue)] += change
                n = TreeMath.parent(x, leafCount: leafCount)
            }
        }
    }

    /// Sets the leaf node at `leaf`.
    public mutating func setLeaf(_ leaf: LeafIndex, _ node: LeafNode?) {
        setSlot(leaf.nodeIndex, node.map { .leaf($0) } ?? .blank)
    }

    /// Sets the parent node at `node`.
    public mutating func setParent(_ node: NodeIndex, _ parent: ParentNode?) {
        setSlot(node, parent.map { .parent($0) } ?? .blank)
    }

    /// Marks `node` and its ancestors as needing a new tree hash.
    mutating func invalidate(_ node: NodeIndex) {
        var n: NodeIndex? = node
        while let x = n, hashes[Int(x.rawValue)] != nil {
            hashes[Int(x.rawValue)] = nil
            n = TreeMath.parent(x, leafCount: leafCount)
        }
        // Stopping at the first invalid node is correct because a node's hash is only ever
        // computed after its children's, so an invalid node's ancestors are invalid too.
    }

    /// Blanks every parent node on the direct path of `leaf` (§7.5, §12.1.2, §12.1.3).
    public mutating func blankDirectPath(_ leaf: LeafIndex) {
        for p in TreeMath.directPath(leaf.nodeIndex, leafCount: leafCount) where !slots[Int(p.rawValue)].isBlank {
            setSlot(p, .blank)
        }
    }

    /// Doubles the tree: the old tree becomes the left subtree of a new blank root (§7.7).
    mutating func extend() {
        let oldWidth = slots.count
        let newWidth = oldWidth * 2 + 1
        slots.appendRepeating(.blank, count: newWidth - oldWidth)
        hashes.appendRepeating(nil, count: newWidth - oldWidth)
        stamps.appendRepeating(0, count: newWidth - oldWidth)
        occupied.appendRepeating(0, count: newWidth - oldWidth)
        // The new root (at the old width) holds the old tree on its left, a blank right half.
        occupied[oldWidth] = occupied[(oldWidth - 1) / 2]
        // The old root gets a parent: its cached hash stays valid, the new root is invalid.
    }

    /// Halves the tree while its right half is entirely blank (§12.1.3).
    mutating func truncate() {
        while leafCount > 1 {
            let r = root
            guard let right = TreeMath.right(r), resolutionIsEmpty(right) else { break }
            // The root and the right subtree are discarded, blank or not.
            for i in Int(r.rawValue)..<slots.count {
                if let key = slots[i].encryptionKey, encryptionKeyIndex[KeyBytes(key)] == UInt32(i) { encryptionKeyIndex[KeyBytes(key)] = nil }
            }
            let newWidth = Int(r.rawValue)
            slots.removeLast(slots.count - newWidth)
            hashes.removeLast(hashes.count - newWidth)
            stamps.removeLast(stamps.count - newWidth)
            occupied.removeLast(occupied.count - newWidth)
        }
    }

    /// The leftmost blank leaf, extending the tree if there is none: where an Add or an
    /// external committer is placed (§12.1.1, §12.4.3.2).
    public mutating func leftmostBlankLeaf() -> LeafIndex {
        // Scanning from the hint keeps a bulk Add of n members O(n) rather than O(n²).
        for i in stride(from: firstBlankHint * 2, to: slots.count, by: 2) where slots[i].isBlank {
            firstBlankHint = i / 2
            return LeafIndex(UInt32(i / 2))
        }
        firstBlankHint = Int(leafCount)
        let first = leafCount
        extend()
        return LeafIndex(first)
    }

    /// Applies an Add (§12.1.1): the leftmost blank leaf (extending the tree if there is none)
    /// receives `leafNode`, and the leaf is recorded as unmerged at every non-blank ancestor.
    @discardableResult
    public mutating func add(_ leafNode: LeafNode) -> LeafIndex {
        let leaf = leftmostBlankLeaf()
        for p in TreeMath.directPath(leaf.nodeIndex, leafCount: leafCount) {
            guard case var .parent(node) = slots[Int(p.rawValue)] else { continue }
            let position = node.unmergedLeaves.firstIndex { $0 > leaf.rawValue } ?? node.unmergedLeaves.count
            node.unmergedLeaves.insert(leaf.rawValue, at: position)
            setSlot(p, .parent(node))
        }
        setSlot(leaf.nodeIndex, .leaf(leafNode))
        return leaf
    }

    /// Applies an Update (§12.1.2): replaces the sender's leaf and blanks its direct path.
    public mutating func update(_ leaf: LeafIndex, with leafNode: LeafNode) throws {
        guard self.leaf(leaf) != nil else { throw TreeError.blankLeaf(leaf) }
        setSlot(leaf.nodeIndex, .leaf(leafNode))
        blankDirectPath(leaf)
    }

    /// Applies a Remove (§12.1.3): blanks the leaf and its direct path, then truncates.
    public mutating func remove(_ leaf: LeafIndex) throws {
        guard self.leaf(leaf) != nil else { throw TreeError.blankLeaf(leaf) }
        setSlot(leaf.nodeIndex, .blank)
        blankDirectPath(leaf)
        truncate()
    }
}
