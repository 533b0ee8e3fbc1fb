@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

extension MLSGroup {
    /// Joins a group from a Welcome (§12.4.3.1): decrypts the GroupSecrets with the KeyPackage's
    /// init key, the GroupInfo with the welcome secret, takes the ratchet tree from the
    /// `ratchet_tree` extension or `ratchetTree`, verifies the GroupInfo signature, validates
    /// the whole tree, finds this member's leaf, installs the path secret, and checks the
    /// confirmation tag.
    public static func join(
        welcome message: MLSMessage, keyPackage bundle: KeyPackageBundle, ratchetTree: RatchetTreeNodes? = nil,
        configuration: GroupConfiguration = GroupConfiguration()
    ) throws(GroupError) -> MLSGroup {
        guard message.version == .mls10 else { throw GroupError.unsupportedVersion }
        guard case let .welcome(welcome) = message.body else { throw GroupError.unexpectedWireFormat }
        do {
            let suite = try WelcomeCrypto.suite(of: welcome)
            let secrets = try WelcomeCrypto.decryptGroupSecrets(welcome, keyPackage: bundle.keyPackage, initPrivateKey: bundle.initPrivateKey)
            let pskSecret = try pskSecret(secrets.psks, suite: suite, store: configuration.psks, limits: configuration.limits)
            let info = try WelcomeCrypto.decryptGroupInfo(welcome, joinerSecret: secrets.joinerSecret, pskSecret: pskSecret)
            let context = info.groupContext
            guard context.version == .mls10 else { throw GroupError.unsupportedVersion }
            guard !context.extensions.hasRepeatedTypes, !info.extensions.hasRepeatedTypes else {
                throw GroupError.invalidProposal(.repeatedExtensionType)
            }
            guard context.cipherSuite == suite.id else { throw GroupError.cipherSuiteMismatch }
            // A group whose epoch cannot advance could take no commit: refuse it now (§8.1).
            guard context.epoch < UInt64.max else { throw GroupError.epochExhausted }
            if secrets.reinitOrBranchPSK != nil, context.epoch != 1 { throw GroupError.invalidProposal(.resumptionWelcomeEpoch) }
            var tree = try RatchetTree(suite: suite, nodes: try treeNodes(info, outOfBand: ratchetTree, limits: configuration.limits))
            try checkMembers(tree, limits: configuration.limits)
            guard let signer = tree.leaf(LeafIndex(info.signer)) else { throw GroupError.invalidGroupInfoSignature }
            try WelcomeCrypto.verifyGroupInfo(info, suite: suite, signerPublicKey: signer.signatureKey)
            let validator = LeafNodeValidator(suite: suite, groupContext: context, identity: configuration.identity, currentTime: nil,
                                              limits: configuration.limits)
            try tree.validate(groupContext: context, validator: validator)
            guard let mine = tree.leafIndex(signatureKey: bundle.keyPackage.leafNode.signatureKey),
                  tree.leaf(mine) == bundle.keyPackage.leafNode else { throw GroupError.ownLeafNotFound }
            var key = TreeKEMPrivateKey(suite: suite, leafIndex: mine, leafPrivateKey: bundle.encryptionPrivateKey)
            if let pathSecret = secrets.pathSecret {
                try key.implantWelcomePathSecret(pathSecret, committer: LeafIndex(info.signer), in: tree)
            }
            let epoch = try WelcomeCrypto.verifyConfirmationTag(info, suite: suite, joinerSecret: secrets.joinerSecret, pskSecret: pskSecret)
            return MLSGroup(suite: suite, context: context, tree: tree, privateKey: key, signer: bundle.signer,
                            epochSecrets: epoch,
                            interimTranscriptHash: TranscriptHash.interim(suite: suite, confirmed: context.confirmedTranscriptHash, confirmationTag: info.confirmationTag),
                            configuration: configuration)
        } catch {
            throw GroupError.wrap(error)
        }
    }

    /// The tree of a GroupInfo: its `ratchet_tree` extension, else the one supplied out of band.
    /// The limits are checked before the tree is decoded or built: a received tree is attacker
    /// data until the GroupInfo signature over it has been verified.
    static func treeNodes(_ info: GroupInfo, outOfBand: RatchetTreeNodes?, limits: MLSLimits) throws -> RatchetTreeNodes {
        guard info.extensions.count <= limits.maxExtensions, info.groupContext.extensions.count <= limits.maxExtensions else {
            throw GroupError.limitExceeded(.extensions)
        }
        let maxNodes = Int(TreeMath.nodeWidth(limits.maxLeaves))
        if let data = info.extensions.data(for: .ratchetTree) {
            do {
                return try RatchetTreeNodes(tlsSerialized: data, maxNodes: maxNodes)
            } catch TLSDecodingError.tooManyElements {
                throw GroupError.limitExceeded(.leaves)
            } catch {
                throw GroupError.malformed(.ratchetTree, error)
            }
        }
        guard let outOfBand else { throw GroupError.missingRatchetTree }
        guard outOfBand.nodes.count <= maxNodes else { throw GroupError.limitExceeded(.leaves) }
        return outOfBand
    }

    /// The member count of a received tree against the limit, once the tree is built.
    static func checkMembers(_ tree: RatchetTree, limits: MLSLimits) throws {
        guard tree.memberCount <= limits.maxMembers else { throw GroupError.limitExceeded(.members) }
    }

    /// `psk_secret` for a list of PSK IDs (§8.4), `nil` when there are none. Resumption PSKs of
    /// the group `own` names come from its retained epochs, everything else from `store`.
    static func pskSecret(_ ids: [PreSharedKeyID], suite: CipherSuite, store: any PSKStore, limits: MLSLimits,
                          own: (groupID: [UInt8], psks: [UInt64: SecretBytes])? = nil) throws -> SecretBytes? {
        guard !ids.isEmpty else { return nil }
        // Bounded before any store lookup: each may be costly for the application's store.
        guard ids.count <= limits.maxPSKs else { throw GroupError.limitExceeded(.psks) }
        let entries = try ids.map { id -> (id: PreSharedKeyID, psk: SecretBytes) in
            switch id.psk {
            case let .external(pskID):
                guard let psk = store.externalPSK(id: pskID) else { throw GroupError.missingPSK }
                return (id, psk)
            case let .resumption(_, group, epoch):
                if let own, group == own.groupID, let psk = own.psks[epoch] { return (id, psk) }
                guard let psk = store.resumptionPSK(groupID: group, epoch: epoch) else { throw GroupError.missingPSK }
                return (id, psk)
            }
        }
        do { return try PSKSecret.compute(suite: suite, psks: entries) } catch { throw GroupError.wrap(error) }
    }

    /// Joins a group by an external commit (§12.4.3.2), from a GroupInfo that carries
    /// `external_pub`. The joiner's state is returned in the new epoch together with the commit
    /// to send; if the delivery service refuses the commit, discard the state and retry.
    ///
    /// - Parameters:
    ///   - removing: a leaf of this client's to replace (resynchronisation), removed by the commit.
    public static func externalJoin(
        groupInfo message: MLSMessage, ratchetTree: RatchetTreeNodes? = nil, keyPackage bundle: KeyPackageBundle,
        removing: LeafIndex? = nil, configuration: GroupConfiguration = GroupConfiguration()
    ) throws(GroupError) -> (group: MLSGroup, commit: MLSMessage) {
        guard message.version == .mls10 else { throw GroupError.unsupportedVersion }
        guard case let .groupInfo(info) = message.body else { throw GroupError.unexpectedWireFormat }
        guard let suite = CipherSuite(id: info.groupContext.cipherSuite) else { throw GroupError.cipherSuiteMismatch }
        guard bundle.keyPackage.cipherSuite == suite.id else { throw GroupError.cipherSuiteMismatch }
        // The external commit creates epoch + 1 (§8.1): impossible at the counter's maximum.
        guard info.groupContext.epoch < UInt64.max else { throw GroupError.epochExhausted }
        do {
            var tree = try RatchetTree(suite: suite, nodes: try treeNodes(info, outOfBand: ratchetTree, limits: configuration.limits))
            try checkMembers(tree, limits: configuration.limits)
            guard let signer = tree.leaf(LeafIndex(info.signer)) else { throw GroupError.invalidGroupInfoSignature }
            try WelcomeCrypto.verifyGroupInfo(info, suite: suite, signerPublicKey: signer.signatureKey)
            let context = info.groupContext
            try tree.validate(groupContext: context, validator: LeafNodeValidator(suite: suite, groupContext: context, identity: configuration.identity,
                                                                                  currentTime: nil, limits: configuration.limits))
            guard let externalPub = try info.extensions.externalPub?.externalPub else { throw GroupError.missingExternalPub }
            let (kemOutput, initSecret) = try suite.hpke.sendExport(publicKey: externalPub, info: [], exporterContext: externalInitLabel, length: suite.kdfLength)

            // A provisional state in the GroupInfo's epoch, from which the commit is built.
            var group = MLSGroup(
                suite: suite, context: context, tree: tree,
                privateKey: TreeKEMPrivateKey(suite: suite, leafIndex: LeafIndex(0), leafPrivateKey: bundle.encryptionPrivateKey),
                signer: bundle.signer, epochSecrets: try KeyScheduleEpoch.initial(suite: suite),
                interimTranscriptHash: TranscriptHash.interim(suite: suite, confirmed: context.confirmedTranscriptHash, confirmationTag: info.confirmationTag),
                configuration: configuration)
            var proposals: [Proposal] = [.externalInit(kemOutput: kemOutput)]
            if let removing { proposals.append(.remove(removing)) }
            let built = try group.buildCommit(CommitPlan(
                sender: .newMemberCommit, proposals: proposals.map { ($0, Sender.newMemberCommit, false) },
                proposalRefs: proposals.map { .proposal($0) }, initSecret: initSecret, alwaysIncludePath: true, authenticatedData: [],
                joinerLeaf: bundle.keyPackage.leafNode))
            group = built.next
            // The provisional epoch was never ours: keep none of its keys or PSKs.
            group.pastEpochs = []
            group.resumptionPSKs = [group.epoch: built.secrets.resumptionPSK]
            return (group, built.message)
        } catch {
            throw GroupError.wrap(error)
        }
    }
}
