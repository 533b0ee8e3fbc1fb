@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// One iteration of an operation, its untimed setup already done.
///
/// ``prepare(_:scenario:)`` does the per-iteration setup (copying the tree and forcing the copy
/// to own its storage); the caller starts the clock, calls ``run()``, stops the clock, and only
/// then lets the returned value and the iteration go, so neither the copy nor the deallocation
/// of large results is timed.
package struct PreparedIteration {
    private let body: () throws -> Any

    init(_ body: @escaping () throws -> Any) { self.body = body }

    /// Runs the timed part. Keep the result alive until the clock is stopped.
    package func run() throws -> Any { try body() }
}

/// Gives `tree` its own copy of every buffer a commit writes, outside the timed region.
///
/// A copied `RatchetTree` shares its node array, hash cache and key indexes with the original
/// until first written; without this the copy-on-write of a 10 000-member tree (megabytes) would
/// be charged to the operation. Re-setting the committer's leaf writes the node array and both
/// key indexes and invalidates the leaf's path; re-hashing then writes the hash cache. The
/// resulting tree is equal to the original, hashes included.
func makeUnique(_ tree: inout RatchetTree, touching leaf: LeafIndex) {
    tree.setLeaf(leaf, tree.leaf(leaf))
    _ = tree.treeHash()
}

/// Prepares one iteration of `op` on `scenario` (`add_all` needs ``prepareAddAll(_:)``).
package func prepare(_ op: BenchOp, scenario s: Scenario) throws -> PreparedIteration {
    switch op {
    case .treeHashCold:
        // A freshly parsed tree has no valid hash anywhere: exactly what a joiner hashes.
        var tree = try RatchetTree(suite: s.suite, nodes: s.exported)
        return PreparedIteration { tree.treeHash() }

    case .treeHashCached:
        // Re-setting the committer's leaf (to the same value) invalidates the leaf and its whole
        // direct path, which is exactly the set of hashes a commit by that leaf changes. The tree
        // in the box stays equal to `treeAfterCommit`, so no copy is needed between iterations.
        let box = s.cachedHashTree
        box.value.setLeaf(s.committer, box.value.leaf(s.committer))
        return PreparedIteration { box.value.treeHash() }

    case .commitUpdatePath:
        var tree = s.tree
        makeUnique(&tree, touching: s.committer)
        let (committer, signer, context) = (s.committer, s.committerSigner, s.commitContext)
        return PreparedIteration {
            let result = try tree.createUpdatePath(from: committer, signer: signer, groupContext: context, sealing: true)
            return (result, tree)
        }

    case .processUpdatePath:
        var tree = s.tree
        makeUnique(&tree, touching: s.committer)
        var key = s.receiverKey
        let (path, committer, context, validator, expected) = (s.creation.updatePath, s.committer, s.commitContext, s.commitValidator, s.creation.treeHash)
        return PreparedIteration {
            let result = try tree.processUpdatePath(path, from: committer, groupContext: context, privateKey: &key, validator: validator)
            guard result.treeHash == expected else { throw BenchError.unexpected("processed tree hash differs from the committer's") }
            return (result, tree, key)
        }

    case .joinValidate:
        let (suite, nodes, context, validator) = (s.suite, s.exported, s.joinContext, s.joinValidator)
        return PreparedIteration {
            var tree = try RatchetTree(suite: suite, nodes: nodes)
            try tree.validate(groupContext: context, validator: validator)
            return tree
        }

    case .addAll:
        throw BenchError.unexpected("add_all is prepared from an AddAllScenario")
    }
}

/// Prepares one iteration of `add_all`: the creator of a one-member group adds every KeyPackage
/// in one commit and produces the Welcome.
///
/// Timed: validating the KeyPackages (two signature verifications each, on all cores), adding
/// them to the tree, the committer's UpdatePath (new members excluded from its resolutions, so
/// no seals), the tree hash, signing a GroupInfo, sealing it, and sealing GroupSecrets (with the
/// path secret of the lowest common ancestor) to every new member through
/// `WelcomeCrypto.encryptGroupSecrets`. Not timed: KeyPackage generation. The key schedule is
/// left out (a few HKDF calls); the joiner secret and welcome secret are random stand-ins, and
/// the GroupInfo carries no `ratchet_tree` extension (the tree goes out of band).
package func prepareAddAll(_ s: AddAllScenario) -> PreparedIteration {
    let tree = s.tree
    return PreparedIteration {
        var tree = tree
        let suite = s.suite
        let results = s.validator.validate(keyPackages: s.keyPackages, against: tree)
        if let bad = results.firstIndex(where: { $0 != nil }) { throw BenchError.unexpected("KeyPackage \(bad) refused: \(results[bad]!)") }
        var added: [LeafIndex] = []
        added.reserveCapacity(s.keyPackages.count)
        for kp in s.keyPackages { added.append(tree.add(kp.leafNode)) }
        let (creation, _) = try tree.createUpdatePath(from: LeafIndex(0), signer: s.creatorSigner, groupContext: s.groupContext,
                                                      excluding: Set(added), sealing: true)
        var context = s.groupContext
        context.epoch += 1
        context.treeHash = tree.treeHash()

        var info = GroupInfo(groupContext: context, extensions: [], confirmationTag: suite.mac(key: SecretBytes(randomCount: suite.kdfLength), data: context.confirmedTranscriptHash),
                             signer: 0, signature: [])
        try info.sign(suite: suite, signer: s.creatorSigner)
        let welcomeSecret = SecretBytes(randomCount: suite.kdfLength)
        let encryptedGroupInfo = try WelcomeCrypto.encryptGroupInfo(suite: suite, groupInfo: info, welcomeSecret: welcomeSecret)

        // Each new member gets the path secret of the lowest path node above it (§12.4.3.1).
        let joinerSecret = SecretBytes(randomCount: suite.kdfLength).unsafeCopiedBytes()
        let pathSecrets = creation.pathSecrets.map { (node: $0.node, bytes: $0.secret.unsafeCopiedBytes()) }
        var recipients: [(keyPackage: KeyPackage, secrets: GroupSecrets)] = []
        recipients.reserveCapacity(added.count)
        for (kp, leaf) in zip(s.keyPackages, added) {
            let secret = pathSecrets.first { TreeMath.isAncestor($0.node, of: leaf.nodeIndex) }
            recipients.append((kp, GroupSecrets(joinerSecret: joinerSecret, pathSecret: secret.map { PathSecret(pathSecret: $0.bytes) }, psks: [])))
        }
        let secrets = try WelcomeCrypto.encryptGroupSecrets(suite: suite, recipients: recipients, encryptedGroupInfo: encryptedGroupInfo)
        let welcome = Welcome(cipherSuite: suite.id, secrets: secrets, encryptedGroupInfo: encryptedGroupInfo)
        return (welcome, tree, creation)
    }
}
