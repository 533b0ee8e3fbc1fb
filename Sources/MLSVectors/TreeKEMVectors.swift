import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `treekem.json`: creating and processing UpdatePaths (RFC 9420 §7.4–§7.6, §7.9).
enum TreeKEMVectors {
    struct PathSecret: Codable { var node: UInt32; var path_secret: HexBytes }
    struct LeafPrivate: Codable {
        var index: UInt32
        var encryption_priv: HexBytes
        var signature_priv: HexBytes
        var path_secrets: [PathSecret]
    }
    struct UpdatePathCase: Codable {
        var sender: UInt32
        var update_path: HexBytes
        var path_secrets: [HexBytes?]
        var commit_secret: HexBytes
        var tree_hash_after: HexBytes
    }
    struct Case: Codable {
        var cipher_suite: UInt16
        var group_id: HexBytes
        var epoch: UInt64
        var confirmed_transcript_hash: HexBytes
        var ratchet_tree: HexBytes
        var leaves_private: [LeafPrivate]
        var update_paths: [UpdatePathCase]
    }

    static let kind = VectorFileKind(name: "treekem", verify: verify, generate: generate)

    static func privateStates(_ c: Case, suite: CipherSuite, tree: RatchetTree) throws -> [UInt32: TreeKEMPrivateKey] {
        var states: [UInt32: TreeKEMPrivateKey] = [:]
        for p in c.leaves_private {
            var key = TreeKEMPrivateKey(suite: suite, leafIndex: LeafIndex(p.index), leafPrivateKey: SecretBytes(p.encryption_priv.bytes))
            for s in p.path_secrets { try key.setPathSecret(SecretBytes(s.path_secret.bytes), at: NodeIndex(s.node), in: tree) }
            try check("leaf \(p.index) private state consistent with the tree", key.isConsistent(with: tree))
            states[p.index] = key
        }
        return states
    }

    static func verify(_ data: Data) throws -> VectorTally {
        var tally = VectorTally()
        for (i, c) in try OfficialVectors.cases(Case.self, from: data).enumerated() {
            tally.run("case \(i) (suite \(c.cipher_suite))") {
                let s = try CryptoBasicsVectors.suite(c.cipher_suite)
                var tree = try RatchetTree(suite: s, nodes: RatchetTreeNodes(tlsSerialized: c.ratchet_tree.bytes))
                let states = try privateStates(c, suite: s, tree: tree)
                let context = GroupContext(version: .mls10, cipherSuite: s.id, groupID: c.group_id.bytes, epoch: c.epoch,
                                           treeHash: tree.treeHash(), confirmedTranscriptHash: c.confirmed_transcript_hash.bytes, extensions: [])
                let validator = LeafNodeValidator(suite: s, groupContext: context)
                for u in c.update_paths {
                    let sender = LeafIndex(u.sender)
                    let path = try UpdatePath(tlsSerialized: u.update_path.bytes)
                    for leaf in tree.memberLeaves where leaf != sender {
                        var copy = tree
                        guard var key = states[leaf.rawValue] else { throw VectorCheckFailure("no private state for \(leaf)") }
                        let r = try copy.processUpdatePath(path, from: sender, groupContext: context, privateKey: &key, validator: validator)
                        let expected = u.path_secrets.indices.contains(Int(leaf.rawValue)) ? u.path_secrets[Int(leaf.rawValue)]?.bytes : nil
                        try check("sender \(u.sender), \(leaf): decrypted path secret", r.decryptedPathSecret.constantTimeEquals(expected ?? []))
                        try check("sender \(u.sender), \(leaf): commit_secret", r.commitSecret.constantTimeEquals(u.commit_secret.bytes))
                        try check("sender \(u.sender): tree_hash_after", r.treeHash, u.tree_hash_after.bytes)
                        try check("sender \(u.sender), \(leaf): private state consistent after processing", key.isConsistent(with: copy))
                    }
                    // Our own UpdatePath from the same sender must be processable by every other member.
                    guard let senderPrivate = c.leaves_private.first(where: { $0.index == u.sender }) else { continue }
                    var committed = tree
                    let created = try committed.createUpdatePath(from: sender, signer: try InMemorySigner(scheme: s.signature, privateKey: SecretBytes(senderPrivate.signature_priv.bytes)), groupContext: context)
                    for leaf in tree.memberLeaves where leaf != sender {
                        var copy = tree
                        guard var key = states[leaf.rawValue] else { continue }
                        let r = try copy.processUpdatePath(created.creation.updatePath, from: sender, groupContext: context, privateKey: &key, validator: validator)
                        try check("our path from \(u.sender), \(leaf): commit secret", r.commitSecret == created.creation.commitSecret)
                        try check("our path from \(u.sender), \(leaf): tree hash", r.treeHash, created.creation.treeHash)
                    }
                }
            }
        }
        return tally
    }

    static func generate() throws -> Data {
        var cases: [Case] = []
        for s in CipherSuite.all {
            for shape in [TreeFixture.Shape.sequential(4), .sequential(7), .withRemovals(8, removed: 2)] {
                var f = try TreeFixture(suite: s, groupID: SystemRandom.bytes(16))
                f.sealing = true
                try f.build(shape)
                var tree = f.tree
                let leaves = tree.memberLeaves
                let privates = try leaves.map { leaf -> LeafPrivate in
                    let m = try f.member(at: leaf)
                    return LeafPrivate(
                        index: leaf.rawValue, encryption_priv: HexBytes(m.leafPrivateKey.unsafeCopiedBytes()),
                        signature_priv: HexBytes(m.signer.privateKey.unsafeCopiedBytes()),
                        path_secrets: f.knownAncestors(of: leaf).compactMap { node in
                            f.nodePathSecrets[node.rawValue].map { PathSecret(node: node.rawValue, path_secret: HexBytes($0.unsafeCopiedBytes())) }
                        })
                }
                let context = GroupContext(version: .mls10, cipherSuite: s.id, groupID: f.groupID, epoch: f.epoch, treeHash: tree.treeHash(),
                                           confirmedTranscriptHash: SystemRandom.bytes(s.kdfLength), extensions: [])
                var paths: [UpdatePathCase] = []
                for sender in leaves.prefix(3) {
                    var committed = tree
                    let created = try committed.createUpdatePath(from: sender, signer: try f.member(at: sender).signer, groupContext: context)
                    var secrets = [HexBytes?](repeating: nil, count: Int(tree.leafCount))
                    for leaf in leaves where leaf != sender {
                        var copy = tree
                        var key = try f.privateKey(for: leaf)
                        let r = try copy.processUpdatePath(created.creation.updatePath, from: sender, groupContext: context, privateKey: &key)
                        secrets[Int(leaf.rawValue)] = HexBytes(r.decryptedPathSecret.unsafeCopiedBytes())
                    }
                    paths.append(UpdatePathCase(
                        sender: sender.rawValue, update_path: HexBytes(created.creation.updatePath.tlsSerialized), path_secrets: secrets,
                        commit_secret: HexBytes(created.creation.commitSecret.unsafeCopiedBytes()), tree_hash_after: HexBytes(created.creation.treeHash)))
                }
                cases.append(Case(
                    cipher_suite: s.id, group_id: HexBytes(f.groupID), epoch: context.epoch, confirmed_transcript_hash: HexBytes(context.confirmedTranscriptHash),
                    ratchet_tree: HexBytes(tree.exported.tlsSerialized), leaves_private: privates, update_paths: paths))
            }
        }
        return try OfficialVectors.encode(cases)
    }
}
