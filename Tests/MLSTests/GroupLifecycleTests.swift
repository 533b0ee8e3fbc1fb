@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLS

/// Group lifecycle beyond add/update/remove: external joins, ReInit and branching (RFC 9420
/// §11.2, §11.3, §12.4.3.2).
@Suite struct GroupLifecycleTests {
    struct Client {
        let suite: CipherSuite
        let identity: String
        let client: MLSClient
        init(_ identity: String, suite: CipherSuite = CipherSuite(id: 1)!) {
            self.suite = suite
            self.identity = identity
            client = MLSClient.basic(identity: Array(identity.utf8), suite: suite)
        }
        func bundle(suite s: CipherSuite? = nil) throws -> KeyPackageBundle {
            // A new suite needs a client (a signature key) of that suite.
            guard let s, s != suite else { return try client.makeKeyPackage() }
            return try MLSClient.basic(identity: Array(identity.utf8), suite: s).makeKeyPackage()
        }
    }

    /// Creates a group of `names.count` members; returns all members' states (creator first).
    func group(_ names: [String]) throws -> [MLSGroup] {
        let clients = names.map { Client($0) }
        var creator = try MLSGroup.create(suite: clients[0].suite, groupID: Array("case-4711".utf8), creator: try clients[0].bundle())
        if clients.count == 1 { return [creator] }
        let bundles = try clients.dropFirst().map { try $0.bundle() }
        let out = try creator.commit(CommitOptions(proposals: bundles.map { .add($0.keyPackage) }))
        try creator.merge(out.pending)
        let welcome = try #require(out.welcome)
        return [creator] + (try bundles.map { try MLSGroup.join(welcome: welcome, keyPackage: $0) })
    }

    func expectAgreement(_ groups: [MLSGroup]) {
        for g in groups.dropFirst() {
            #expect(g.epoch == groups[0].epoch)
            #expect(g.epochAuthenticator == groups[0].epochAuthenticator)
        }
    }

    @Test func externalJoinIsAcceptedByMembers() throws {
        var members = try group(["authority", "clerk"])
        let info = try members[0].groupInfo(withTree: true)
        let (joined, commit) = try MLSGroup.externalJoin(groupInfo: info, keyPackage: try Client("citizen").bundle())
        for i in members.indices { _ = try members[i].process(commit) }
        expectAgreement(members + [joined])
        #expect(joined.members.count == 3)
        // The joiner is a full member: its messages are readable.
        var j = joined
        let m = try j.encrypt(Array("hello".utf8))
        #expect(try members[1].process(m).content == .application(Array("hello".utf8)))
    }

    @Test func externalJoinWithoutExternalPubIsRefused() throws {
        var members = try group(["authority"])
        members[0].configuration.externalPubInGroupInfo = false
        let info = try members[0].groupInfo(withTree: true)
        #expect(throws: GroupError.missingExternalPub) { try MLSGroup.externalJoin(groupInfo: info, keyPackage: try Client("x").bundle()) }
    }

    @Test func reinitToAnotherSuite() throws {
        var members = try group(["authority", "citizen"])
        let newSuite = CipherSuite(id: 3)!
        let proposal = try members[0].proposeReInit(groupID: Array("case-4711-v2".utf8), suite: newSuite)
        _ = try members[1].process(proposal)
        let out = try members[0].commit()
        try members[0].merge(out.pending)
        _ = try members[1].process(out.commit)
        #expect(members[0].pendingReInit != nil && members[1].pendingReInit != nil)
        // The frozen group refuses further traffic.
        #expect(throws: GroupError.reinitPending) { try members[1].encrypt([1]) }

        let citizen = try Client("citizen", suite: newSuite).bundle()
        let (reinitialized, welcome) = try members[0].reinitialize(creator: try Client("authority", suite: newSuite).bundle(), members: [citizen.keyPackage])
        let joined = try MLSGroup.joinReinitialized(welcome: try #require(welcome), keyPackage: citizen, previous: members[1])
        #expect(joined.suite == newSuite && joined.epoch == 1 && joined.groupID == Array("case-4711-v2".utf8))
        expectAgreement([reinitialized, joined])
        // Without the previous group's resumption PSK the Welcome cannot be opened.
        #expect(throws: GroupError.missingPSK) { try MLSGroup.join(welcome: try #require(welcome), keyPackage: citizen) }
    }

    @Test func branchToASubgroup() throws {
        let members = try group(["authority", "clerk", "citizen"])
        let citizen = try Client("citizen").bundle()
        let (sub, welcome) = try members[0].branch(groupID: Array("side-channel".utf8), creator: try Client("authority").bundle(), members: [citizen.keyPackage])
        let joined = try MLSGroup.joinBranch(welcome: try #require(welcome), keyPackage: citizen, parent: members[2])
        expectAgreement([sub, joined])
        // A branch whose member is not in the parent group is refused.
        let outsider = try Client("outsider").bundle()
        let (_, w2) = try members[0].branch(groupID: Array("other".utf8), creator: try Client("authority").bundle(), members: [outsider.keyPackage])
        #expect(throws: GroupError.invalidProposal(.branchMemberNotInParent)) {
            try MLSGroup.joinBranch(welcome: try #require(w2), keyPackage: outsider, parent: members[2])
        }
    }

    @Test func externalProposalFromAConfiguredSender() throws {
        // A delivery-service identity allowed to propose removals (§12.1.8.1).
        let ds = CipherSuite(id: 1)!.signature.generateKeyPair()
        let sender = ExternalSender(signatureKey: ds.publicKey, credential: .basic(identity: Array("ds".utf8)))
        var w = TLSWriter()
        w.writeVector([sender])
        let clients = [Client("authority"), Client("clerk")]
        var creator = try MLSGroup.create(suite: clients[0].suite, groupID: [9], creator: try clients[0].bundle(),
                                          extensions: [Extension(extensionType: .externalSenders, extensionData: w.bytes)])
        let clerk = try clients[1].bundle()
        let out = try creator.commit(CommitOptions(proposals: [.add(clerk.keyPackage)]))
        try creator.merge(out.pending)
        var joined = try MLSGroup.join(welcome: try #require(out.welcome), keyPackage: clerk)
        // Proposals from external senders are refused unless the application opts in.
        creator.configuration.rules = DefaultGroupRules(acceptsExternalSenderProposals: true)
        joined.configuration.rules = DefaultGroupRules(acceptsExternalSenderProposals: true)
        let message = try MLSGroup.externalProposal(.remove(LeafIndex(1)), groupContext: creator.context, senderIndex: 0, signer: try InMemorySigner(scheme: .ed25519, privateKey: ds.privateKey))
        _ = try creator.process(message)
        _ = try joined.process(message)
        let commit = try creator.commit()
        try creator.merge(commit.pending)
        #expect(try joined.process(commit.commit).content.commit?.removedSelf == true)
        #expect(creator.members == [LeafIndex(0)])
        // An external sender that is not listed is refused.
        let stranger = CipherSuite(id: 1)!.signature.generateKeyPair()
        let forged = try MLSGroup.externalProposal(.remove(LeafIndex(0)), groupContext: creator.context, senderIndex: 0, signer: try InMemorySigner(scheme: .ed25519, privateKey: stranger.privateKey))
        #expect(throws: GroupError.framing(.invalidSignature)) { try creator.process(forged) }
    }

    @Test func newMemberAsksToJoin() throws {
        var members = try group(["authority"])
        let citizen = try Client("citizen").bundle()
        let request = try MLSGroup.joinProposal(citizen, groupContext: members[0].context)
        members[0].configuration.rules = DefaultGroupRules(acceptsNewMemberProposals: true)
        #expect(try members[0].process(request).content == .proposal(.add(citizen.keyPackage)))
        let out = try members[0].commit()
        try members[0].merge(out.pending)
        let joined = try MLSGroup.join(welcome: try #require(out.welcome), keyPackage: citizen)
        expectAgreement([members[0], joined])
    }
}
