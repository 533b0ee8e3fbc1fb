import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `tree-operations.json`: the tree effects of Add, Update and Remove (RFC 9420 §12.1.1–§12.1.3).
enum TreeOperationsVectors {
    struct Case: Codable {
        var cipher_suite: UInt16
        var tree_before: HexBytes
        var proposal: HexBytes
        var proposal_sender: UInt32
        var tree_hash_before: HexBytes
        var tree_after: HexBytes
        var tree_hash_after: HexBytes
    }

    static let kind = VectorFileKind(name: "tree-operations", verify: verify, generate: generate)

    static func apply(_ proposal: Proposal, sender: UInt32, to tree: inout RatchetTree) throws {
        switch proposal {
        case let .add(keyPackage): tree.add(keyPackage.leafNode)
        case let .update(update): try tree.update(LeafIndex(sender), with: update.leafNode)
        case let .remove(remove): try tree.remove(remove)
        default: throw VectorCheckFailure("proposal type \(proposal.proposalType.rawValue) has no tree effect")
        }
    }

    static func verify(_ data: Data) throws -> VectorTally {
        var tally = VectorTally()
        for (i, c) in try OfficialVectors.cases(Case.self, from: data).enumerated() {
            tally.run("case \(i) (suite \(c.cipher_suite))") {
                let s = try CryptoBasicsVectors.suite(c.cipher_suite)
                var tree = try RatchetTree(suite: s, nodes: RatchetTreeNodes(tlsSerialized: c.tree_before.bytes))
                try check("tree_hash_before", tree.treeHash(), c.tree_hash_before.bytes)
                try apply(try Proposal(tlsSerialized: c.proposal.bytes), sender: c.proposal_sender, to: &tree)
                try check("tree_after", tree.exported.tlsSerialized, c.tree_after.bytes)
                try check("tree_hash_after", tree.treeHash(), c.tree_hash_after.bytes)
            }
        }
        return tally
    }

    static func generate() throws -> Data {
        var cases: [Case] = []
        for s in CipherSuite.all {
            var f = try TreeFixture(suite: s, groupID: SystemRandom.bytes(16))
            try f.build(.full(8))
            let newcomer = try f.makeMember()
            var update = try f.member(at: LeafIndex(3)).leafNode
            update.encryptionKey = s.hpke.generateKeyPair().publicKey
            update.leafNodeSource = .update
            try update.sign(suite: s, signer: f.member(at: LeafIndex(3)).signer, groupID: f.groupID, leafIndex: 3)
            let proposals: [(Proposal, UInt32)] = [
                (.add(newcomer.keyPackage), 0),
                (.update(Update(leafNode: update)), 3),
                (.remove(LeafIndex(7)), 0),
                (.remove(LeafIndex(2)), 5),
            ]
            for (proposal, sender) in proposals {
                var tree = f.tree
                let before = tree.exported.tlsSerialized
                let hashBefore = tree.treeHash()
                try apply(proposal, sender: sender, to: &tree)
                cases.append(Case(
                    cipher_suite: s.id, tree_before: HexBytes(before), proposal: HexBytes(proposal.tlsSerialized), proposal_sender: sender,
                    tree_hash_before: HexBytes(hashBefore), tree_after: HexBytes(tree.exported.tlsSerialized), tree_hash_after: HexBytes(tree.treeHash())))
            }
        }
        return try OfficialVectors.encode(cases)
    }
}
