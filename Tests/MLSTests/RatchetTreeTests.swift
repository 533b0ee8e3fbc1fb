@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLS
@testable import MLSVectors

/// Ratchet-tree structure, hashing and join-time validation (RFC 9420 §4, §7, §12.4.3).
@Suite struct RatchetTreeTests {
    let suite = CipherSuite(id: 1)!

    func fixture(_ shape: TreeFixture.Shape, suite id: UInt16 = 1) throws -> TreeFixture {
        var f = try TreeFixture(suite: CipherSuite(id: id)!, groupID: [7, 7])
        try f.build(shape)
        return f
    }

    func context(_ f: TreeFixture, _ tree: inout RatchetTree) -> GroupContext {
        GroupContext(version: .mls10, cipherSuite: f.suite.id, groupID: f.groupID, epoch: f.epoch, treeHash: tree.treeHash(),
                     confirmedTranscriptHash: [], extensions: [])
    }

    @Test func addExtendsAndRemoveTruncates() throws {
        var f = try fixture(.blank(3))
        #expect(f.tree.leafCount == 4)
        #expect(f.tree.memberLeaves.map(\.rawValue) == [0, 1, 2])
        try f.remove(LeafIndex(2))
        #expect(f.tree.leafCount == 2)
        // The leftmost blank leaf is reused before the tree grows.
        try f.remove(LeafIndex(0))
        let leaf = f.add([try f.makeMember()])
        #expect(leaf == [LeafIndex(0)])
    }

    @Test func exportedTreeHasNoTrailingBlanksAndRoundTrips() throws {
        var f = try fixture(.sequential(5))
        let exported = f.tree.exported
        #expect(exported.nodes.last! != nil)
        var parsed = try RatchetTree(suite: suite, nodes: RatchetTreeNodes(tlsSerialized: exported.tlsSerialized))
        #expect(parsed.treeHash() == f.tree.treeHash())
        #expect(parsed.leafCount == 8)
    }

    @Test func structuralErrors() throws {
        let f = try fixture(.sequential(3))
        var nodes = f.tree.exported.nodes
        #expect(throws: TreeError.emptyTree) { try RatchetTree(suite: suite, nodes: RatchetTreeNodes(nodes: [])) }
        #expect(throws: TreeError.trailingBlank) { try RatchetTree(suite: suite, nodes: RatchetTreeNodes(nodes: nodes + [nil])) }
        let leaf0 = nodes[0]!
        nodes[1] = leaf0
        #expect(throws: TreeError.nodeTypeMismatch(node: 1)) { try RatchetTree(suite: suite, nodes: RatchetTreeNodes(nodes: nodes)) }
        var dup = f.tree.exported.nodes
        dup[4] = leaf0
        #expect(throws: TreeError.duplicateSignatureKey(LeafIndex(2))) { try RatchetTree(suite: suite, nodes: RatchetTreeNodes(nodes: dup)) }
    }

    @Test func duplicateEncryptionKeyIsRefused() throws {
        let f = try fixture(.sequential(4))
        var nodes = f.tree.exported.nodes
        guard case let .leaf(l)? = nodes[0], case var .parent(p)? = nodes[1] else { Issue.record("unexpected shape"); return }
        p.encryptionKey = l.encryptionKey
        nodes[1] = .parent(p)
        #expect(throws: TreeError.duplicateEncryptionKey(node: 1)) { try RatchetTree(suite: suite, nodes: RatchetTreeNodes(nodes: nodes)) }
    }

    @Test(arguments: [TreeFixture.Shape.sequential(9), .full(8), .withRemovals(8, removed: 3), .churn(12, steps: 12, seed: 3)])
    func fixtureTreesValidate(_ shape: TreeFixture.Shape) throws {
        var f = try fixture(shape)
        var tree = try RatchetTree(suite: suite, nodes: f.tree.exported)
        try tree.validate(groupContext: context(f, &f.tree), validator: LeafNodeValidator(suite: suite, groupContext: context(f, &f.tree)))
    }

    @Test func tamperedParentHashIsRefused() throws {
        var f = try fixture(.full(4))
        var nodes = f.tree.exported.nodes
        guard case var .parent(p)? = nodes[3] else { Issue.record("root is blank"); return }
        p.parentHash = [UInt8](repeating: 1, count: 32)
        nodes[3] = .parent(p)
        var tree = try RatchetTree(suite: suite, nodes: RatchetTreeNodes(nodes: nodes))
        #expect(throws: TreeError.self) { try tree.verifyParentHashes() }
        // A node key swapped in by an outsider breaks the parent-hash chain below it.
        var swapped = f.tree.exported.nodes
        guard case var .parent(q)? = swapped[1] else { return }
        q.encryptionKey = suite.hpke.generateKeyPair().publicKey
        swapped[1] = .parent(q)
        var t2 = try RatchetTree(suite: suite, nodes: RatchetTreeNodes(nodes: swapped))
        #expect(throws: TreeError.parentHashInvalid(node: 1)) { try t2.verifyParentHashes() }
        _ = try context(f, &f.tree)
    }

    @Test func treeHashMismatchAndBadSignature() throws {
        var f = try fixture(.sequential(3))
        var ctx = context(f, &f.tree)
        let validator = LeafNodeValidator(suite: suite, groupContext: ctx)
        var tree = try RatchetTree(suite: suite, nodes: f.tree.exported)
        ctx.treeHash[0] ^= 1
        #expect(throws: TreeError.treeHashMismatch) { try tree.validate(groupContext: ctx, validator: validator) }

        // In a tree without parent nodes the signature check is the one that fails (otherwise
        // the tampered leaf's hash breaks a parent hash first).
        var blank = try fixture(.blank(3))
        var nodes = blank.tree.exported.nodes
        _ = blank.tree.treeHash()
        guard case var .leaf(l)? = nodes[4] else { return }
        l.signature[0] ^= 1
        nodes[4] = .leaf(l)
        var bad = try RatchetTree(suite: suite, nodes: RatchetTreeNodes(nodes: nodes))
        let badContext = GroupContext(version: .mls10, cipherSuite: 1, groupID: blank.groupID, epoch: 0, treeHash: bad.treeHash(), confirmedTranscriptHash: [], extensions: [])
        #expect(throws: TreeError.invalidLeafNode(LeafIndex(2), .invalidSignature)) {
            try bad.validate(groupContext: badContext, validator: LeafNodeValidator(suite: suite, groupContext: badContext))
        }
    }

    @Test func invalidUnmergedLeaves() throws {
        let f = try fixture(.sequential(4))  // leaf 3 was added by leaf 2's commit and is unmerged
        var nodes = f.tree.exported.nodes
        guard case var .parent(root)? = nodes[3] else { Issue.record("root is blank"); return }
        root.unmergedLeaves = [3, 1]  // unsorted
        nodes[3] = .parent(root)
        let tree = try RatchetTree(suite: suite, nodes: RatchetTreeNodes(nodes: nodes))
        #expect(throws: TreeError.invalidUnmergedLeaves(node: 3)) { try tree.verifyUnmergedLeaves() }
        root.unmergedLeaves = [9]  // not a leaf of the tree
        nodes[3] = .parent(root)
        let t2 = try RatchetTree(suite: suite, nodes: RatchetTreeNodes(nodes: nodes))
        #expect(throws: TreeError.invalidUnmergedLeaves(node: 3)) { try t2.verifyUnmergedLeaves() }
    }

    @Test func x509IsRefusedByDefault() throws {
        var f = try fixture(.blank(2))
        let ctx = context(f, &f.tree)
        var leaf = try f.member(at: LeafIndex(1)).leafNode
        leaf.credential = .x509(certificates: [[1, 2, 3]])
        #expect(LeafNodeValidator(suite: suite, groupContext: ctx).checkContent(leaf, expectedSource: nil) == .invalidCredential(.unsupportedType(.x509)))
    }

    @Test func credentialTypeCompatibility() throws {
        var f = try fixture(.blank(3))
        #expect(f.tree.credentialTypesCompatible())
        var leaf = try f.member(at: LeafIndex(1)).leafNode
        leaf.capabilities.credentials = [.basic, .x509]
        leaf.credential = .x509(certificates: [])
        // Members 0 and 2 only support basic: an x509 member is incompatible.
        #expect(!f.tree.credentialTypesCompatible(adding: leaf, at: LeafIndex(1)))
        _ = context(f, &f.tree)
    }

    @Test func cachedHashEqualsColdHashAfterRandomOperations() throws {
        // The cache is invalidated only along touched paths; compare against a cold recompute.
        for seed in UInt64(1)...4 {
            var f = try fixture(.churn(10, steps: 15, seed: seed))
            var cold = try RatchetTree(suite: suite, nodes: f.tree.exported)
            #expect(f.tree.treeHash() == cold.treeHash())
        }
    }

    @Test func largeTreeHashesInParallelDeterministically() throws {
        var f = try fixture(.blank(300))
        var a = try RatchetTree(suite: suite, nodes: f.tree.exported)
        // Hash the same tree sequentially, bottom-up through the per-node API.
        var b = try RatchetTree(suite: suite, nodes: f.tree.exported)
        for n in 0..<b.nodeWidth where NodeIndex(n).isLeaf { _ = b.treeHash(of: NodeIndex(n)) }
        #expect(a.treeHash() == b.treeHash())
        #expect(a.treeHash() == f.tree.treeHash())
    }
}

/// TreeKEM (RFC 9420 §7.4–§7.6): UpdatePath creation and processing.
@Suite struct TreeKEMTests {
    func setup(_ shape: TreeFixture.Shape, suite id: UInt16 = 1) throws -> (TreeFixture, GroupContext) {
        var f = try TreeFixture(suite: CipherSuite(id: id)!, groupID: [1, 2, 3])
        f.sealing = true
        try f.build(shape)
        let ctx = GroupContext(version: .mls10, cipherSuite: id, groupID: f.groupID, epoch: 9, treeHash: [], confirmedTranscriptHash: [4], extensions: [])
        return (f, ctx)
    }

    @Test(arguments: [UInt16(1), 2, 3, 4, 5, 6, 7])
    func everyMemberAgreesOnTheCommitSecret(_ id: UInt16) throws {
        let (f, ctx) = try setup(.sequential(6), suite: id)
        var sender = f.tree
        let signer = try f.member(at: LeafIndex(2)).signer
        let (created, _) = try sender.createUpdatePath(from: LeafIndex(2), signer: signer, groupContext: ctx)
        for leaf in f.tree.memberLeaves where leaf != LeafIndex(2) {
            var tree = f.tree
            var key = try f.privateKey(for: leaf)
            let r = try tree.processUpdatePath(created.updatePath, from: LeafIndex(2), groupContext: ctx, privateKey: &key,
                                               validator: LeafNodeValidator(suite: f.suite, groupContext: ctx))
            #expect(r.commitSecret == created.commitSecret)
            #expect(r.treeHash == created.treeHash)
            #expect(tree.exported == sender.exported)
            #expect(key.isConsistent(with: tree))
        }
    }

    /// Processes `path` as leaf 0 and checks that failure left the tree and the key untouched.
    func expectRollback(_ f: TreeFixture, _ ctx: GroupContext, _ path: UpdatePath, from sender: LeafIndex, error: TreeError) throws {
        var tree = f.tree
        var key = try f.privateKey(for: LeafIndex(0))
        let before = tree.exported
        let hashBefore = tree.treeHash()
        let keysBefore = key.nodesWithKeys
        #expect(throws: error) { try tree.processUpdatePath(path, from: sender, groupContext: ctx, privateKey: &key) }
        #expect(tree.exported == before)
        #expect(tree.treeHash() == hashBefore)
        #expect(key.nodesWithKeys == keysBefore)
        #expect(key.isConsistent(with: tree))
    }

    @Test func tamperedCiphertextRollsBack() throws {
        let (f, ctx) = try setup(.full(8))
        var sender = f.tree
        let (created, _) = try sender.createUpdatePath(from: LeafIndex(5), signer: f.member(at: LeafIndex(5)).signer, groupContext: ctx)
        var path = created.updatePath
        // Leaf 0 decrypts from the top node (its copath child is the left half).
        let top = path.nodes.count - 1
        path.nodes[top].encryptedPathSecret[0].ciphertext[0] ^= 1
        try expectRollback(f, ctx, path, from: LeafIndex(5), error: .decryptionFailed)
    }

    @Test func wrongPublicKeyInPathRollsBack() throws {
        let (f, ctx) = try setup(.full(8))
        var sender = f.tree
        let (created, _) = try sender.createUpdatePath(from: LeafIndex(5), signer: f.member(at: LeafIndex(5)).signer, groupContext: ctx)
        var path = created.updatePath
        path.nodes[path.nodes.count - 1].encryptionKey = f.suite.hpke.generateKeyPair().publicKey
        // The parent hash covers the node keys, so a substituted key breaks it first.
        try expectRollback(f, ctx, path, from: LeafIndex(5), error: .parentHashMismatch)
    }

    @Test func pathLengthAndCountsAreChecked() throws {
        let (f, ctx) = try setup(.full(8))
        var sender = f.tree
        let (created, _) = try sender.createUpdatePath(from: LeafIndex(5), signer: f.member(at: LeafIndex(5)).signer, groupContext: ctx)
        var short = created.updatePath
        short.nodes.removeLast()
        try expectRollback(f, ctx, short, from: LeafIndex(5), error: .pathLengthMismatch(expected: 3, got: 2))
        var extra = created.updatePath
        extra.nodes[0].encryptedPathSecret.append(extra.nodes[0].encryptedPathSecret[0])
        try expectRollback(f, ctx, extra, from: LeafIndex(5), error: .ciphertextCountMismatch(node: 9))
    }

    @Test func wrongContextFailsToDecrypt() throws {
        let (f, ctx) = try setup(.full(4))
        var sender = f.tree
        let (created, _) = try sender.createUpdatePath(from: LeafIndex(3), signer: f.member(at: LeafIndex(3)).signer, groupContext: ctx)
        var other = ctx
        other.epoch += 1
        var tree = f.tree
        var key = try f.privateKey(for: LeafIndex(0))
        #expect(throws: TreeError.decryptionFailed) { try tree.processUpdatePath(created.updatePath, from: LeafIndex(3), groupContext: other, privateKey: &key) }
    }

    @Test func newMembersAreExcludedFromEncryption() throws {
        var (f, ctx) = try setup(.full(4))
        let added = f.add([try f.makeMember(), try f.makeMember()])
        var sender = f.tree
        let (created, _) = try sender.createUpdatePath(from: LeafIndex(0), signer: f.member(at: LeafIndex(0)).signer,
                                                       groupContext: ctx, excluding: Set(added))
        let total = created.updatePath.nodes.map(\.encryptedPathSecret.count).reduce(0, +)
        // Leaves 1 (sibling) and the right subtree's node: the two new leaves 4, 5 get nothing.
        #expect(total == 2)
        ctx.epoch += 0
    }

    @Test func oldNodeKeysAreForgotten() throws {
        // Forward secrecy (§7.5): after processing, the keys replaced by the path are gone.
        let (f, ctx) = try setup(.full(8))
        var key = try f.privateKey(for: LeafIndex(0))
        let root = f.tree.root
        let oldRoot = try #require(key.privateKey(for: root))
        var sender = f.tree
        let (created, _) = try sender.createUpdatePath(from: LeafIndex(7), signer: f.member(at: LeafIndex(7)).signer, groupContext: ctx)
        var tree = f.tree
        _ = try tree.processUpdatePath(created.updatePath, from: LeafIndex(7), groupContext: ctx, privateKey: &key)
        let newRoot = try #require(key.privateKey(for: root))
        #expect(newRoot != oldRoot)
        #expect(!key.nodesWithKeys.contains { key.privateKey(for: $0) == oldRoot })
    }

    @Test func senderCannotProcessItsOwnPath() throws {
        let (f, ctx) = try setup(.full(4))
        var sender = f.tree
        let (created, _) = try sender.createUpdatePath(from: LeafIndex(1), signer: f.member(at: LeafIndex(1)).signer, groupContext: ctx)
        var tree = f.tree
        var key = try f.privateKey(for: LeafIndex(1))
        #expect(throws: TreeError.invalidSender(LeafIndex(1))) { try tree.processUpdatePath(created.updatePath, from: LeafIndex(1), groupContext: ctx, privateKey: &key) }
    }

    @Test func invalidCommitLeafIsRefused() throws {
        let (f, ctx) = try setup(.full(4))
        var sender = f.tree
        let (created, _) = try sender.createUpdatePath(from: LeafIndex(2), signer: f.member(at: LeafIndex(2)).signer, groupContext: ctx)
        var path = created.updatePath
        path.leafNode.signature[3] ^= 1
        var tree = f.tree
        var key = try f.privateKey(for: LeafIndex(0))
        #expect(throws: TreeError.invalidLeafNode(LeafIndex(2), .invalidSignature)) {
            try tree.processUpdatePath(path, from: LeafIndex(2), groupContext: ctx, privateKey: &key, validator: LeafNodeValidator(suite: f.suite, groupContext: ctx))
        }
    }
}
