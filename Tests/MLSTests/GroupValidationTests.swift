@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLS

/// One negative test per validation rule the group layer enforces (RFC 9420 §6, §7.3, §10.1,
/// §12.1, §12.2, §12.4). Each hostile message is well formed in every other respect — signed,
/// MACed or encrypted, and for commits carrying a correct UpdatePath and confirmation tag over
/// the forged content, computed as `MLSGroup.commit` does — so that exactly one rule is broken.
/// Every test asserts the exact ``GroupError``, that each receiver is unchanged (context, epoch
/// authenticator, membership, cached proposals), and that a valid commit still goes through.
@Suite struct GroupValidationTests {
    static let names = ["alice", "bob", "carol", "dave", "erin", "frank"]
    static let pskID = Array("shared-psk".utf8)
    static let pskValue = SecretBytes([UInt8](repeating: 0x42, count: 32))
    static let customExtension = ExtensionType(0xFF00)

    // MARK: Fixture

    struct Fixture {
        let suite = CipherSuite(id: 1)!
        var clients: [GroupTestKit.Client]
        var groups: [MLSGroup]

        /// `count` members at leaves 0..<count, all joined by one commit of member 0.
        init(_ count: Int = 4, framing: WireFormat = .publicMessage, extensions: [Extension] = [],
             capabilities: (Int) -> Capabilities? = { _ in nil }, configure: (Int, inout GroupConfiguration) -> Void = { _, _ in }) throws {
            let clients = GroupValidationTests.names.prefix(count).map { GroupTestKit.Client($0) }
            self.clients = clients
            let configs = (0..<count).map { i -> GroupConfiguration in
                var c = GroupConfiguration()
                c.encryptsHandshakes = framing == .privateMessage
                c.psks = InMemoryPSKStore(external: [GroupValidationTests.pskID: GroupValidationTests.pskValue])
                configure(i, &c)
                return c
            }
            let bundles = try clients.enumerated().map { i, c in try c.bundle(capabilities: capabilities(i)) }
            var creator = try MLSGroup.create(suite: suite, groupID: Array("validation".utf8), creator: bundles[0], extensions: extensions,
                                              configuration: configs[0])
            var groups = [creator]
            if count > 1 {
                let out = try creator.commit(CommitOptions(proposals: bundles.dropFirst().map { .add($0.keyPackage) }))
                try creator.merge(out.pending)
                let welcome = try #require(out.welcome)
                let tree = configs[0].ratchetTreeInWelcome ? nil : creator.tree.exported
                groups = [creator] + (try (1..<count).map { try MLSGroup.join(welcome: welcome, keyPackage: bundles[$0], ratchetTree: tree, configuration: configs[$0]) })
            }
            self.groups = groups
        }

        /// Delivers a valid message from member `s` (nil: an outsider) to everyone else.
        mutating func broadcast(_ message: MLSMessage, from s: Int?) throws {
            for i in groups.indices where i != s { _ = try groups[i].process(message) }
        }

        /// Every member but `s` refuses `message` with exactly `expected` and is left unchanged.
        mutating func expectRejected(_ message: MLSMessage, from s: Int?, _ expected: GroupError, sourceLocation: SourceLocation = #_sourceLocation) {
            for i in groups.indices where i != s {
                let before = GroupTestKit.Snapshot(groups[i])
                let error = GroupTestKit.error { try groups[i].process(message) }
                #expect(error == expected, "\(GroupValidationTests.names[i])", sourceLocation: sourceLocation)
                #expect(GroupTestKit.Snapshot(groups[i]) == before, "\(GroupValidationTests.names[i]) is unchanged", sourceLocation: sourceLocation)
            }
        }

        /// Every member but `s` refuses `message` with some error and is left unchanged (for
        /// rules the library does not name yet).
        mutating func expectRejectedSomehow(_ message: MLSMessage, from s: Int?, sourceLocation: SourceLocation = #_sourceLocation) {
            for i in groups.indices where i != s {
                let before = GroupTestKit.Snapshot(groups[i])
                #expect(GroupTestKit.error { try groups[i].process(message) } != nil, "\(GroupValidationTests.names[i])", sourceLocation: sourceLocation)
                #expect(GroupTestKit.Snapshot(groups[i]) == before, sourceLocation: sourceLocation)
            }
        }

        /// A valid commit of member `c` is processed by every member, after which all agree
        /// and application data flows.
        mutating func expectStillWorks(committer c: Int = 0, _ options: CommitOptions = CommitOptions(), sourceLocation: SourceLocation = #_sourceLocation) throws {
            let out = try groups[c].commit(options)
            for i in groups.indices where i != c {
                #expect(try groups[i].process(out.commit).content.commit?.removedSelf == false, sourceLocation: sourceLocation)
            }
            _ = try groups[c].process(out.commit, pending: out.pending)
            expectAgreement(sourceLocation: sourceLocation)
            let m = try groups[c].encrypt([42])
            for i in groups.indices where i != c {
                #expect(try groups[i].process(m).content == .application([42]), sourceLocation: sourceLocation)
            }
        }

        func expectAgreement(sourceLocation: SourceLocation = #_sourceLocation) {
            for g in groups {
                #expect(g.context == groups[0].context, sourceLocation: sourceLocation)
                #expect(g.epochAuthenticator == groups[0].epochAuthenticator, sourceLocation: sourceLocation)
            }
        }

        // MARK: Forging

        /// Signs `content` with `signingKey` and frames it with member `s`'s epoch keys: a
        /// PublicMessage with membership tag (for member senders), or a PrivateMessage under the
        /// next key of the sender's handshake ratchet.
        func frame(_ content: FramedContent, signer: any MLSSigner, by s: Int, wireFormat: WireFormat? = nil) throws -> MLSMessage {
            let g = groups[s]
            let wf = wireFormat ?? g.handshakeWireFormat
            let signature = try MessageProtection.sign(suite: suite, content: content, wireFormat: wf, context: g.context, signer: signer)
            let auth = FramedContentAuthData(signature: signature, confirmationTag: nil)
            if wf == .privateMessage {
                var tree = g.secretTree
                return MLSMessage(body: .privateMessage(try MessageProtection.framePrivate(
                    suite: suite, content: content, auth: auth, secretTree: &tree, senderDataSecret: g.epochSecrets.senderDataSecret)))
            }
            return MLSMessage(body: .publicMessage(try MessageProtection.framePublic(
                suite: suite, content: content, auth: auth, context: g.context, membershipKey: g.epochSecrets.membershipKey)))
        }

        /// A proposal as member `s` would send it, with optional deviations.
        func forgeProposal(from s: Int, _ proposal: Proposal, sender: Sender? = nil, signer: (any MLSSigner)? = nil, wireFormat: WireFormat? = nil,
                           epoch: UInt64? = nil, groupID: [UInt8]? = nil) throws -> MLSMessage {
            let g = groups[s]
            let content = FramedContent(groupID: groupID ?? g.groupID, epoch: epoch ?? g.epoch, sender: sender ?? .member(g.myLeaf),
                                        authenticatedData: [], content: .proposal(proposal))
            return try frame(content, signer: signer ?? g.signer, by: s, wireFormat: wireFormat)
        }

        /// A commit by member `s` over `items`, built as `MLSGroup.commit` builds one but with the
        /// proposals applied without validation (§12.3 order): the UpdatePath (if `path`) is
        /// computed over the resulting tree and provisional context, and the confirmation tag
        /// over the resulting epoch, so a receiver can only object to the broken rule.
        func forgeCommit(from s: Int, _ items: [ProposalOrRef], path: Bool = true, tamperTag: Bool = false,
                         editPath: ((inout UpdatePath) throws -> Void)? = nil) throws -> MLSMessage {
            let g = groups[s]
            let me = g.myLeaf
            var list: [(Proposal, Sender)] = []
            for item in items {
                switch item {
                case let .proposal(p): list.append((p, .member(me)))
                case let .reference(ref): if let c = g.proposalCache.first(where: { $0.ref == ref }) { list.append((c.proposal, c.sender)) }
                }
            }
            var next = g
            var newLeaves = Set<LeafIndex>()
            var psks: [PreSharedKeyID] = []
            for case let (.groupContextExtensions(x), _) in list { next.context.extensions = x }
            for case let (.update(u), .member(leaf)) in list where leaf != me { try? next.tree.update(leaf, with: u.leafNode) }
            for case let (.remove(r), _) in list where r != me { try? next.tree.remove(r) }
            for case let (.add(a), _) in list { newLeaves.insert(next.tree.add(a.leafNode)) }
            for case let (.preSharedKey(p), _) in list { psks.append(p) }

            var updatePath: UpdatePath?
            var commitSecret: SecretBytes?
            if path {
                var provisional = next.context
                provisional.epoch = g.epoch + 1
                let (creation, _) = try next.tree.createUpdatePath(from: me, signer: g.signer, groupContext: provisional, excluding: newLeaves)
                updatePath = creation.updatePath
                commitSecret = creation.commitSecret
                if let editPath, var p = updatePath {
                    try editPath(&p)
                    updatePath = p
                }
            }
            let content = FramedContent(groupID: g.groupID, epoch: g.epoch, sender: .member(me), authenticatedData: [],
                                        content: .commit(Commit(proposals: items, path: updatePath)))
            let wf = g.handshakeWireFormat
            let signature = try MessageProtection.sign(suite: suite, content: content, wireFormat: wf, context: g.context, signer: g.signer)
            var auth = FramedContentAuthData(signature: signature, confirmationTag: nil)
            let ac = AuthenticatedContent(wireFormat: wf, content: content, auth: auth)
            var withPSKs = next
            let derived: (KeyScheduleEpoch, [UInt8])
            if let d = try? withPSKs.deriveNextEpoch(commit: ac, initSecret: g.epochSecrets.initSecret, commitSecret: commitSecret, psks: psks) {
                derived = d
            } else {
                // A PSK the committer lacks: the tag cannot be right, and need not be.
                derived = try next.deriveNextEpoch(commit: ac, initSecret: g.epochSecrets.initSecret, commitSecret: commitSecret, psks: [])
            }
            var tag = TranscriptHash.confirmationTag(suite: suite, confirmationKey: derived.0.confirmationKey, confirmed: derived.1)
            if tamperTag { tag[0] ^= 1 }
            auth.confirmationTag = tag
            var framer = g
            return try framer.frame(content, auth: auth)
        }

        /// A PublicMessage with its content edited, re-signed with `signingKey` and re-MACed with
        /// member `s`'s membership key (the MAC is added only for member senders).
        func resigned(_ message: MLSMessage, by s: Int, signer: any MLSSigner, edit: (inout FramedContent) -> Void) throws -> MLSMessage {
            guard case var .publicMessage(pm) = message.body else { throw GroupError.unexpectedWireFormat }
            edit(&pm.content)
            let g = groups[s]
            pm.auth.signature = try MessageProtection.sign(suite: suite, content: pm.content, wireFormat: .publicMessage, context: g.context, signer: signer)
            return MLSMessage(body: .publicMessage(try MessageProtection.framePublic(
                suite: suite, content: pm.content, auth: pm.auth, context: g.context, membershipKey: g.epochSecrets.membershipKey)))
        }

        /// A fresh Update leaf for member `s`, signed for its leaf.
        func updateLeaf(for s: Int, edit: (inout LeafNode) -> Void = { _ in }) throws -> LeafNode {
            let g = groups[s]
            var leaf = try #require(g.myLeafNode)
            leaf.encryptionKey = suite.hpke.generateKeyPair().publicKey
            leaf.leafNodeSource = .update
            edit(&leaf)
            try leaf.sign(suite: suite, signer: g.signer, groupID: g.groupID, leafIndex: g.myLeaf.rawValue)
            return leaf
        }

        /// A valid KeyPackage of a new client.
        func freshKeyPackage(_ name: String = "zed") throws -> KeyPackage {
            try GroupTestKit.Client(name).bundle().keyPackage
        }
    }

    static func psk(_ id: PreSharedKeyID.PSK, nonce: [UInt8] = [UInt8](repeating: 9, count: 32)) -> Proposal {
        .preSharedKey(PreSharedKeyID(psk: id, pskNonce: nonce))
    }

    static func capabilities(extensions: [ExtensionType]) -> Capabilities {
        Capabilities(versions: [.mls10], cipherSuites: [1], extensions: extensions, proposals: [], credentials: [.basic])
    }

    static func requiredCapabilities(_ types: [ExtensionType]) -> Extension {
        Extension(extensionType: .requiredCapabilities,
                  extensionData: RequiredCapabilities(extensionTypes: types, proposalTypes: [], credentialTypes: []).tlsSerialized)
    }

    // MARK: Controls: the forging machinery produces acceptable messages

    enum ValidCommit: CaseIterable, Sendable { case empty, remove, add, pathlessAdd, psk, update }

    /// Commits forged with the helpers are accepted when they break no rule, so every negative
    /// test below fails for its one defect only.
    @Test(arguments: ValidCommit.allCases, [WireFormat.publicMessage, .privateMessage])
    func forgedValidCommitIsAccepted(_ kind: ValidCommit, _ framing: WireFormat) throws {
        var f = try Fixture(framing: framing)
        var items: [ProposalOrRef] = []
        var path = true
        switch kind {
        case .empty: break
        case .remove: items = [.proposal(.remove(LeafIndex(3)))]
        case .add: items = [.proposal(.add(try f.freshKeyPackage()))]
        case .pathlessAdd:
            items = [.proposal(.add(try f.freshKeyPackage()))]
            path = false
        case .psk: items = [.proposal(Self.psk(.external(pskID: Self.pskID)))]
        case .update:
            let m = try f.groups[1].proposeUpdate()
            try f.broadcast(m, from: 1)
            items = [.reference(try #require(f.groups[0].proposalCache.last).ref)]
        }
        let commit = try f.forgeCommit(from: 0, items, path: path)
        for i in 1..<4 {
            #expect(try f.groups[i].process(commit).content.commit?.removedSelf == (kind == .remove && i == 3))
        }
    }

    // MARK: §6 Framing

    @Test(arguments: [WireFormat.publicMessage, .privateMessage])
    func messageForAnotherGroup(_ framing: WireFormat) throws {
        var f = try Fixture(framing: framing)
        let m = try f.forgeProposal(from: 0, .remove(LeafIndex(3)), groupID: Array("another group".utf8))
        f.expectRejected(m, from: 0, .wrongGroup)
        try f.expectStillWorks()
    }

    @Test(arguments: [WireFormat.publicMessage, .privateMessage])
    func messageForAFutureEpoch(_ framing: WireFormat) throws {
        var f = try Fixture(framing: framing)
        let epoch = f.groups[0].epoch
        let m = try f.forgeProposal(from: 0, .remove(LeafIndex(3)), epoch: epoch + 1)
        f.expectRejected(m, from: 0, .wrongEpoch(epoch + 1))
        try f.expectStillWorks()
    }

    /// A commit replayed after its epoch ended, and a handshake message of a retained past
    /// epoch (only application data may be late, §9.2).
    @Test(arguments: [WireFormat.publicMessage, .privateMessage])
    func handshakeOfAPastEpoch(_ framing: WireFormat) throws {
        var f = try Fixture(framing: framing)
        let epoch = f.groups[0].epoch
        let proposal = try f.forgeProposal(from: 1, .remove(LeafIndex(3)))
        let out = try f.groups[0].commit()
        try f.broadcast(out.commit, from: 0)
        try f.groups[0].merge(out.pending)
        f.expectRejected(out.commit, from: 0, .wrongEpoch(epoch))
        f.expectRejected(proposal, from: 1, .wrongEpoch(epoch))
        try f.expectStillWorks(committer: 2)
    }

    @Test func badMembershipTag() throws {
        var f = try Fixture()
        let m = try f.forgeProposal(from: 0, .remove(LeafIndex(3)))
        guard case var .publicMessage(pm) = m.body, var tag = pm.membershipTag else { Issue.record("no membership tag"); return }
        tag[tag.count - 1] ^= 0x80
        pm.membershipTag = tag
        f.expectRejected(MLSMessage(body: .publicMessage(pm)), from: 0, .framing(.invalidMembershipTag))
        try f.expectStillWorks()
    }

    /// §6: the only protocol version is mls10; the version field is outside the signature.
    @Test func unsupportedProtocolVersion() throws {
        var f = try Fixture()
        var m = try f.forgeProposal(from: 0, .remove(LeafIndex(3)))
        m.version = ProtocolVersion(2)
        f.expectRejected(m, from: 0, .unsupportedVersion)
        try f.expectStillWorks()
    }

    /// Welcome, GroupInfo and KeyPackage messages are not for `process`.
    @Test func wireFormatThatIsNotAGroupMessage() throws {
        var f = try Fixture(3)
        let kp = try f.freshKeyPackage()
        f.expectRejected(MLSMessage(body: .keyPackage(kp)), from: nil, .unexpectedWireFormat)
        f.expectRejected(try f.groups[0].groupInfo(), from: nil, .unexpectedWireFormat)
        let bundle = try GroupTestKit.Client("zed").bundle()
        var adder = f.groups[0]
        let welcome = try #require(try adder.commit(CommitOptions(proposals: [.add(bundle.keyPackage)])).welcome)
        f.expectRejected(welcome, from: nil, .unexpectedWireFormat)
        try f.expectStillWorks()
    }

    /// Signed with another member's key (then MACed or encrypted correctly).
    @Test(arguments: [WireFormat.publicMessage, .privateMessage])
    func badSignature(_ framing: WireFormat) throws {
        var f = try Fixture(framing: framing)
        let m = try f.forgeProposal(from: 0, .remove(LeafIndex(3)), signer: f.groups[2].signer)
        f.expectRejected(m, from: 0, .framing(.invalidSignature))
        // The receivers' handshake ratchets did not advance: member 0's next real message,
        // under the very key the forgery used, is accepted.
        try f.expectStillWorks()
    }

    @Test func commitWithBadSignature() throws {
        var f = try Fixture()
        let out = try f.groups[0].commit()
        let m = try f.resigned(out.commit, by: 0, signer: f.groups[1].signer) { _ in }
        f.expectRejected(m, from: 0, .framing(.invalidSignature))
        try f.expectStillWorks()
    }

    @Test func senderIsNotAMember() throws {
        var f = try Fixture()
        let m = try f.forgeProposal(from: 0, .remove(LeafIndex(3)), sender: .member(LeafIndex(9)))
        f.expectRejected(m, from: nil, .framing(.notAMember(LeafIndex(9))))
        try f.expectStillWorks()
    }

    /// Application data must be a PrivateMessage (§6.2), even with a valid signature and tag.
    @Test func applicationDataAsPublicMessage() throws {
        var f = try Fixture()
        let g = f.groups[1]
        let content = FramedContent(groupID: g.groupID, epoch: g.epoch, sender: .member(g.myLeaf), authenticatedData: [], content: .application([1, 2, 3]))
        let signature = try MessageProtection.sign(suite: f.suite, content: content, wireFormat: .publicMessage, context: g.context, signer: g.signer)
        let auth = FramedContentAuthData(signature: signature, confirmationTag: nil)
        let tag = f.suite.mac(key: g.epochSecrets.membershipKey, data: MessageProtection.tbm(content, auth: auth, context: g.context))
        let m = MLSMessage(body: .publicMessage(PublicMessage(content: content, auth: auth, membershipTag: tag)))
        f.expectRejected(m, from: 1, .framing(.applicationDataInPublicMessage))
        try f.expectStillWorks()
    }

    @Test func tamperedPrivateMessageCiphertext() throws {
        var f = try Fixture()
        let m = try f.groups[1].encrypt(Array("hello".utf8))
        guard case var .privateMessage(pm) = m.body else { Issue.record("not a PrivateMessage"); return }
        pm.ciphertext[pm.ciphertext.count - 1] ^= 1  // past the sample that keys the sender data
        f.expectRejected(MLSMessage(body: .privateMessage(pm)), from: 1, .framing(.contentUndecryptable))
        // The genuine message still decrypts: the failed attempt consumed no key.
        #expect(try f.groups[2].process(m).content == .application(Array("hello".utf8)))
        try f.expectStillWorks()
    }

    @Test func replayedApplicationMessage() throws {
        var f = try Fixture()
        let m = try f.groups[1].encrypt(Array("once".utf8))
        try f.broadcast(m, from: 1)
        f.expectRejected(m, from: 1, .framing(.generationConsumed(0)))
        try f.expectStillWorks()
    }

    /// A replay of a message that reached the committer while its commit was pending must still
    /// be refused after the commit is merged (§9.2: a key is deleted once used).
    @Test
    func replayAcrossOwnCommitMerge() throws {
        var f = try Fixture(3)
        let m = try f.groups[1].encrypt(Array("once".utf8))
        let out = try f.groups[0].commit()
        #expect(try f.groups[0].process(m).content == .application(Array("once".utf8)))
        _ = try f.groups[0].process(out.commit, pending: out.pending)
        #expect(GroupTestKit.error { try f.groups[0].process(m) } == .framing(.generationConsumed(0)))
    }

    /// A member refuses a commit in its own name when it is not given that commit as pending.
    @Test func ownCommitThatIsNotPending() throws {
        var f = try Fixture(3)
        let out = try f.groups[0].commit()
        let before = GroupTestKit.Snapshot(f.groups[0])
        #expect(GroupTestKit.error { try f.groups[0].process(out.commit) } == .framing(.ownCommitNotPending))
        #expect(GroupTestKit.Snapshot(f.groups[0]) == before)
    }

    // MARK: §12.1 Individual proposals

    @Test func pskNonceOfWrongLength() throws {
        var f = try Fixture()
        let m = try f.forgeProposal(from: 0, Self.psk(.external(pskID: Self.pskID), nonce: [UInt8](repeating: 1, count: 16)))
        f.expectRejected(m, from: 0, .invalidProposal(.pskNonceLength))
        #expect(GroupTestKit.error { try f.groups[0].propose(Self.psk(.external(pskID: Self.pskID), nonce: [1])) }
            == .invalidProposal(.pskNonceLength))
        try f.expectStillWorks()
    }

    @Test(arguments: [ResumptionPSKUsage.reinit, .branch])
    func resumptionPSKWithReinitOrBranchUsage(_ usage: ResumptionPSKUsage) throws {
        var f = try Fixture()
        let id = PreSharedKeyID.PSK.resumption(usage: usage, pskGroupID: f.groups[0].groupID, pskEpoch: f.groups[0].epoch)
        let m = try f.forgeProposal(from: 0, Self.psk(id))
        f.expectRejected(m, from: 0, .invalidProposal(.resumptionPSKUsage))
        // In a commit by value, too.
        let c = try f.forgeCommit(from: 0, [.proposal(Self.psk(id))])
        f.expectRejected(c, from: 0, .invalidProposal(.resumptionPSKUsage))
        try f.expectStillWorks()
    }

    @Test func removeOfABlankLeaf() throws {
        var f = try Fixture()
        let m = try f.forgeProposal(from: 0, .remove(LeafIndex(9)))
        f.expectRejected(m, from: 0, .invalidProposal(.removeOfBlankLeaf(9)))
        try f.expectStillWorks()
    }

    @Test func reinitToAnOlderVersion() throws {
        var f = try Fixture()
        let m = try f.forgeProposal(from: 0, .reInit(ReInit(groupID: [1], version: ProtocolVersion(0), cipherSuite: 1, extensions: [])))
        f.expectRejected(m, from: 0, .invalidProposal(.reinitToOlderVersion))
        try f.expectStillWorks()
    }

    /// The application's proposal policy (§12.2: "An application may extend the above procedure by additional rules").
    struct NoRemoves: GroupRules {
        static let noRemoves = RuleViolation.Code(rawValue: "noRemoves")
        func check(proposal: Proposal, from proposer: MessageAuthor, in group: MLSGroup) throws(RuleViolation) {
            if case .remove = proposal { throw RuleViolation(Self.noRemoves) }
        }
    }

    @Test func proposalRejectedByPolicy() throws {
        var f = try Fixture(configure: { i, c in if i != 0 { c.rules = NoRemoves() } })
        let proposal = try f.forgeProposal(from: 0, .remove(LeafIndex(3)))
        f.expectRejected(proposal, from: 0, .rejectedByRules(RuleViolation(NoRemoves.noRemoves)))
        let out = try f.groups[0].commit(CommitOptions(proposals: [.remove(LeafIndex(3))]))
        f.expectRejected(out.commit, from: 0, .rejectedByRules(RuleViolation(NoRemoves.noRemoves)))
        try f.expectStillWorks()
    }

    /// §11.1, §12.1.7: a GroupContextExtensions whose `required_capabilities` some member lacks.
    @Test func requiredCapabilitiesThatAMemberLacks() throws {
        var f = try Fixture(capabilities: { i in i < 3 ? Self.capabilities(extensions: [Self.customExtension]) : nil })
        let gce = Proposal.groupContextExtensions([Self.requiredCapabilities([Self.customExtension])])
        let m = try f.forgeProposal(from: 0, gce)
        f.expectRejected(m, from: 0, .invalidProposal(.memberLacksRequiredCapabilities))
        let c = try f.forgeCommit(from: 0, [.proposal(gce)])
        f.expectRejected(c, from: 0, .invalidProposal(.memberLacksRequiredCapabilities))
        try f.expectStillWorks()
    }

    /// §7.3, §11.1: an Add whose leaf lacks a capability the group requires.
    @Test func addOfAClientLackingARequiredCapability() throws {
        var f = try Fixture(3, extensions: [Self.requiredCapabilities([Self.customExtension])],
                            capabilities: { _ in Self.capabilities(extensions: [Self.customExtension]) })
        let kp = try f.freshKeyPackage()
        let expected = GroupError.keyPackage(.invalidLeafNode(.missingRequiredCapability("extension \(Self.customExtension)")))
        f.expectRejected(try f.forgeProposal(from: 0, .add(kp)), from: 0, expected)
        f.expectRejected(try f.forgeCommit(from: 0, [.proposal(.add(kp))]), from: 0, expected)
        // A KeyPackage with the capability is accepted.
        let able = try GroupTestKit.Client("yan").bundle(capabilities: Self.capabilities(extensions: [Self.customExtension])).keyPackage
        try f.expectStillWorks(CommitOptions(proposals: [.add(able)]))
    }

    /// §11.2: once a ReInit is committed, the group accepts no further handshake messages.
    @Test func handshakeAfterACommittedReInit() throws {
        var f = try Fixture(3)
        let reinit = Proposal.reInit(ReInit(groupID: Array("next".utf8), cipherSuite: 1, extensions: []))
        let out = try f.groups[0].commit(CommitOptions(proposals: [reinit]))
        try f.broadcast(out.commit, from: 0)
        try f.groups[0].merge(out.pending)
        // Messages a member could still build with the frozen group's keys.
        let proposal = try f.forgeProposal(from: 1, .remove(LeafIndex(2)))
        f.expectRejected(proposal, from: 1, .reinitPending)
        let commit = try f.forgeCommit(from: 1, [])
        f.expectRejected(commit, from: 1, .reinitPending)
        #expect(GroupTestKit.error { try f.groups[1].commit() } == .reinitPending)
        #expect(GroupTestKit.error { try f.groups[1].proposeUpdate() } == .reinitPending)
    }

    // MARK: §10.1 KeyPackages, §7.3 their leaves

    enum KeyPackageDefect: CaseIterable, Sendable {
        case cipherSuite, version, initKeyIsEncryptionKey, signature, leafSignature, leafSource, expired, leafExtensionNotInCapabilities,
             credentialTypeNotInCapabilities, credentialRefused

        var expected: GroupError {
            switch self {
            case .cipherSuite: .keyPackage(.cipherSuiteMismatch)
            case .version: .keyPackage(.versionMismatch)
            case .initKeyIsEncryptionKey: .keyPackage(.initKeyEqualsEncryptionKey)
            case .signature: .keyPackage(.invalidSignature)
            case .leafSignature: .keyPackage(.invalidLeafNode(.invalidSignature))
            case .leafSource: .keyPackage(.invalidLeafNode(.expectedKeyPackageSource))
            case .expired: .keyPackage(.invalidLeafNode(.lifetimeInvalid))
            case .leafExtensionNotInCapabilities: .keyPackage(.invalidLeafNode(.extensionNotInCapabilities(GroupValidationTests.customExtension)))
            case .credentialTypeNotInCapabilities: .keyPackage(.invalidLeafNode(.credentialTypeNotInCapabilities))
            case .credentialRefused: .keyPackage(.invalidLeafNode(.invalidCredential(.unsupportedType(.x509))))
            }
        }

        func keyPackage() throws -> KeyPackage {
            let client = GroupTestKit.Client("zed")
            let suite = client.suite
            let key = client.signature.privateKey
            switch self {
            case .cipherSuite: return try MLSClient(credential: client.credential, signer: client.signer, suite: CipherSuite(id: 3)!).makeKeyPackage().keyPackage  // also Ed25519, so the signatures verify
            case .expired: return try client.bundle(lifetime: Lifetime(notBefore: 1, notAfter: 2)).keyPackage
            case .leafExtensionNotInCapabilities:
                return try client.bundle(leafExtensions: [Extension(extensionType: GroupValidationTests.customExtension, extensionData: [])]).keyPackage
            case .credentialTypeNotInCapabilities:
                return try client.bundle(capabilities: Capabilities(versions: [.mls10], cipherSuites: [1], extensions: [], proposals: [], credentials: [.x509])).keyPackage
            case .credentialRefused:
                // The default credential policy accepts no X.509 credential without trust anchors (§5.3.1).
                return try KeyPackageBundle.generate(suite: suite, credential: .x509(certificates: [[0x30, 0x00]]), signer: try InMemorySigner(scheme: suite.signature, privateKey: key)).keyPackage
            default: break
            }
            var kp = try client.bundle().keyPackage
            switch self {
            case .version: kp.version = ProtocolVersion(2)
            case .initKeyIsEncryptionKey: kp.initKey = kp.leafNode.encryptionKey
            case .signature:
                kp.signature[0] ^= 1
                return kp
            case .leafSignature: kp.leafNode.signature[0] ^= 1
            case .leafSource:
                kp.leafNode.leafNodeSource = .update
                try kp.leafNode.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: key), groupID: [], leafIndex: 0)
            default: break
            }
            try kp.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: key))
            return kp
        }
    }

    /// An invalid KeyPackage is refused by its proposer, in a received Add proposal, and in an
    /// Add committed by value.
    @Test(arguments: KeyPackageDefect.allCases)
    func invalidKeyPackage(_ defect: KeyPackageDefect) throws {
        var f = try Fixture()
        let kp = try defect.keyPackage()
        #expect(GroupTestKit.error { try f.groups[0].proposeAdd(kp) } == defect.expected)
        let proposal = try f.forgeProposal(from: 0, .add(kp))
        f.expectRejected(proposal, from: 0, defect.expected)
        let commit = try f.forgeCommit(from: 0, [.proposal(.add(kp))])
        f.expectRejected(commit, from: 0, defect.expected)
        try f.expectStillWorks()
    }

    // MARK: §12.1.2 Update proposals, §7.3 their leaves

    enum UpdateDefect: CaseIterable, Sendable {
        case unchangedEncryptionKey, sourceKeyPackage, sourceCommit, signedForAnotherLeaf, encryptionKeyOfAnotherMember, signatureKeyOfAnotherMember,
             renamed

        var expected: GroupError {
            switch self {
            case .unchangedEncryptionKey: .leafNode(.encryptionKeyUnchanged)
            case .sourceKeyPackage, .sourceCommit: .leafNode(.expectedUpdateSource)
            case .signedForAnotherLeaf: .leafNode(.invalidSignature)
            case .encryptionKeyOfAnotherMember: .leafNode(.duplicateEncryptionKey)
            case .signatureKeyOfAnotherMember: .leafNode(.duplicateSignatureKey)
            case .renamed: .leafNode(.invalidSuccessorCredential)
            }
        }
    }

    @Test(arguments: UpdateDefect.allCases)
    func invalidUpdate(_ defect: UpdateDefect) throws {
        var f = try Fixture()
        let carol = try #require(f.groups[2].myLeafNode)
        let bob = try #require(f.groups[1].myLeafNode)
        var leaf = try f.updateLeaf(for: 1) { leaf in
            switch defect {
            case .unchangedEncryptionKey: leaf.encryptionKey = bob.encryptionKey
            case .sourceKeyPackage: leaf.leafNodeSource = .keyPackage(KeyPackageBundle.defaultLifetime())
            case .sourceCommit: leaf.leafNodeSource = .commit(parentHash: [])
            case .encryptionKeyOfAnotherMember: leaf.encryptionKey = carol.encryptionKey
            case .signatureKeyOfAnotherMember: leaf.signatureKey = carol.signatureKey
            case .renamed: leaf.credential = .basic(identity: Array("mallory".utf8))  // §5.3.1
            case .signedForAnotherLeaf: break
            }
        }
        if defect == .signedForAnotherLeaf {
            try leaf.sign(suite: f.suite, signer: f.groups[1].signer, groupID: f.groups[1].groupID, leafIndex: 2)
        }
        let m = try f.forgeProposal(from: 1, .update(Update(leafNode: leaf)))
        f.expectRejected(m, from: 1, defect.expected)
        try f.expectStillWorks()
    }

    /// Unsigned leaf indices from the wire (the 2026 hardening list): 2^31 and 2^32 − 1 as a
    /// sender, a Remove target and an Update's sender are typed errors, never index traps.
    @Test(arguments: [UInt32(1) << 31, UInt32.max])
    func hugeLeafIndices(_ leaf: UInt32) throws {
        var f = try Fixture(3)
        let remove = try f.forgeProposal(from: 1, .remove(LeafIndex(leaf)))
        f.expectRejected(remove, from: 1, .invalidProposal(.removeOfBlankLeaf(leaf)))
        let asSender = try f.forgeProposal(from: 1, .remove(LeafIndex(2)), sender: .member(LeafIndex(leaf)), wireFormat: .publicMessage)
        f.expectRejected(asSender, from: 1, .framing(.notAMember(LeafIndex(leaf))))
        let commit = try f.forgeCommit(from: 0, [.proposal(.remove(LeafIndex(leaf)))])
        f.expectRejected(commit, from: 0, .invalidProposal(.removeOfBlankLeaf(leaf)))
        try f.expectStillWorks()
    }

    /// A bounded forward ratchet (§9.2): a PrivateMessage further ahead than the window is
    /// refused and consumes no key; the messages inside the window still decrypt.
    @Test func forwardRatchetIsBounded() throws {
        var f = try Fixture(3, configure: { _, c in c.maxForwardDistance = 16 })
        var skipped: [MLSMessage] = []
        for i in 0..<18 { skipped.append(try f.groups[0].encrypt([UInt8(i)])) }
        let before = GroupTestKit.Snapshot(f.groups[1])
        do {
            _ = try f.groups[1].process(skipped[17])
            Issue.record("a message 17 generations ahead was accepted")
        } catch let GroupError.framing(e) {
            #expect(e == .generationTooFarAhead(requested: 17, current: 0, limit: 16))
        }
        #expect(GroupTestKit.Snapshot(f.groups[1]) == before)
        #expect(try f.groups[1].process(skipped[16]).content == .application([16]))
        #expect(try f.groups[1].process(skipped[17]).content == .application([17]))
    }

    /// §5.3.1: a commit's path leaf may not rename the committer either.
    @Test func commitPathLeafWithAnotherIdentity() throws {
        var f = try Fixture()
        let g = f.groups[0]
        let m = try f.forgeCommit(from: 0, []) { path in
            path.leafNode.credential = .basic(identity: Array("mallory".utf8))
            try path.leafNode.sign(suite: f.suite, signer: g.signer, groupID: g.groupID, leafIndex: g.myLeaf.rawValue)
        }
        f.expectRejected(m, from: 0, .tree(.invalidLeafNode(LeafIndex(0), .invalidSuccessorCredential)))
        try f.expectStillWorks()
    }

    // MARK: §12.1.8 External proposals

    struct ExternalSenderFixture {
        var f: Fixture
        let ds = GroupTestKit.Client("delivery service")
        init() throws {
            let list = ExternalSender.encodeList([ExternalSender(signatureKey: ds.signature.publicKey, credential: ds.credential)])
            f = try Fixture(3, extensions: [Extension(extensionType: .externalSenders, extensionData: list)],
                            configure: { _, c in c.rules = DefaultGroupRules(acceptsExternalSenderProposals: true) })
        }
        func proposal(_ p: Proposal, index: UInt32 = 0, key: SecretBytes? = nil) throws -> MLSMessage {
            try f.forgeProposal(from: 0, p, sender: .external(senderIndex: index), signer: try InMemorySigner(scheme: .ed25519, privateKey: key ?? ds.signature.privateKey), wireFormat: .publicMessage)
        }
    }

    /// Control: a listed external sender's Add is accepted and can be committed.
    @Test func externalSenderAddIsAccepted() throws {
        var x = try ExternalSenderFixture()
        let bundle = try GroupTestKit.Client("zed").bundle()
        let m = try MLSGroup.externalProposal(.add(bundle.keyPackage), groupContext: x.f.groups[0].context,
                                              senderIndex: 0, signer: try InMemorySigner(scheme: .ed25519, privateKey: x.ds.signature.privateKey))
        for i in 0..<3 { #expect(try x.f.groups[i].process(m).sender == .external(senderIndex: 0)) }
        let out = try x.f.groups[1].commit()
        for i in [0, 2] { _ = try x.f.groups[i].process(out.commit) }
        try x.f.groups[1].merge(out.pending)
        let joined = try MLSGroup.join(welcome: try #require(out.welcome), keyPackage: bundle)
        #expect(joined.epochAuthenticator == x.f.groups[0].epochAuthenticator)
    }

    @Test func externalSenderNotInExternalSenders() throws {
        var x = try ExternalSenderFixture()
        let m = try x.proposal(.remove(LeafIndex(2)), index: 1)
        x.f.expectRejected(m, from: nil, .framing(.noSuchExternalSender(1)))
        // Without the extension there are no external senders at all.
        var plain = try Fixture(3)
        let n = try plain.forgeProposal(from: 0, .remove(LeafIndex(2)), sender: .external(senderIndex: 0),
                                        signer: try InMemorySigner(scheme: .ed25519, privateKey: x.ds.signature.privateKey), wireFormat: .publicMessage)
        plain.expectRejected(n, from: nil, .framing(.noSuchExternalSender(0)))
        try x.f.expectStillWorks()
        try plain.expectStillWorks()
    }

    @Test func externalSenderWithAnotherKey() throws {
        var x = try ExternalSenderFixture()
        let m = try x.proposal(.remove(LeafIndex(2)), key: GroupTestKit.Client("impostor").signature.privateKey)
        x.f.expectRejected(m, from: nil, .framing(.invalidSignature))
        try x.f.expectStillWorks()
    }

    @Test func externalSenderSendingUpdate() throws {
        var x = try ExternalSenderFixture()
        let leaf = try x.f.updateLeaf(for: 1)
        let m = try x.proposal(.update(Update(leafNode: leaf)))
        x.f.expectRejected(m, from: nil, .framing(.externalSenderProposalType(ProposalType.update.rawValue)))
        try x.f.expectStillWorks()
    }

    @Test func externalSenderSendingCommit() throws {
        var x = try ExternalSenderFixture()
        let g = x.f.groups[0]
        let content = FramedContent(groupID: g.groupID, epoch: g.epoch, sender: .external(senderIndex: 0), authenticatedData: [],
                                    content: .commit(Commit(proposals: [], path: nil)))
        let m = MLSMessage(body: .publicMessage(try MessageProtection.protectPublic(
            suite: x.f.suite, content: content, context: g.context, signer: try InMemorySigner(scheme: .ed25519, privateKey: x.ds.signature.privateKey),
            confirmationTag: [UInt8](repeating: 0, count: 32), membershipKey: nil)))
        x.f.expectRejected(m, from: nil, .framing(.externalSenderMayOnlyPropose))
        try x.f.expectStillWorks()
    }

    /// Control: a new member's own Add is accepted.
    @Test func newMemberProposalAddIsAccepted() throws {
        var f = try Fixture(3, configure: { _, c in c.rules = DefaultGroupRules(acceptsNewMemberProposals: true) })
        let bundle = try GroupTestKit.Client("zed").bundle()
        let m = try MLSGroup.joinProposal(bundle, groupContext: f.groups[0].context)
        for i in 0..<3 { #expect(try f.groups[i].process(m).sender == .newMemberProposal) }
        try f.expectStillWorks()
        #expect(f.groups[0].members.count == 4)
    }

    /// The default policy refuses proposals from outside the group: an outsider who knows the
    /// group ID and epoch cannot get itself (or anyone) added by the next ordinary commit.
    @Test func outsidersProposalsAreRefusedByDefault() throws {
        var f = try Fixture(3)
        let bundle = try GroupTestKit.Client("zed").bundle()
        let join = try MLSGroup.joinProposal(bundle, groupContext: f.groups[0].context)
        f.expectRejected(join, from: nil, .rejectedByRules(RuleViolation(.newMemberProposalRefused)))
        var x = try ExternalSenderFixture()
        x.f.groups = x.f.groups.map { g in var g = g; g.configuration.rules = DefaultGroupRules(); return g }
        let m = try x.proposal(.remove(LeafIndex(2)))
        x.f.expectRejected(m, from: nil, .rejectedByRules(RuleViolation(.externalSenderProposalRefused)))
        // Nothing was cached: the next commit adds and removes no one.
        try f.expectStillWorks()
        #expect(f.groups[0].members.count == 3)
        try x.f.expectStillWorks()
        #expect(x.f.groups[0].members.count == 3)
    }

    /// A proposal cached while the policy accepted it is not committed by reference once the
    /// policy refuses it.
    @Test func commitIncludesOnlyProposalsThePolicyAccepts() throws {
        var f = try Fixture(3, configure: { _, c in c.rules = DefaultGroupRules(acceptsNewMemberProposals: true) })
        let bundle = try GroupTestKit.Client("zed").bundle()
        let join = try MLSGroup.joinProposal(bundle, groupContext: f.groups[0].context)
        for i in 0..<3 { _ = try f.groups[i].process(join) }
        f.groups[0].configuration.rules = DefaultGroupRules()
        let out = try f.groups[0].commit()
        #expect(out.welcome == nil)
        guard case let .publicMessage(pm) = out.commit.body, case let .commit(c) = pm.content.content else {
            Issue.record("expected a PublicMessage commit"); return
        }
        #expect(c.proposals.isEmpty)
    }

    /// The proposal cache is bounded; a full cache refuses further proposals with a typed error
    /// and leaves the group unchanged.
    @Test func proposalCacheIsBounded() throws {
        var f = try Fixture(3, configure: { _, c in c.maxCachedProposals = 2 })
        for _ in 0..<2 {
            let m = try f.groups[1].proposeExternalPSK(id: [1])
            _ = try f.groups[0].process(m)
        }
        let third = try f.groups[2].proposeExternalPSK(id: [1])
        f.expectRejected(third, from: 2, .proposalCacheFull)
        #expect(f.groups[0].pendingProposals.count == 2)
    }

    @Test func newMemberProposalThatIsNotAnAdd() throws {
        var f = try Fixture(3)
        let outsider = GroupTestKit.Client("zed")
        let m = try f.forgeProposal(from: 0, .remove(LeafIndex(2)), sender: .newMemberProposal,
                                    signer: try InMemorySigner(scheme: .ed25519, privateKey: outsider.signature.privateKey), wireFormat: .publicMessage)
        f.expectRejected(m, from: nil, .framing(.newMemberProposalNotAdd))
        try f.expectStillWorks()
    }

    // MARK: §12.2 Proposal list validation (regular commits)

    @Test func updateFromTheCommitterByValue() throws {
        var f = try Fixture()
        let leaf = try f.updateLeaf(for: 0)
        let m = try f.forgeCommit(from: 0, [.proposal(.update(Update(leafNode: leaf)))])
        f.expectRejected(m, from: 0, .invalidProposal(.updateFromCommitter))
        try f.expectStillWorks()
    }

    @Test func updateFromTheCommitterByReference() throws {
        var f = try Fixture()
        let update = try f.groups[0].proposeUpdate()
        try f.broadcast(update, from: 0)
        let ref = try #require(f.groups[0].proposalCache.last).ref
        let m = try f.forgeCommit(from: 0, [.reference(ref)])
        f.expectRejected(m, from: 0, .invalidProposal(.updateFromCommitter))
        // The committer's own commit leaves its Update out (§12.2).
        try f.expectStillWorks()
    }

    @Test func removeOfTheCommitter() throws {
        var f = try Fixture()
        let m = try f.forgeCommit(from: 0, [.proposal(.remove(LeafIndex(0)))])
        f.expectRejected(m, from: 0, .invalidProposal(.removeOfCommitter))
        try f.expectStillWorks()
    }

    @Test func twoUpdatesForTheSameLeaf() throws {
        var f = try Fixture()
        var refs: [ProposalOrRef] = []
        for _ in 0..<2 {
            let m = try f.groups[1].proposeUpdate()
            try f.broadcast(m, from: 1)
            refs.append(.reference(try #require(f.groups[0].proposalCache.last).ref))
        }
        let m = try f.forgeCommit(from: 0, refs)
        f.expectRejected(m, from: 0, .invalidProposal(.leafUpdatedOrRemovedTwice(1)))
        // A real commit keeps only the latest Update (§12.2's SHOULD).
        try f.expectStillWorks()
    }

    @Test func updateAndRemoveForTheSameLeaf() throws {
        var f = try Fixture()
        let update = try f.groups[1].proposeUpdate()
        try f.broadcast(update, from: 1)
        let ref = try #require(f.groups[0].proposalCache.last).ref
        let m = try f.forgeCommit(from: 0, [.reference(ref), .proposal(.remove(LeafIndex(1)))])
        f.expectRejected(m, from: 0, .invalidProposal(.leafUpdatedOrRemovedTwice(1)))
        try f.expectStillWorks()
    }

    @Test func twoRemovesForTheSameLeaf() throws {
        var f = try Fixture()
        let m = try f.forgeCommit(from: 0, [.proposal(.remove(LeafIndex(2))), .proposal(.remove(LeafIndex(2)))])
        f.expectRejected(m, from: 0, .invalidProposal(.leafUpdatedOrRemovedTwice(2)))
        try f.expectStillWorks()
    }

    /// An Add whose KeyPackage has the signature key of a current member (§12.2: "a client
    /// already in the group").
    @Test func addOfAClientAlreadyInTheGroup() throws {
        var f = try Fixture()
        let bob = try f.clients[1].bundle().keyPackage
        let m = try f.forgeCommit(from: 0, [.proposal(.add(bob))])
        f.expectRejected(m, from: 0, .invalidProposal(.addOfExistingClient))
        #expect(GroupTestKit.error { try f.groups[0].commit(CommitOptions(proposals: [.add(bob)])) }
            == .invalidProposal(.addOfExistingClient))
        try f.expectStillWorks()
    }

    @Test func twoAddsOfTheSameClient() throws {
        var f = try Fixture()
        let zed = GroupTestKit.Client("zed")
        let m = try f.forgeCommit(from: 0, [.proposal(.add(try zed.bundle().keyPackage)),
                                            .proposal(.add(try zed.bundle().keyPackage))])
        f.expectRejected(m, from: 0, .invalidProposal(.addOfExistingClient))
        try f.expectStillWorks()
    }

    /// Control for the exception in §12.2: re-adding a client removed by the same commit is valid.
    @Test func removeAndReaddOfTheSameClientIsValid() throws {
        var f = try Fixture()
        let bundle = try f.clients[3].bundle()
        let out = try f.groups[0].commit(CommitOptions(proposals: [.remove(LeafIndex(3)), .add(bundle.keyPackage)]))
        #expect(try f.groups[3].process(out.commit).content.commit?.removedSelf == true)
        for i in 1..<3 { #expect(try f.groups[i].process(out.commit).content.commit?.removedSelf == false) }
        try f.groups[0].merge(out.pending)
        f.groups[3] = try MLSGroup.join(welcome: try #require(out.welcome), keyPackage: bundle,
                                        configuration: f.groups[1].configuration)
        f.expectAgreement()
        try f.expectStillWorks(committer: 3)
    }

    @Test func twoPSKProposalsWithTheSameID() throws {
        var f = try Fixture()
        let psk = Self.psk(.external(pskID: Self.pskID))
        let m = try f.forgeCommit(from: 0, [.proposal(psk), .proposal(psk)])
        f.expectRejected(m, from: 0, .invalidProposal(.duplicatePSK))
        try f.expectStillWorks()
    }

    @Test func twoGroupContextExtensions() throws {
        var f = try Fixture()
        let gce = Proposal.groupContextExtensions([])
        let m = try f.forgeCommit(from: 0, [.proposal(gce), .proposal(gce)])
        f.expectRejected(m, from: 0, .invalidProposal(.multipleGroupContextExtensions))
        try f.expectStillWorks()
    }

    @Test func reinitTogetherWithAnotherProposal() throws {
        var f = try Fixture()
        let reinit = Proposal.reInit(ReInit(groupID: Array("next".utf8), cipherSuite: 1, extensions: []))
        let m = try f.forgeCommit(from: 0, [.proposal(reinit), .proposal(.add(try f.freshKeyPackage()))])
        f.expectRejected(m, from: 0, .invalidProposal(.reinitWithOtherProposals))
        try f.expectStillWorks()
    }

    /// ExternalInit is refused from a member before the list is even considered (§12.1.6, §12.2).
    @Test func externalInitInARegularCommit() throws {
        var f = try Fixture()
        let ei = Proposal.externalInit(kemOutput: f.suite.hpke.generateKeyPair().publicKey)
        let m = try f.forgeCommit(from: 0, [.proposal(ei)])
        f.expectRejected(m, from: 0, .invalidProposal(.externalInitOutsideExternalCommit))
        #expect(GroupTestKit.error { try f.groups[0].propose(ei) } == .invalidProposal(.externalInitOutsideExternalCommit))
        try f.expectStillWorks()
    }

    @Test func commitReferencingAnUnknownProposal() throws {
        var f = try Fixture()
        let m = try f.forgeCommit(from: 0, [.reference([UInt8](repeating: 0xAB, count: 32))])
        f.expectRejected(m, from: 0, .unknownProposalReference)
        try f.expectStillWorks()
    }

    /// A proposal from a previous epoch cannot be referenced: the cache is per epoch (§12.4).
    @Test func commitReferencingAProposalOfThePreviousEpoch() throws {
        var f = try Fixture()
        let update = try f.groups[1].proposeUpdate()
        try f.broadcast(update, from: 1)
        let ref = try #require(f.groups[0].proposalCache.last).ref
        try f.expectStillWorks(committer: 2)
        let m = try f.forgeCommit(from: 0, [.reference(ref)])
        f.expectRejected(m, from: 0, .unknownProposalReference)
        try f.expectStillWorks()
    }

    // MARK: §12.4 Commits

    enum PathlessCommit: CaseIterable, Sendable { case empty, remove, groupContextExtensions, update }

    @Test(arguments: PathlessCommit.allCases)
    func pathRequired(_ kind: PathlessCommit) throws {
        var f = try Fixture()
        var items: [ProposalOrRef] = []
        switch kind {
        case .empty: break
        case .remove: items = [.proposal(.remove(LeafIndex(3)))]
        case .groupContextExtensions: items = [.proposal(.groupContextExtensions([]))]
        case .update:
            let update = try f.groups[1].proposeUpdate()
            try f.broadcast(update, from: 1)
            items = [.reference(try #require(f.groups[0].proposalCache.last).ref)]
        }
        let m = try f.forgeCommit(from: 0, items, path: false)
        f.expectRejected(m, from: 0, .pathRequired)
        try f.expectStillWorks()
    }

    /// Control: a commit of Adds only may omit the path (§12.4).
    @Test func addOnlyCommitWithoutPathIsValid() throws {
        var f = try Fixture(3)
        let bundle = try GroupTestKit.Client("zed").bundle()
        let out = try f.groups[0].commit(CommitOptions(proposals: [.add(bundle.keyPackage)], alwaysIncludePath: false))
        guard case let .publicMessage(pm) = out.commit.body, case let .commit(c) = pm.content.content else { Issue.record("not a commit"); return }
        #expect(c.path == nil)
        try f.broadcast(out.commit, from: 0)
        try f.groups[0].merge(out.pending)
        f.groups.append(try MLSGroup.join(welcome: try #require(out.welcome), keyPackage: bundle))
        f.expectAgreement()
        try f.expectStillWorks(committer: 3)
    }

    @Test(arguments: [WireFormat.publicMessage, .privateMessage])
    func invalidConfirmationTag(_ framing: WireFormat) throws {
        var f = try Fixture(framing: framing)
        // Not a Remove: a removed member cannot derive the new epoch, so it has no confirmation key.
        let m = try f.forgeCommit(from: 0, [.proposal(.groupContextExtensions([]))], tamperTag: true)
        f.expectRejected(m, from: 0, .invalidConfirmationTag)
        try f.expectStillWorks()
    }

    /// A PSK the receivers do not hold (§12.4.2: "Verify that all PreSharedKey proposals ... are available").
    @Test func missingPSK() throws {
        var f = try Fixture(configure: { i, c in
            if i != 0 { c.psks = InMemoryPSKStore() }
        })
        let proposal = try f.groups[0].proposeExternalPSK(id: Self.pskID)
        try f.broadcast(proposal, from: 0)
        let out = try f.groups[0].commit()
        f.expectRejected(out.commit, from: 0, .missingPSK)
        try f.expectStillWorks(CommitOptions(includePendingProposals: false))
    }

    /// An external joiner holds no resumption PSK of the epochs before it joined.
    @Test
    func missingResumptionPSKOfAnEpochBeforeAnExternalJoin() throws {
        var f = try Fixture(3)
        let before = f.groups[0].epoch
        let (joined, commit) = try MLSGroup.externalJoin(groupInfo: try f.groups[0].groupInfo(), keyPackage: try GroupTestKit.Client("zed").bundle())
        try f.broadcast(commit, from: nil)
        f.groups.append(joined)
        let proposal = try f.groups[0].proposeResumptionPSK(epoch: before)
        try f.broadcast(proposal, from: 0)
        let out = try f.groups[0].commit()
        for i in 1..<3 { _ = try f.groups[i].process(out.commit) }
        let snapshot = GroupTestKit.Snapshot(f.groups[3])
        #expect(GroupTestKit.error { try f.groups[3].process(out.commit) } == .missingPSK)
        #expect(GroupTestKit.Snapshot(f.groups[3]) == snapshot)
    }

    enum PathDefect: CaseIterable, Sendable { case leafSourceUpdate, leafEncryptionKeyUnchanged, nodeKeyInTree, parentHash, pathLength, ciphertextCount }

    /// §12.4.2: the UpdatePath's leaf must be a valid `commit` leaf with a new encryption key,
    /// its keys must be new to the tree, and it must be parent-hash valid.
    @Test(arguments: PathDefect.allCases)
    func invalidUpdatePath(_ defect: PathDefect) throws {
        var f = try Fixture()
        let alice = f.groups[0]
        let old = try #require(alice.myLeafNode)
        let bobKey = try #require(f.groups[1].myLeafNode).encryptionKey
        let m = try f.forgeCommit(from: 0, []) { path in
            switch defect {
            case .leafSourceUpdate: path.leafNode.leafNodeSource = .update
            case .leafEncryptionKeyUnchanged: path.leafNode.encryptionKey = old.encryptionKey
            case .nodeKeyInTree: path.nodes[0].encryptionKey = bobKey
            case .parentHash: path.nodes[path.nodes.count - 1].encryptionKey = alice.suite.hpke.generateKeyPair().publicKey
            case .pathLength: path.nodes.removeLast()
            case .ciphertextCount: path.nodes[0].encryptedPathSecret.append(path.nodes[0].encryptedPathSecret[0])
            }
            try path.leafNode.sign(suite: alice.suite, signer: alice.signer, groupID: alice.groupID, leafIndex: 0)
        }
        let expected: GroupError = switch defect {
        case .leafSourceUpdate: .tree(.invalidLeafNode(LeafIndex(0), .expectedCommitSource))
        case .leafEncryptionKeyUnchanged: .tree(.invalidLeafNode(LeafIndex(0), .encryptionKeyUnchanged))
        case .nodeKeyInTree: .tree(.duplicateEncryptionKey(node: f.groups[1].tree.filteredDirectPath(LeafIndex(0))[0].node.rawValue))
        case .parentHash: .tree(.parentHashMismatch)
        case .pathLength: .tree(.pathLengthMismatch(expected: 2, got: 1))
        case .ciphertextCount: .tree(.ciphertextCountMismatch(node: f.groups[1].tree.filteredDirectPath(LeafIndex(0))[0].node.rawValue))
        }
        f.expectRejected(m, from: 0, expected)
        try f.expectStillWorks()
    }

    /// A path secret encrypted to bob that does not decrypt: bob refuses the commit (the
    /// others, whose ciphertexts are intact, could accept it — a committer can split the group,
    /// which only the confirmation tag of a later message reveals).
    @Test func pathSecretThatDoesNotDecrypt() throws {
        var f = try Fixture()
        let m = try f.forgeCommit(from: 0, []) { path in path.nodes[0].encryptedPathSecret[0].ciphertext[0] ^= 1 }
        let before = GroupTestKit.Snapshot(f.groups[1])
        #expect(GroupTestKit.error { try f.groups[1].process(m) } == .tree(.decryptionFailed))
        #expect(GroupTestKit.Snapshot(f.groups[1]) == before)
        try f.expectStillWorks()
    }

    // MARK: §12.4.3.2 External commits

    struct ExternalCommitFixture {
        var f: Fixture
        let bundle: KeyPackageBundle
        let commit: MLSMessage

        init() throws {
            f = try Fixture(3)
            bundle = try GroupTestKit.Client("zed").bundle()
            commit = try MLSGroup.externalJoin(groupInfo: try f.groups[0].groupInfo(), keyPackage: bundle).commit
        }

        /// The external commit with its Commit edited and re-signed by the joiner.
        func tampered(_ edit: (inout Commit) throws -> Void) throws -> MLSMessage {
            guard case var .publicMessage(pm) = commit.body, case var .commit(c) = pm.content.content else { throw GroupError.unexpectedWireFormat }
            try edit(&c)
            pm.content.content = .commit(c)
            pm.auth.signature = try MessageProtection.sign(suite: f.suite, content: pm.content, wireFormat: .publicMessage,
                                                           context: f.groups[0].context, signer: bundle.signer)
            return MLSMessage(body: .publicMessage(pm))
        }

        /// Every member refuses the tampered commit, then accepts the genuine one.
        mutating func expect(_ edit: (inout Commit) throws -> Void, _ expected: GroupError, sourceLocation: SourceLocation = #_sourceLocation) throws {
            f.expectRejected(try tampered(edit), from: nil, expected, sourceLocation: sourceLocation)
            for i in 0..<3 { #expect(try f.groups[i].process(commit).sender == .newMemberCommit, sourceLocation: sourceLocation) }
            f.expectAgreement(sourceLocation: sourceLocation)
        }
    }

    static let externalListMessage = "external commit with proposals other than ExternalInit, one Remove and PSKs"

    @Test func externalCommitWithoutExternalInit() throws {
        var x = try ExternalCommitFixture()
        try x.expect({ c in c.proposals.removeAll { if case .proposal(.externalInit) = $0 { true } else { false } } },
                     .invalidProposal(.externalCommitWithoutExternalInit))
    }

    @Test func externalCommitWithTwoExternalInits() throws {
        var x = try ExternalCommitFixture()
        try x.expect({ c in c.proposals += c.proposals }, .invalidProposal(.multipleExternalInits))
    }

    @Test func externalCommitWithTwoRemoves() throws {
        var x = try ExternalCommitFixture()
        try x.expect({ c in c.proposals += [.proposal(.remove(LeafIndex(1))), .proposal(.remove(LeafIndex(2)))] },
                     .invalidProposal(.externalCommitProposals))
    }

    @Test func externalCommitWithAnAdd() throws {
        var x = try ExternalCommitFixture()
        let kp = try x.f.freshKeyPackage("yan")
        try x.expect({ c in c.proposals.append(.proposal(.add(kp))) }, .invalidProposal(.externalCommitProposals))
    }

    @Test func externalCommitWithAGroupContextExtensions() throws {
        var x = try ExternalCommitFixture()
        try x.expect({ c in c.proposals.append(.proposal(.groupContextExtensions([]))) },
                     .invalidProposal(.externalCommitProposals))
    }

    @Test func externalCommitWithAProposalByReference() throws {
        var x = try ExternalCommitFixture()
        // Even a proposal every member holds is refused by reference (§12.4.3.2).
        let m = try x.f.groups[1].proposeRemove(LeafIndex(2))
        try x.f.broadcast(m, from: 1)
        let ref = try #require(x.f.groups[0].proposalCache.last).ref
        try x.expect({ c in c.proposals.append(.reference(ref)) }, .unknownProposalReference)
    }

    @Test func externalCommitWithoutPath() throws {
        var x = try ExternalCommitFixture()
        try x.expect({ c in c.path = nil }, .framing(.newMemberCommitWithoutPath))
    }

    // MARK: §12.4.3.1 Joining from a Welcome

    /// A Welcome opened with a KeyPackage it was not made for.
    @Test func welcomeForAnotherKeyPackage() throws {
        var f = try Fixture(2)
        let invited = try GroupTestKit.Client("zed").bundle()
        let out = try f.groups[0].commit(CommitOptions(proposals: [.add(invited.keyPackage)]))
        let welcome = try #require(out.welcome)
        let stranger = try GroupTestKit.Client("yan").bundle()
        #expect(GroupTestKit.error { try MLSGroup.join(welcome: welcome, keyPackage: stranger) } == .welcomeNotForKeyPackage)
        try f.groups[0].merge(out.pending)
        try f.broadcast(out.commit, from: 0)
        let joined = try MLSGroup.join(welcome: welcome, keyPackage: invited)
        #expect(joined.epochAuthenticator == f.groups[0].epochAuthenticator)
    }

    /// §12.4.3.1: "If a PreSharedKeyID is part of the GroupSecrets and the client is not in
    /// possession of the corresponding PSK, return an error."
    @Test func welcomeNamingAPSKTheJoinerLacks() throws {
        var f = try Fixture(2)
        let invited = try GroupTestKit.Client("zed").bundle()
        let out = try f.groups[0].commit(CommitOptions(proposals: [.add(invited.keyPackage), Self.psk(.external(pskID: Self.pskID))]))
        let welcome = try #require(out.welcome)
        #expect(GroupTestKit.error { try MLSGroup.join(welcome: welcome, keyPackage: invited) } == .missingPSK)
        var config = GroupConfiguration()
        config.psks = InMemoryPSKStore(external: [Self.pskID: Self.pskValue])
        try f.groups[0].merge(out.pending)
        #expect(try MLSGroup.join(welcome: welcome, keyPackage: invited, configuration: config).epochAuthenticator == f.groups[0].epochAuthenticator)
    }

    /// A ratchet tree whose tree hash differs from the GroupInfo's (§12.4.3.1), supplied out of
    /// band: one signature byte of bob's leaf flipped.
    @Test func welcomeWithATamperedOutOfBandTree() throws {
        var f = try Fixture(2, configure: { _, c in c.ratchetTreeInWelcome = false })
        let invited = try GroupTestKit.Client("zed").bundle()
        let out = try f.groups[0].commit(CommitOptions(proposals: [.add(invited.keyPackage)]))
        try f.groups[0].merge(out.pending)
        let welcome = try #require(out.welcome)
        let tree = f.groups[0].tree.exported
        #expect(GroupTestKit.error { try MLSGroup.join(welcome: welcome, keyPackage: invited) } == .missingRatchetTree)
        #expect(GroupTestKit.error { try MLSGroup.join(welcome: welcome, keyPackage: invited, ratchetTree: Self.tamper(tree)) } == .tree(.treeHashMismatch))
        let joined = try MLSGroup.join(welcome: welcome, keyPackage: invited, ratchetTree: tree)
        #expect(joined.epochAuthenticator == f.groups[0].epochAuthenticator)
    }

    /// Flips one signature byte of the leaf at leaf index 1.
    static func tamper(_ tree: RatchetTreeNodes) -> RatchetTreeNodes {
        var t = tree
        if case var .leaf(leaf) = t.nodes[2] {
            leaf.signature[0] ^= 1
            t.nodes[2] = .leaf(leaf)
        }
        return t
    }

    /// Rebuilds a Welcome for `bundle` around an edited GroupInfo, re-signed by `signer` (nil:
    /// left with its old signature), re-encrypted under the original secrets.
    static func rebuild(_ message: MLSMessage, for bundle: KeyPackageBundle, signer: (any MLSSigner)?, edit: (inout GroupInfo) throws -> Void) throws -> MLSMessage {
        guard case let .welcome(w) = message.body else { throw GroupError.unexpectedWireFormat }
        let suite = try WelcomeCrypto.suite(of: w)
        let secrets = try WelcomeCrypto.decryptGroupSecrets(w, keyPackage: bundle.keyPackage, initPrivateKey: bundle.initPrivateKey)
        var info = try WelcomeCrypto.decryptGroupInfo(w, joinerSecret: secrets.joinerSecret, pskSecret: nil)
        try edit(&info)
        if let signer { try info.sign(suite: suite, signer: signer) }
        let welcomeSecret = try KeyScheduleEpoch.welcomeSecret(suite: suite, joinerSecret: secrets.joinerSecret, pskSecret: nil)
        let encryptedInfo = try WelcomeCrypto.encryptGroupInfo(suite: suite, groupInfo: info, welcomeSecret: welcomeSecret)
        let groupSecrets = GroupSecrets(joinerSecret: secrets.joinerSecret.unsafeCopiedBytes(),
                                        pathSecret: secrets.pathSecret.map { PathSecret(pathSecret: $0.unsafeCopiedBytes()) }, psks: secrets.psks)
        let encryptedSecrets = try WelcomeCrypto.encryptGroupSecrets(suite: suite, recipients: [(bundle.keyPackage, groupSecrets)], encryptedGroupInfo: encryptedInfo)
        return MLSMessage(body: .welcome(Welcome(cipherSuite: suite.id, secrets: encryptedSecrets, encryptedGroupInfo: encryptedInfo)))
    }

    /// The same tampering inside the Welcome's `ratchet_tree` extension, with the GroupInfo
    /// re-signed by the committer so that only the tree hash is wrong; and a GroupInfo whose
    /// signature does not verify.
    @Test func welcomeWithATamperedTreeOrGroupInfo() throws {
        var f = try Fixture(2)
        let invited = try GroupTestKit.Client("zed").bundle()
        let out = try f.groups[0].commit(CommitOptions(proposals: [.add(invited.keyPackage)]))
        try f.groups[0].merge(out.pending)
        let welcome = try #require(out.welcome)
        let forged = try Self.rebuild(welcome, for: invited, signer: f.groups[0].signer) { info in
            let data = try #require(info.extensions.data(for: .ratchetTree))
            let tree = Self.tamper(try RatchetTreeNodes(tlsSerialized: data))
            info.extensions = info.extensions.map { $0.extensionType == .ratchetTree ? Extension(extensionType: .ratchetTree, extensionData: tree.tlsSerialized) : $0 }
        }
        #expect(GroupTestKit.error { try MLSGroup.join(welcome: forged, keyPackage: invited) } == .tree(.treeHashMismatch))
        let unsigned = try Self.rebuild(welcome, for: invited, signer: nil) { info in info.groupContext.epoch += 1 }
        #expect(GroupTestKit.error { try MLSGroup.join(welcome: unsigned, keyPackage: invited) } == .invalidGroupInfoSignature)
        // Control: the rebuilding itself is faithful.
        let faithful = try Self.rebuild(welcome, for: invited, signer: f.groups[0].signer) { _ in }
        #expect(try MLSGroup.join(welcome: faithful, keyPackage: invited).epochAuthenticator == f.groups[0].epochAuthenticator)
    }

    // MARK: Sending rules

    /// §12.4: a member that has observed proposals must commit before sending application data.
    @Test func encryptWhileProposalsArePending() throws {
        var f = try Fixture(3)
        let m = try f.groups[1].proposeUpdate()
        #expect(GroupTestKit.error { try f.groups[1].encrypt([1]) } == .pendingProposals)
        try f.broadcast(m, from: 1)
        for i in 0..<3 { #expect(GroupTestKit.error { try f.groups[i].encrypt([1]) } == .pendingProposals) }
        try f.expectStillWorks(committer: 2)
    }

    // MARK: Rules not (yet) enforced as RFC 9420 requires

    /// §12.1.7: a GroupContextExtensions proposal is invalid if some members do not support the
    /// required capabilities "(including those added in the same Commit, and excluding those
    /// removed)". Removing the one member that lacks the capability in the same commit is valid.
    @Test
    func requiredCapabilitiesIgnoreMembersRemovedInTheSameCommit() throws {
        var f = try Fixture(capabilities: { i in i < 3 ? Self.capabilities(extensions: [Self.customExtension]) : nil })
        let gce = Proposal.groupContextExtensions([Self.requiredCapabilities([Self.customExtension])])
        let out = try f.groups[0].commit(CommitOptions(proposals: [gce, .remove(LeafIndex(3))]))
        #expect(try f.groups[3].process(out.commit).content.commit?.removedSelf == true)
        for i in 1..<3 { #expect(try f.groups[i].process(out.commit).content.commit?.removedSelf == false) }
        try f.groups[0].merge(out.pending)
        f.groups.removeLast()
        f.expectAgreement()
    }

    /// §12.3: "The new extensions MUST be used when evaluating other proposals in this list."
    /// A commit that drops a `required_capabilities` and adds a member lacking it is valid.
    @Test
    func addsAreValidatedAgainstTheNewExtensions() throws {
        var f = try Fixture(3, extensions: [Self.requiredCapabilities([Self.customExtension])],
                            capabilities: { _ in Self.capabilities(extensions: [Self.customExtension]) })
        let kp = try f.freshKeyPackage()
        let out = try f.groups[0].commit(CommitOptions(proposals: [.groupContextExtensions([]), .add(kp)]))
        try f.broadcast(out.commit, from: 0)
        try f.groups[0].merge(out.pending)
        f.expectAgreement()
    }

    /// §13.4: "A client adding a new member to a group MUST verify that the LeafNode for the new
    /// member is compatible with the group's extensions. The capabilities field MUST indicate
    /// support for each extension in the GroupContext."
    @Test
    func addOfAClientNotSupportingTheGroupsExtensions() throws {
        let custom = Extension(extensionType: Self.customExtension, extensionData: [1])
        var f = try Fixture(3, extensions: [custom], capabilities: { _ in Self.capabilities(extensions: [Self.customExtension]) })
        let m = try f.forgeProposal(from: 0, .add(try f.freshKeyPackage()))
        f.expectRejectedSomehow(m, from: 0)
        try f.expectStillWorks()
    }

    /// §13.4: "Any field containing a list of extensions MUST NOT have more than one extension of
    /// any given type."
    @Test
    func groupContextExtensionsWithARepeatedType() throws {
        var f = try Fixture()
        let twice = [Extension(extensionType: .applicationID, extensionData: [1]), Extension(extensionType: .applicationID, extensionData: [2])]
        let m = try f.forgeProposal(from: 0, .groupContextExtensions(twice))
        f.expectRejectedSomehow(m, from: 0)
        try f.expectStillWorks()
    }
}
