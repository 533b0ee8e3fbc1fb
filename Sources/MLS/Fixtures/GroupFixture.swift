@_spi(Engine) import MLSCrypto

extension TreeFixture {
    /// The views that the members at `leaves` hold of this fixture's group, all in one shared
    /// epoch, as if each had processed every commit that built the tree.
    ///
    /// A whole-group benchmark needs a tree whose parents are filled (the "full" shape of
    /// ../shared/design/benchmarks.md). There a commit is O(log N) on the wire. Building that tree
    /// through real members takes one commit per member, processed by everyone: hours at
    /// N = 10 000. The fixture builds the public tree and the private path keys directly.
    /// The epoch secret is random and shared by the returned groups, so from here on they run
    /// real MLS with each other: commits, processing, application messages.
    ///
    /// Not for production: no member outside `leaves` holds this epoch's secrets.
    @_spi(Engine) public func groups(at leaves: [LeafIndex], configuration: GroupConfiguration = GroupConfiguration()) throws -> [MLSGroup] {
        var tree = self.tree
        var context = groupContext()
        context.treeHash = tree.treeHash()
        let secrets = try KeyScheduleEpoch.initial(suite: suite)
        let tag = TranscriptHash.confirmationTag(suite: suite, confirmationKey: secrets.confirmationKey, confirmed: context.confirmedTranscriptHash)
        let interim = TranscriptHash.interim(suite: suite, confirmed: context.confirmedTranscriptHash, confirmationTag: tag)
        return try leaves.map { leaf in
            MLSGroup(suite: suite, context: context, tree: tree, privateKey: try privateKey(for: leaf), signer: try member(at: leaf).signer,
                     epochSecrets: secrets, interimTranscriptHash: interim, configuration: configuration)
        }
    }
}
