import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// The tree shapes of ../shared/design/benchmarks.md that the benchmarks cover.
package enum BenchShape: String, CaseIterable, Sendable, Hashable {
    /// One bulk Add of `n − 1` members, no UpdatePath: every parent is blank.
    case blank
    /// Every member has committed once, in leaf order.
    case full
    /// `n` members added in bulk, then `n` random adds, removes and commits by random members.
    case churn

    /// The fixture shape for a group of `n` members.
    ///
    /// Churn runs `n` random steps so that, at every size, roughly half the members have
    /// committed and a few percent of the leaves were removed or re-added: enough to leave
    /// unmerged leaves and internal blanks scattered through the tree. The seed is fixed so runs
    /// compare.
    package func fixtureShape(_ n: Int) -> TreeFixture.Shape {
        switch self {
        case .blank: .blank(n)
        case .full: .full(n)
        case .churn: .churn(n, steps: n, seed: 0x4D4C53)
        }
    }
}

/// The operations the benchmarks time (the `op` keys of the floor report).
package enum BenchOp: String, CaseIterable, Sendable, Hashable {
    /// Tree hash of a freshly parsed tree: every node hashed.
    case treeHashCold = "tree_hash_cold"
    /// Tree hash after one commit: the committer's leaf and direct path re-hashed.
    case treeHashCached = "tree_hash_cached"
    /// Leaf 0 creates a self-update UpdatePath with sealing on.
    case commitUpdatePath = "commit_update_path"
    /// Another member processes that UpdatePath.
    case processUpdatePath = "process_update_path"
    /// A joiner parses the exported tree and validates it (§12.4.3.1).
    case joinValidate = "join_validate"
    /// A one-member group adds `n − 1` members in one commit, Welcome crypto included.
    case addAll = "add_all"

    /// Whether the operation's cost depends on the starting shape. `add_all` always starts from
    /// a one-member group and produces a blank tree, so it is measured once per size, reported
    /// under the shape `blank`.
    package var dependsOnShape: Bool { self != .addAll }
}

/// A mutable value shared by reference, for state a benchmark keeps across iterations.
///
/// `@unchecked Sendable` is sound for the way it is used: benchmarks and the floor report run
/// iterations one at a time on one thread, and nothing else touches the box.
package final class Box<Value>: @unchecked Sendable {
    /// The value.
    package var value: Value
    /// Wraps `value`.
    package init(_ value: Value) { self.value = value }
}

/// Everything needed to time the tree operations on one tree: built once per (suite, shape,
/// size), outside any measurement, and cached.
package final class Scenario: @unchecked Sendable {
    // @unchecked: every stored property is immutable except the contents of `cachedHashTree`,
    // which only the single-threaded benchmark loop touches (see ``Box``).

    /// The cipher suite.
    package let suite: CipherSuite
    /// The shape the tree was built with.
    package let shape: BenchShape
    /// The requested group size.
    package let n: Int
    /// The fixture the tree was built from (members' keys, epoch).
    package let fixture: TreeFixture
    /// The tree before the timed commit, with every tree hash cached.
    package let tree: RatchetTree
    /// `tree` in its `ratchet_tree` extension form, as a joiner decodes it.
    package let exported: RatchetTreeNodes
    /// The GroupContext of the current epoch, carrying `tree`'s tree hash (what a joiner gets).
    package let joinContext: GroupContext
    /// The validator a joiner uses.
    package let joinValidator: LeafNodeValidator

    /// The committer (leaf 0, which no shape ever removes).
    package let committer = LeafIndex(0)
    /// The committer's signature private key.
    package let committerSigner: InMemorySigner
    /// The provisional GroupContext the commit is made under (its tree hash is filled in by TreeKEM).
    package let commitContext: GroupContext
    /// One self-update by the committer on a copy of `tree`, with sealing on: what
    /// `process_update_path` processes.
    package let creation: UpdatePathCreation
    /// The tree after that commit (hashes cached): the starting point of `tree_hash_cached`.
    package let treeAfterCommit: RatchetTree
    /// A tree kept across iterations of `tree_hash_cached`: re-hashing after re-invalidating the
    /// committer's path leaves it unchanged, so it needs no copy per iteration.
    package let cachedHashTree: Box<RatchetTree>

    /// The member that processes the commit: the one whose decryption point is lowest on the
    /// committer's filtered direct path (leaf 1 when it is a member), lowest leaf index first.
    /// It has the most nodes above its decryption point, so the most DeriveKeyPairs: the
    /// slowest receiver of this commit.
    package let receiver: LeafIndex
    /// The receiver's TreeKEM private state before the commit.
    package let receiverKey: TreeKEMPrivateKey
    /// The validator the receiver applies to the commit's new leaf.
    package let commitValidator: LeafNodeValidator
    /// Index, on the committer's filtered direct path, of the node the receiver decrypts.
    package let receiverDecryptionIndex: Int

    /// Builds the tree of `shape` with `n` members and everything the operations need.
    package init(suite: CipherSuite, shape: BenchShape, n: Int) throws {
        self.suite = suite
        self.shape = shape
        self.n = n
        var fixture = try TreeFixture(suite: suite, groupID: Array("mlskit-bench-\(shape.rawValue)-\(n)".utf8))
        try fixture.build(shape.fixtureShape(n))
        var tree = fixture.tree
        let treeHash = tree.treeHash()
        self.tree = tree
        // What a joiner parses is decoded from the wire: fresh, contiguous objects. Handing it the
        // fixture's own nodes instead (built over thousands of commits, scattered through the heap
        // and shared with the fixture) made `join_validate` on churned trees ~20 % slower.
        exported = try RatchetTreeNodes(tlsSerialized: tree.exported.tlsSerialized)
        var context = fixture.groupContext()
        context.treeHash = treeHash
        joinContext = context
        joinValidator = LeafNodeValidator(suite: suite, groupContext: context)

        committerSigner = try fixture.member(at: committer).signer
        commitContext = fixture.groupContext()
        commitValidator = LeafNodeValidator(suite: suite, groupContext: commitContext)

        let path = tree.filteredDirectPath(committer)
        var best: (k: Int, leaf: LeafIndex)? = nil
        for leaf in tree.memberLeaves where leaf != committer {
            guard let k = path.firstIndex(where: { TreeMath.isAncestor($0.copathChild, of: leaf.nodeIndex) }) else { continue }
            if best == nil || k < best!.k { best = (k, leaf) }
            if k == 0 { break }
        }
        guard let best else { throw BenchError.noReceiver }
        receiver = best.leaf
        receiverDecryptionIndex = best.k
        receiverKey = try fixture.privateKey(for: best.leaf)

        var committed = fixture
        committed.sealing = true
        creation = try committed.commit(from: committer)
        var after = committed.tree
        _ = after.treeHash()
        treeAfterCommit = after
        cachedHashTree = Box(after)
        self.fixture = fixture
    }

    // MARK: Counts for the floors

    /// The number of non-blank leaves.
    package var memberCount: Int { tree.memberLeaves.count }

    /// The committer's filtered direct path length (= DeriveKeyPairs of a commit).
    package var commitPathLength: Int { creation.updatePath.nodes.count }

    /// HPKE seals in the commit: one per copath-resolution member of each path node.
    package var commitSeals: Int { creation.updatePath.nodes.reduce(0) { $0 + $1.encryptedPathSecret.count } }

    /// DeriveKeyPairs the receiver performs: from its decryption node up to the root.
    package var processDeriveKeyPairs: Int { commitPathLength - receiverDecryptionIndex }

    /// The committer's direct path length (= nodes re-hashed after its commit, besides its leaf).
    package var directPathLength: Int { TreeMath.directPath(committer.nodeIndex, leafCount: tree.leafCount).count }
}

/// Why a scenario could not be built.
package enum BenchError: Error, CustomStringConvertible {
    /// The tree has no member besides the committer.
    case noReceiver
    /// An operation's result was not what it must be (the benchmark would time a failure path).
    case unexpected(String)

    package var description: String {
        switch self {
        case .noReceiver: "the tree has no member besides the committer"
        case let .unexpected(s): "unexpected result: \(s)"
        }
    }
}

/// The inputs of `add_all`: a one-member group and `n − 1` KeyPackages generated beforehand.
package final class AddAllScenario: Sendable {
    /// The cipher suite.
    package let suite: CipherSuite
    /// The final group size.
    package let n: Int
    /// The one-member group's tree.
    package let tree: RatchetTree
    /// The creator's signature private key.
    package let creatorSigner: InMemorySigner
    /// The GroupContext the commit is made under.
    package let groupContext: GroupContext
    /// The KeyPackages of the `n − 1` new members.
    package let keyPackages: [KeyPackage]
    /// The validator applied to the KeyPackages.
    package let validator: LeafNodeValidator

    /// Generates the group and the KeyPackages (on all cores).
    package init(suite: CipherSuite, n: Int) throws {
        self.suite = suite
        self.n = n
        var fixture = try TreeFixture(suite: suite, groupID: Array("mlskit-bench-add-\(n)".utf8))
        tree = fixture.tree
        creatorSigner = try fixture.member(at: LeafIndex(0)).signer
        groupContext = fixture.groupContext()
        keyPackages = try fixture.makeMembers(n - 1).map(\.keyPackage)
        validator = LeafNodeValidator(suite: suite, groupContext: groupContext)
    }
}

/// Scenarios built so far, so each (suite, shape, size) is built once per process however many
/// benchmarks use it: a 10 000-member `full` tree takes seconds to build.
package enum ScenarioCache {
    private struct Key: Hashable {
        let suite: UInt16
        let shape: BenchShape?
        let n: Int
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var scenarios: [Key: Scenario] = [:]
    nonisolated(unsafe) private static var addAll: [Key: AddAllScenario] = [:]
    // nonisolated(unsafe): every access holds `lock`.

    /// The scenario for (suite, shape, n), building it on first use.
    package static func scenario(suite: CipherSuite, shape: BenchShape, n: Int) throws -> Scenario {
        lock.lock()
        defer { lock.unlock() }
        let key = Key(suite: suite.id, shape: shape, n: n)
        if let s = scenarios[key] { return s }
        let s = try Scenario(suite: suite, shape: shape, n: n)
        scenarios[key] = s
        return s
    }

    /// The `add_all` inputs for (suite, n), generating them on first use.
    package static func addAllScenario(suite: CipherSuite, n: Int) throws -> AddAllScenario {
        lock.lock()
        defer { lock.unlock() }
        let key = Key(suite: suite.id, shape: nil, n: n)
        if let s = addAll[key] { return s }
        let s = try AddAllScenario(suite: suite, n: n)
        addAll[key] = s
        return s
    }

    /// Drops every cached scenario (the floor report does this between sizes to bound memory).
    package static func removeAll() {
        lock.lock()
        defer { lock.unlock() }
        scenarios = [:]
        addAll = [:]
    }
}
