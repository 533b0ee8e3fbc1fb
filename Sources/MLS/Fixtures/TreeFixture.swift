@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// Builds ratchet trees of a given shape from real protocol operations — signed KeyPackages,
/// Adds, Removes and committed UpdatePaths — for the vector generators, tests and benchmarks.
///
/// It tracks each member's keys and the private key of every parent node the commits set, so
/// any member's TreeKEM private state can be assembled afterwards without processing every
/// commit as every member.
@_spi(Engine) public struct TreeFixture: Sendable {
    /// A member's credentials and keys.
    public struct Member: Sendable {
        /// Signs for the member's leaf.
        public let signer: InMemorySigner
        /// The KeyPackage the member was added with.
        public let keyPackage: KeyPackage
        /// The KeyPackage's `init_key` private key.
        public let initPrivateKey: SecretBytes
        /// The member's current leaf node.
        public var leafNode: LeafNode
        /// The private key of the leaf's current encryption key.
        public var leafPrivateKey: SecretBytes
    }

    /// Tree shapes (../shared/design/benchmarks.md).
    public enum Shape: Sendable, Equatable {
        /// One bulk Add of `n − 1` members to a one-member group, no path: parents are blank.
        case blank(Int)
        /// `n` members added in bulk, then every member commits once, in leaf order.
        case full(Int)
        /// Members join one at a time: leaf `i` commits adding leaf `i + 1` (the mlswg
        /// `get_tree(n)` construction), so some leaves stay unmerged.
        case sequential(Int)
        /// `sequential(n)`, then leaf 0 commits removing leaves 1…`removed` (internal blanks).
        case withRemovals(Int, removed: Int)
        /// `n` members added in bulk, then `steps` random operations — adds, removes, updates and
        /// commits by random members — drawn from a generator seeded with `seed`.
        case churn(Int, steps: Int, seed: UInt64)

        /// The shapes the tree vector generators cover.
        public static let vectorShapes: [Shape] = [.sequential(2), .sequential(3), .sequential(5), .sequential(8), .sequential(9),
                                                   .full(8), .withRemovals(8, removed: 3), .churn(12, steps: 10, seed: 7)]
    }

    /// The cipher suite.
    public let suite: CipherSuite
    /// The group ID used in leaf signatures and GroupContexts.
    public let groupID: [UInt8]
    /// The public tree.
    public var tree: RatchetTree
    /// The epoch counter used in the GroupContexts of commits.
    public var epoch: UInt64 = 0
    /// Members by leaf index.
    public var members: [UInt32: Member] = [:]
    /// The private key of every non-blank parent node, as set by the commit that wrote it.
    var nodeKeys: [UInt32: SecretBytes] = [:]
    /// The path secret each non-blank parent node was derived from.
    public internal(set) var nodePathSecrets: [UInt32: SecretBytes] = [:]
    /// Whether commits encrypt their path secrets (slower; needed only when the path is processed).
    public var sealing = false

    /// Capabilities every fixture member advertises: the suite, basic credentials.
    public static func capabilities(_ suite: CipherSuite) -> Capabilities {
        Capabilities(versions: [.mls10], cipherSuites: [suite.id], extensions: [], proposals: [], credentials: [.basic])
    }

    /// A new member with a signed KeyPackage.
    public static func makeMember(suite: CipherSuite, identity: [UInt8]) throws -> Member {
        let signer = InMemorySigner.generate(suite.signature)
        let enc = suite.hpke.generateKeyPair()
        let initKeys = suite.hpke.generateKeyPair()
        var leaf = LeafNode(encryptionKey: enc.publicKey, signatureKey: signer.publicKey, credential: .basic(identity: identity),
                            capabilities: capabilities(suite), leafNodeSource: .keyPackage(Lifetime(notBefore: 0, notAfter: .max)),
                            extensions: [], signature: [])
        try leaf.sign(suite: suite, signer: signer)
        var kp = KeyPackage(cipherSuite: suite.id, initKey: initKeys.publicKey, leafNode: leaf, extensions: [], signature: [])
        try kp.sign(suite: suite, signer: signer)
        return Member(signer: signer, keyPackage: kp, initPrivateKey: initKeys.privateKey, leafNode: leaf, leafPrivateKey: enc.privateKey)
    }

    private var nextIdentity = 0

    /// A new member for this fixture's suite (not yet added).
    public mutating func makeMember() throws -> Member {
        nextIdentity += 1
        return try Self.makeMember(suite: suite, identity: Array("member-\(nextIdentity)".utf8))
    }

    /// `count` new members, generated on all cores.
    public mutating func makeMembers(_ count: Int) throws -> [Member] {
        let first = nextIdentity
        nextIdentity += count
        let suite = self.suite
        return try parallelMap(Array(0..<count)) { try Self.makeMember(suite: suite, identity: Array("member-\(first + $0 + 1)".utf8)) }
    }

    /// A one-member group.
    public init(suite: CipherSuite, groupID: [UInt8]) throws {
        self.suite = suite
        self.groupID = groupID
        let creator = try Self.makeMember(suite: suite, identity: Array("member-0".utf8))
        tree = RatchetTree(suite: suite, firstLeaf: creator.leafNode)
        members[0] = creator
    }

    /// The member at `leaf`.
    public func member(at leaf: LeafIndex) throws -> Member {
        guard let m = members[leaf.rawValue] else { throw TreeError.blankLeaf(leaf) }
        return m
    }

    /// The GroupContext a commit in the current epoch uses (tree hash filled in by TreeKEM).
    public func groupContext() -> GroupContext {
        GroupContext(version: .mls10, cipherSuite: suite.id, groupID: groupID, epoch: epoch, treeHash: [],
                     confirmedTranscriptHash: [UInt8](repeating: 0x5a, count: suite.kdfLength), extensions: [])
    }

    /// Adds members; returns their leaves.
    @discardableResult
    public mutating func add(_ newMembers: [Member]) -> [LeafIndex] {
        newMembers.map { m in
            let leaf = tree.add(m.keyPackage.leafNode)
            members[leaf.rawValue] = m
            return leaf
        }
    }

    /// Removes a member.
    public mutating func remove(_ leaf: LeafIndex) throws {
        for p in TreeMath.directPath(leaf.nodeIndex, leafCount: tree.leafCount) {
            nodeKeys[p.rawValue] = nil
            nodePathSecrets[p.rawValue] = nil
        }
        try tree.remove(leaf)
        members[leaf.rawValue] = nil
        nodeKeys = nodeKeys.filter { $0.key < tree.nodeWidth }
        nodePathSecrets = nodePathSecrets.filter { $0.key < tree.nodeWidth }
    }

    /// `leaf` commits with an UpdatePath (not encrypting to `newMembers`), advancing the epoch.
    @discardableResult
    public mutating func commit(from leaf: LeafIndex, excluding newMembers: Set<LeafIndex> = []) throws -> UpdatePathCreation {
        let m = try member(at: leaf)
        for p in TreeMath.directPath(leaf.nodeIndex, leafCount: tree.leafCount) {
            nodeKeys[p.rawValue] = nil
            nodePathSecrets[p.rawValue] = nil
        }
        let (creation, key) = try tree.createUpdatePath(from: leaf, signer: m.signer, groupContext: groupContext(),
                                                        excluding: newMembers, sealing: sealing)
        for node in key.nodesWithKeys where !node.isLeaf { nodeKeys[node.rawValue] = key.privateKey(for: node) }
        for (node, secret) in creation.pathSecrets { nodePathSecrets[node.rawValue] = secret }
        members[leaf.rawValue]?.leafNode = creation.updatePath.leafNode
        if let k = key.privateKey(for: leaf.nodeIndex) { members[leaf.rawValue]?.leafPrivateKey = k }
        epoch += 1
        return creation
    }

    /// The TreeKEM private state `leaf` would hold: its leaf key and the keys of the non-blank
    /// ancestors at which it is not unmerged.
    public func privateKey(for leaf: LeafIndex) throws -> TreeKEMPrivateKey {
        let m = try member(at: leaf)
        var key = TreeKEMPrivateKey(suite: suite, leafIndex: leaf, leafPrivateKey: m.leafPrivateKey)
        for p in knownAncestors(of: leaf) {
            if let k = nodeKeys[p.rawValue] { try key.setPrivateKey(k, at: p, in: tree) }
        }
        return key
    }

    /// The non-blank ancestors of `leaf` whose keys the member knows (it is not unmerged there).
    public func knownAncestors(of leaf: LeafIndex) -> [NodeIndex] {
        TreeMath.directPath(leaf.nodeIndex, leafCount: tree.leafCount).filter { p in
            guard let parent = tree.parent(p) else { return false }
            return !parent.unmergedLeaves.contains(leaf.rawValue) && nodeKeys[p.rawValue] != nil
        }
    }

    /// Builds `shape` on top of the one-member group.
    public mutating func build(_ shape: Shape) throws {
        switch shape {
        case let .blank(n):
            add(try makeMembers(n - 1))
        case let .full(n):
            add(try makeMembers(n - 1))
            for i in 0..<n { try commit(from: LeafIndex(UInt32(i))) }
        case let .sequential(n):
            for i in 0..<(n - 1) {
                let leaf = add([try makeMember()])
                try commit(from: LeafIndex(UInt32(i)), excluding: Set(leaf))
            }
        case let .withRemovals(n, removed):
            try build(.sequential(n))
            for r in 1...removed { try remove(LeafIndex(UInt32(r))) }
            try commit(from: LeafIndex(0))
        case let .churn(n, steps, seed):
            add(try makeMembers(n - 1))
            var rng = SplitMix64(seed: seed)
            for _ in 0..<steps {
                let leaves = tree.memberLeaves
                let pick = leaves[Int(rng.next() % UInt64(leaves.count))]
                switch rng.next() % 4 {
                case 0:
                    let added = add([try makeMember()])
                    try commit(from: pick, excluding: Set(added))
                case 1 where leaves.count > 2 && pick != LeafIndex(0):
                    try remove(pick)
                    try commit(from: LeafIndex(0))
                default:
                    try commit(from: pick)
                }
            }
        }
    }
}

/// A small deterministic generator (SplitMix64) so churn shapes are reproducible.
@_spi(Engine) public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    /// Seeds the generator.
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
