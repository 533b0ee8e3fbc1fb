@_spi(Engine) import MLS
@_spi(Engine) import MLSCrypto

package enum TreeChecks {
    /// Builds the tree from `nodes` and runs the package checks; on success, the tree's export
    /// must itself build into a tree with the same export and tree hash (trap otherwise).
    package static func run(suite: CipherSuite, nodes: RatchetTreeNodes, context: GroupContext, signer: UInt32,
                           _ extra: (inout RatchetTree) -> Void) {
        guard var tree = try? RatchetTree(suite: suite, nodes: nodes) else { return }
        let hash = tree.treeHash()
        let exported = tree.exported
        guard var again = try? RatchetTree(suite: suite, nodes: exported) else {
            fatalError("RatchetTree: export of an accepted tree is refused; nodes \(hexPrefix(nodes.tlsSerialized))")
        }
        guard again.exported == exported else { fatalError("RatchetTree: export not stable; nodes \(hexPrefix(nodes.tlsSerialized))") }
        guard again.treeHash() == hash else { fatalError("RatchetTree: tree hash changes across export; nodes \(hexPrefix(nodes.tlsSerialized))") }
        _ = tree.memberLeaves
        _ = tree.resolution(tree.root)
        for leaf in tree.memberLeaves.prefix(8) {
            _ = tree.filteredDirectPath(leaf)
            if let node = tree.leaf(leaf) {
                _ = tree.leafIndex(signatureKey: node.signatureKey)
                _ = tree.nodeIndex(encryptionKey: node.encryptionKey)
            }
        }
        _ = try? tree.verifyUnmergedLeaves()
        _ = try? tree.verifyParentHashes()
        var ctx = context
        ctx.treeHash = hash
        let validator = LeafNodeValidator(suite: suite, groupContext: ctx, currentTime: nil)
        var validated = tree
        _ = try? validated.validate(groupContext: ctx, validator: validator)
        extra(&tree)
    }
}
