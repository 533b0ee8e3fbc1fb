@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLS

/// Inputs that are well-formed and correctly signed, but hostile: an attacker with no group
/// secret signs its own trees and contexts, seals Welcomes to published KeyPackages, and builds
/// external commits from public GroupInfos. Each case asserts the exact typed error and that the
/// receiving state is unchanged (issue 10; Docs/Security.md).
@Suite struct AdversarialTests {
    static let suite = CipherSuite(id: 1)!

    static func bundle(_ name: String) throws -> KeyPackageBundle {
        try MLSClient.basic(identity: Array(name.utf8), suite: suite).makeKeyPackage()
    }

    /// A "group" made up by an outsider: any tree and context it likes, a GroupInfo signed by a
    /// leaf it holds (leaf 0), with a confirmation tag from a key schedule it ran itself.
    struct HostileGroup {
        let attacker: KeyPackageBundle
        let victim: KeyPackageBundle
        let context: GroupContext
        let epochSecrets: KeyScheduleEpoch
        let joinerSecret = SecretBytes(randomCount: AdversarialTests.suite.kdfLength)
        let info: GroupInfo

        /// `nodes(attackerLeaf, victimLeaf)` gives the tree; its hash is computed honestly so
        /// that the victim's checks reach what lies behind the tree-hash comparison.
        init(epoch: UInt64 = 7, nodes: (LeafNode, LeafNode) -> [Node?]) throws {
            let suite = AdversarialTests.suite
            attacker = try AdversarialTests.bundle("mallory")
            victim = try AdversarialTests.bundle("citizen")
            let tree = RatchetTreeNodes(nodes: nodes(attacker.keyPackage.leafNode, victim.keyPackage.leafNode))
            var built = try RatchetTree(suite: suite, nodes: tree)
            let hash = built.treeHash()
            context = GroupContext(cipherSuite: suite.id, groupID: SystemRandom.bytes(16), epoch: epoch, treeHash: hash,
                                   confirmedTranscriptHash: SystemRandom.bytes(suite.kdfLength), extensions: [])
            epochSecrets = try KeyScheduleEpoch.derive(suite: suite, joinerSecret: joinerSecret, pskSecret: nil, groupContext: context.tlsSerialized)
            let extensions = [
                Extension(extensionType: .ratchetTree, extensionData: tree.tlsSerialized),
                Extension(extensionType: .externalPub, extensionData: ExternalPub(externalPub: try epochSecrets.externalKeyPair().publicKey).tlsSerialized),
            ]
            info = try WelcomeCrypto.signedGroupInfo(suite: suite, groupContext: context, extensions: extensions, epoch: epochSecrets,
                                                     signerLeaf: 0, signer: attacker.signer)
        }

        /// The Welcome sealed to the victim's published KeyPackage.
        var welcome: MLSMessage {
            get throws {
                let suite = AdversarialTests.suite
                let encrypted = try WelcomeCrypto.encryptGroupInfo(suite: suite, groupInfo: info, welcomeSecret: epochSecrets.welcomeSecret)
                let secrets = try WelcomeCrypto.encryptGroupSecrets(
                    suite: suite, recipients: [(victim.keyPackage, GroupSecrets(joinerSecret: joinerSecret.unsafeCopiedBytes(), pathSecret: nil, psks: []))],
                    encryptedGroupInfo: encrypted)
                return MLSMessage(body: .welcome(Welcome(cipherSuite: suite.id, secrets: secrets, encryptedGroupInfo: encrypted)))
            }
        }
    }

    static func error(_ body: () throws -> Void) -> GroupError? {
        do { try body(); return nil } catch let e as GroupError { return e } catch { return .internalError("not a GroupError: \(error)") }
    }

    // MARK: Remote crashes without membership

    /// An `unmerged_leaves` entry of 2^31 was doubled into a node index before its range check,
    /// trapping on overflow: from a Welcome and from an external join's GroupInfo.
    @Test func unmergedLeafBeyondAnyTree() throws {
        let g = try HostileGroup { mine, theirs in
            let key = AdversarialTests.suite.hpke.generateKeyPair().publicKey
            return [.leaf(mine), .parent(ParentNode(encryptionKey: key, parentHash: [], unmergedLeaves: [1 << 31])), .leaf(theirs)]
        }
        let expected = GroupError.tree(.invalidUnmergedLeaves(node: 1))
        #expect(Self.error { _ = try MLSGroup.join(welcome: try g.welcome, keyPackage: g.victim) } == expected)
        let joiner = try Self.bundle("joiner")
        #expect(Self.error { _ = try MLSGroup.externalJoin(groupInfo: MLSMessage(body: .groupInfo(g.info)), keyPackage: joiner) } == expected)
        // The largest value too.
        #expect(LeafIndex(UInt32.max).nodeIndex == .outside)
        #expect(LeafIndex((1 << 31) - 1).nodeIndex == NodeIndex(UInt32.max - 1))
    }

    /// A GroupContext at epoch 2^64 − 1 has no next epoch: refused on join and external join
    /// instead of trapping on the next `epoch + 1`.
    @Test func epochAtTheCounterMaximum() throws {
        let g = try HostileGroup(epoch: .max) { mine, theirs in [.leaf(mine), nil, .leaf(theirs)] }
        #expect(Self.error { _ = try MLSGroup.join(welcome: try g.welcome, keyPackage: g.victim) } == .epochExhausted)
        let joiner = try Self.bundle("joiner")
        #expect(Self.error { _ = try MLSGroup.externalJoin(groupInfo: MLSMessage(body: .groupInfo(g.info)), keyPackage: joiner) } == .epochExhausted)
        // Control: one below the maximum is a valid group to join.
        let h = try HostileGroup(epoch: .max - 1) { mine, theirs in [.leaf(mine), nil, .leaf(theirs)] }
        let joined = try MLSGroup.join(welcome: try h.welcome, keyPackage: h.victim)
        #expect(joined.epoch == UInt64.max - 1)
    }

    // MARK: Forged removal (§12.4.2, §12.4.3.2)

    /// A three-member group and an outsider holding its public GroupInfo.
    struct Trio {
        var groups: [MLSGroup]
        let bundles: [KeyPackageBundle]

        init() throws {
            bundles = try ["authority", "citizen", "clerk"].map(AdversarialTests.bundle)
            var creator = try MLSGroup.create(suite: AdversarialTests.suite, groupID: SystemRandom.bytes(16), creator: bundles[0])
            let out = try creator.commit(CommitOptions(proposals: bundles.dropFirst().map { .add($0.keyPackage) }))
            try creator.merge(out.pending)
            groups = [creator] + (try bundles.dropFirst().map { try MLSGroup.join(welcome: try #require(out.welcome), keyPackage: $0) })
        }
    }

    /// An external commit that removes a member must come from that member: an outsider with
    /// another identity is refused by everyone, the removed member included.
    @Test func externalCommitRemovingSomeoneElse() throws {
        var t = try Trio()
        let info = try t.groups[0].groupInfo()
        let outsider = try Self.bundle("mallory")
        let (_, commit) = try MLSGroup.externalJoin(groupInfo: info, keyPackage: outsider, removing: LeafIndex(1))
        for i in 0..<3 {
            let before = GroupTestKit.Snapshot(t.groups[i])
            #expect(Self.error { _ = try t.groups[i].process(commit) } == .leafNode(.invalidSuccessorCredential))
            #expect(GroupTestKit.Snapshot(t.groups[i]) == before)
            #expect(t.groups[i].isActive)
        }
        // Control: the removed member's own identity coming back (resynchronisation) is accepted.
        let back = try KeyPackageBundle.generate(suite: Self.suite, credential: .basic(identity: Array("citizen".utf8)),
                                                 signer: t.bundles[1].signer)
        let (rejoined, resync) = try MLSGroup.externalJoin(groupInfo: info, keyPackage: back, removing: LeafIndex(1))
        #expect(try t.groups[0].process(resync).content.commit?.removedSelf == false)
        #expect(try t.groups[1].process(resync).content.commit?.removedSelf == true)
        #expect(t.groups[0].epochAuthenticator == rejoined.epochAuthenticator)
    }

    /// Found by FuzzExternalJoin: joining externally with a signature key that is already a
    /// member's (without removing that leaf) is refused, not turned into a state no one accepts.
    @Test func externalJoinWithAMembersSignatureKey() throws {
        let t = try Trio()
        let info = try t.groups[0].groupInfo()
        let twin = try KeyPackageBundle.generate(suite: Self.suite, credential: .basic(identity: Array("citizen".utf8)),
                                                 signer: t.bundles[1].signer)
        #expect(Self.error { _ = try MLSGroup.externalJoin(groupInfo: info, keyPackage: twin) } == .leafNode(.duplicateSignatureKey))
        // Removing that leaf in the same commit (resynchronisation) is the valid form.
        _ = try MLSGroup.externalJoin(groupInfo: info, keyPackage: twin, removing: LeafIndex(1))
    }

    /// Before a commit that removes this member is honoured, its UpdatePath is checked like any
    /// other commit's: a broken path cannot make one member alone believe it was removed.
    @Test func removalWithABrokenPathIsRefusedByTheRemovedMember() throws {
        var t = try Trio()
        let info = try t.groups[0].groupInfo()
        // Same identity, so the successor rule holds; the path is what is wrong.
        let key = Self.suite.signature.generateKeyPair()
        let bundle = try KeyPackageBundle.generate(suite: Self.suite, credential: .basic(identity: Array("citizen".utf8)),
                                                   signer: try InMemorySigner(scheme: Self.suite.signature, privateKey: key.privateKey))
        let (_, commit) = try MLSGroup.externalJoin(groupInfo: info, keyPackage: bundle, removing: LeafIndex(1))
        guard case var .publicMessage(pm) = commit.body, case var .commit(c) = pm.content.content, var path = c.path else {
            Issue.record("expected an external commit with a path"); return
        }
        path.nodes[0].encryptedPathSecret.removeLast()
        c.path = path
        pm.content.content = .commit(c)
        let forged = MLSMessage(body: .publicMessage(try MessageProtection.protectPublic(
            suite: Self.suite, content: pm.content, context: t.groups[0].context, signer: try InMemorySigner(scheme: Self.suite.signature, privateKey: key.privateKey),
            confirmationTag: pm.auth.confirmationTag, membershipKey: nil)))
        for i in 0..<3 {
            let before = GroupTestKit.Snapshot(t.groups[i])
            #expect(Self.error { _ = try t.groups[i].process(forged) } == .tree(.ciphertextCountMismatch(node: 1)), "member \(i)")
            #expect(GroupTestKit.Snapshot(t.groups[i]) == before)
            #expect(t.groups[i].isActive)
        }
    }
}

/// The configurable limits (``MLSLimits``): each is refused with its typed error, before the
/// input is processed, and leaves the group unchanged.
@Suite struct LimitTests {
    static func limited(_ edit: (inout MLSLimits) -> Void) -> GroupConfiguration {
        var c = GroupConfiguration()
        edit(&c.limits)
        return c
    }

    @Test func messageSize() throws {
        let g = try AdversarialTests.HostileGroup { mine, theirs in [.leaf(mine), nil, .leaf(theirs)] }
        let bytes = try g.welcome.tlsSerialized
        var limits = MLSLimits()
        limits.maxMessageBytes = bytes.count - 1
        #expect(throws: GroupError.limitExceeded(.messageBytes)) { try MLSMessage(serialized: bytes, limits: limits) }
        limits.maxMessageBytes = bytes.count
        #expect(try MLSMessage(serialized: bytes, limits: limits).serialized == bytes)
    }

    @Test func treeWidthAndMembersOnJoin() throws {
        let g = try AdversarialTests.HostileGroup { mine, theirs in [.leaf(mine), nil, .leaf(theirs)] }
        #expect(AdversarialTests.error {
            _ = try MLSGroup.join(welcome: try g.welcome, keyPackage: g.victim, configuration: Self.limited { $0.maxLeaves = 1 })
        } == .limitExceeded(.leaves))
        #expect(AdversarialTests.error {
            _ = try MLSGroup.join(welcome: try g.welcome, keyPackage: g.victim, configuration: Self.limited { $0.maxMembers = 1 })
        } == .limitExceeded(.members))
        let joiner = try AdversarialTests.bundle("joiner")
        #expect(AdversarialTests.error {
            _ = try MLSGroup.externalJoin(groupInfo: MLSMessage(body: .groupInfo(g.info)), keyPackage: joiner,
                                          configuration: Self.limited { $0.maxLeaves = 1 })
        } == .limitExceeded(.leaves))
    }

    @Test func membersAndProposalsPerCommit() throws {
        var t = try AdversarialTests.Trio()
        let newcomers = try ["a", "b"].map(AdversarialTests.bundle)
        let out = try t.groups[0].commit(CommitOptions(proposals: newcomers.map { .add($0.keyPackage) }))
        for (edit, expected) in [({ (l: inout MLSLimits) in l.maxMembers = 4 }, GroupError.limitExceeded(.members)),
                                 ({ (l: inout MLSLimits) in l.maxProposalsPerCommit = 1 }, GroupError.limitExceeded(.proposalsPerCommit))] {
            var receiver = t.groups[1]
            edit(&receiver.configuration.limits)
            let before = GroupTestKit.Snapshot(receiver)
            #expect(AdversarialTests.error { _ = try receiver.process(out.commit) } == expected)
            #expect(GroupTestKit.Snapshot(receiver) == before)
        }
        // A member's own commit may not grow the group past its limit either.
        t.groups[2].configuration.limits.maxMembers = 3
        #expect(AdversarialTests.error { _ = try t.groups[2].commit(CommitOptions(proposals: [.add(newcomers[0].keyPackage)])) }
                == .limitExceeded(.members))
    }

    @Test func preSharedKeysPerCommit() throws {
        var t = try AdversarialTests.Trio()
        t.groups[0].configuration.limits.maxPSKs = 1
        let psks = (0..<2).map { i in Proposal.preSharedKey(PreSharedKeyID(psk: .external(pskID: [UInt8(i)]),
                                                                                               pskNonce: SystemRandom.bytes(32))) }
        let before = GroupTestKit.Snapshot(t.groups[0])
        #expect(AdversarialTests.error { _ = try t.groups[0].commit(CommitOptions(proposals: psks)) } == .limitExceeded(.psks))
        #expect(GroupTestKit.Snapshot(t.groups[0]) == before)
    }

    @Test func capabilityAndExtensionListsOfALeaf() throws {
        let suite = AdversarialTests.suite
        let key = suite.signature.generateKeyPair()
        let many = (0..<300).map { ExtensionType(rawValue: UInt16(0x1000 + $0)) }
        var caps = KeyPackageBundle.defaultCapabilities(suite: suite, credential: .basic(identity: Array("x".utf8)))
        caps.extensions = many
        let bundle = try KeyPackageBundle.generate(suite: suite, credential: .basic(identity: Array("x".utf8)), signer: try InMemorySigner(scheme: suite.signature, privateKey: key.privateKey), capabilities: caps)
        let context = GroupContext(cipherSuite: suite.id, groupID: [1], epoch: 0, treeHash: [], confirmedTranscriptHash: [], extensions: [])
        let validator = LeafNodeValidator(suite: suite, groupContext: context)
        #expect(validator.checkContent(bundle.keyPackage.leafNode, expectedSource: nil) == .limitExceeded(.capabilityEntries))
        var relaxed = MLSLimits()
        relaxed.maxCapabilityEntries = 300
        #expect(LeafNodeValidator(suite: suite, groupContext: context, limits: relaxed).checkContent(bundle.keyPackage.leafNode, expectedSource: nil) == nil)
    }
}

/// A stored record is input too: widths beyond the configured limit and unmerged lists that
/// point outside the tree are refused on restore, before anything of that size is allocated.
@Suite struct TamperedRecordTests {
    @Test func treeWidthBeyondTheLimit() throws {
        let t = try AdversarialTests.Trio()
        let snapshot = t.groups[0].snapshot()
        var nodes: [UInt32: Node] = [:]
        for (i, n) in snapshot.tree.nodes { if let n { nodes[i] = n } }
        _ = try MLSGroup(restoringRecord: snapshot.record, nodes: nodes, configuration: GroupConfiguration())
        var config = GroupConfiguration()
        config.limits.maxLeaves = 2
        #expect(throws: GroupStateError.self) { _ = try MLSGroup(restoringRecord: snapshot.record, nodes: nodes, configuration: config) }
    }
}
