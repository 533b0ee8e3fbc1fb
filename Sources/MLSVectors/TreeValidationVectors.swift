import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `tree-validation.json`: resolutions, tree hashes, parent hashes and leaf signatures of
/// received trees (RFC 9420 §4.1.1, §7.8, §7.9.2, §7.3).
enum TreeValidationVectors {
    struct Case: Codable {
        var cipher_suite: UInt16
        var tree: HexBytes
        var group_id: HexBytes
        var resolutions: [[UInt32]]
        var tree_hashes: [HexBytes]
    }

    static let kind = VectorFileKind(name: "tree-validation", verify: verify, generate: generate)

    static func verify(_ data: Data) throws -> VectorTally {
        var tally = VectorTally()
        for (i, c) in try OfficialVectors.cases(Case.self, from: data).enumerated() {
            tally.run("case \(i) (suite \(c.cipher_suite))") {
                let s = try CryptoBasicsVectors.suite(c.cipher_suite)
                var tree = try RatchetTree(suite: s, nodes: RatchetTreeNodes(tlsSerialized: c.tree.bytes))
                try check("node count", Int(tree.nodeWidth), c.resolutions.count)
                for n in 0..<tree.nodeWidth {
                    try check("resolution of node \(n)", tree.resolution(NodeIndex(n)).map(\.rawValue), c.resolutions[Int(n)])
                    try check("tree hash of node \(n)", Array(tree.treeHash(of: NodeIndex(n))), c.tree_hashes[Int(n)].bytes)
                }
                try tree.verifyUnmergedLeaves()
                try tree.verifyParentHashes()
                let context = GroupContext(version: .mls10, cipherSuite: s.id, groupID: c.group_id.bytes, epoch: 0,
                                           treeHash: tree.treeHash(), confirmedTranscriptHash: [], extensions: [])
                let validator = LeafNodeValidator(suite: s, groupContext: context)
                for leaf in tree.memberLeaves {
                    try check("signature of \(leaf)", validator.verifySignature(tree.leaf(leaf)!, at: leaf))
                }
                // The whole join-time validation must accept the tree too.
                try tree.validate(groupContext: context, validator: validator)
            }
        }
        return tally
    }

    static func generate() throws -> Data {
        var cases: [Case] = []
        for s in CipherSuite.all {
            for shape in TreeFixture.Shape.vectorShapes {
                var f = try TreeFixture(suite: s, groupID: SystemRandom.bytes(16))
                try f.build(shape)
                var tree = f.tree
                let width = tree.nodeWidth
                cases.append(Case(
                    cipher_suite: s.id, tree: HexBytes(tree.exported.tlsSerialized), group_id: HexBytes(f.groupID),
                    resolutions: (0..<width).map { tree.resolution(NodeIndex($0)).map(\.rawValue) },
                    tree_hashes: (0..<width).map { HexBytes(Array(tree.treeHash(of: NodeIndex($0)))) }))
            }
        }
        return try OfficialVectors.encode(cases)
    }
}
