@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// A PSK store that adds resumption PSKs of specific groups to another store.
struct LinkedPSKStore: PSKStore {
    let base: any PSKStore
    let groupID: [UInt8]
    let epoch: UInt64
    let psk: SecretBytes

    func externalPSK(id: [UInt8]) -> SecretBytes? { base.externalPSK(id: id) }
    func resumptionPSK(groupID g: [UInt8], epoch e: UInt64) -> SecretBytes? {
        g == groupID && e == epoch ? psk : base.resumptionPSK(groupID: g, epoch: e)
    }
}

extension MLSGroup {
    /// Creates the group that replaces this one after a committed ReInit (§11.2): a new group
    /// with the ReInit's group ID, suite and extensions, whose first commit adds the given
    /// members and injects this group's resumption PSK with usage `reinit`. Returns the new
    /// group (at epoch 1) and the commit's Welcome for the members.
    public func reinitialize(creator bundle: KeyPackageBundle, members keyPackages: [KeyPackage],
                             configuration: GroupConfiguration? = nil) throws(GroupError) -> (group: MLSGroup, welcome: MLSMessage?) {
        guard let reinit = pendingReInit else { throw GroupError.invalidProposal(.noReInitCommitted) }
        guard let newSuite = CipherSuite(id: reinit.cipherSuite) else { throw GroupError.cipherSuiteMismatch }
        return try startLinkedGroup(usage: .reinit, groupID: reinit.groupID, suite: newSuite, extensions: reinit.extensions,
                                    creator: bundle, members: keyPackages, configuration: configuration ?? self.configuration)
    }

    /// Branches a subgroup of this group (§11.3): same version and suite, the given members,
    /// linked by this group's resumption PSK with usage `branch`.
    public func branch(groupID newID: [UInt8], creator bundle: KeyPackageBundle, members keyPackages: [KeyPackage],
                       extensions: [Extension] = [], configuration: GroupConfiguration? = nil) throws(GroupError) -> (group: MLSGroup, welcome: MLSMessage?) {
        guard isActive else { throw GroupError.inactive }
        return try startLinkedGroup(usage: .branch, groupID: newID, suite: suite, extensions: extensions,
                                    creator: bundle, members: keyPackages, configuration: configuration ?? self.configuration)
    }

    private func startLinkedGroup(usage: ResumptionPSKUsage, groupID newID: [UInt8], suite newSuite: CipherSuite, extensions: [Extension],
                                  creator bundle: KeyPackageBundle, members: [KeyPackage], configuration: GroupConfiguration) throws(GroupError) -> (group: MLSGroup, welcome: MLSMessage?) {
        var config = configuration
        config.psks = LinkedPSKStore(base: configuration.psks, groupID: groupID, epoch: epoch, psk: epochSecrets.resumptionPSK)
        var group = try MLSGroup.create(suite: newSuite, groupID: newID, creator: bundle, extensions: extensions, configuration: config)
        group.linkedResumptionUsage = usage
        let psk = PreSharedKeyID(psk: .resumption(usage: usage, pskGroupID: groupID, pskEpoch: epoch), pskNonce: SystemRandom.bytes(newSuite.kdfLength))
        // The new group's first commit is an ordinary member commit (the one commit builder);
        // nobody else is in the group yet to compete with it, so it is merged at once.
        let out = try group.commit(CommitOptions(proposals: members.map { .add($0) } + [.preSharedKey(psk)],
                                                 includePendingProposals: false))
        try group.merge(out.pending)
        group.linkedResumptionUsage = nil
        group.configuration = configuration
        return (group, out.welcome)
    }

    /// Joins the group that replaces `previous` after its ReInit (§11.2, §12.4.3.1): the
    /// Welcome must carry `previous`'s resumption PSK with usage `reinit` for the epoch after
    /// the ReInit commit, be for epoch 1, and match the ReInit's group ID, version, suite and
    /// extensions.
    public static func joinReinitialized(welcome: MLSMessage, keyPackage bundle: KeyPackageBundle, previous: MLSGroup,
                                         ratchetTree: RatchetTreeNodes? = nil, configuration: GroupConfiguration = GroupConfiguration()) throws(GroupError) -> MLSGroup {
        guard let reinit = previous.pendingReInit else { throw GroupError.invalidProposal(.noReInitCommitted) }
        let group = try previous.joinLinked(welcome: welcome, bundle: bundle, usage: .reinit, ratchetTree: ratchetTree, configuration: configuration)
        let c = group.context
        guard c.groupID == reinit.groupID, c.version == reinit.version, c.cipherSuite == reinit.cipherSuite, c.extensions == reinit.extensions else {
            throw GroupError.invalidProposal(.reinitMismatch)
        }
        return group
    }

    /// Joins a subgroup branched from `parent` (§11.3): same version and suite, epoch 1, the
    /// parent's resumption PSK with usage `branch`, and every member of the subgroup presenting
    /// a credential that is also in the parent group.
    public static func joinBranch(welcome: MLSMessage, keyPackage bundle: KeyPackageBundle, parent: MLSGroup,
                                  ratchetTree: RatchetTreeNodes? = nil, configuration: GroupConfiguration = GroupConfiguration()) throws(GroupError) -> MLSGroup {
        let group = try parent.joinLinked(welcome: welcome, bundle: bundle, usage: .branch, ratchetTree: ratchetTree, configuration: configuration)
        guard group.context.version == parent.context.version, group.suite == parent.suite else {
            throw GroupError.invalidProposal(.branchChangesVersionOrSuite)
        }
        let parentCredentials = Set(parent.members.compactMap { parent.tree.leaf($0)?.credential })
        for leaf in group.members {
            guard let credential = group.tree.leaf(leaf)?.credential, parentCredentials.contains(credential) else {
                throw GroupError.invalidProposal(.branchMemberNotInParent)
            }
        }
        return group
    }

    /// Joins with this group's resumption PSK made available, checking that the Welcome names
    /// it with `usage` for this group.
    func joinLinked(welcome: MLSMessage, bundle: KeyPackageBundle, usage: ResumptionPSKUsage, ratchetTree: RatchetTreeNodes?,
                    configuration: GroupConfiguration) throws(GroupError) -> MLSGroup {
        guard case let .welcome(w) = welcome.body else { throw GroupError.unexpectedWireFormat }
        let secrets: DecryptedGroupSecrets
        do { secrets = try WelcomeCrypto.decryptGroupSecrets(w, keyPackage: bundle.keyPackage, initPrivateKey: bundle.initPrivateKey) } catch { throw GroupError.wrap(error) }
        guard let link = secrets.reinitOrBranchPSK, case let .resumption(u, g, e) = link.psk, u == usage, g == groupID, e == epoch else {
            throw GroupError.invalidProposal(usage == .reinit ? .missingReInitPSK : .missingBranchPSK)
        }
        var config = configuration
        config.psks = LinkedPSKStore(base: configuration.psks, groupID: groupID, epoch: epoch, psk: epochSecrets.resumptionPSK)
        var group = try MLSGroup.join(welcome: welcome, keyPackage: bundle, ratchetTree: ratchetTree, configuration: config)
        group.configuration = configuration
        return group
    }
}
