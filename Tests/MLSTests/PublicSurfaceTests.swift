// Plain import only: these tests use what an application sees, without `@_spi(Engine)`, so they
// also show that the public surface suffices for the wire and for outsiders.
import MLS
import Testing

/// The wire types an application exchanges round-trip through `serialized`, malformed or
/// oversized bytes throw typed ``GroupError``s, and an outsider names a group by its GroupInfo.
struct PublicSurfaceTests {
    static let suite = CipherSuite.mls128X25519AES128GCMSHA256Ed25519

    @Test func wireTypesRoundTripThroughBytes() throws {
        var configuration = GroupConfiguration()
        configuration.ratchetTreeInWelcome = false
        let authority = MLSClient.basic(identity: Array("authority".utf8), suite: Self.suite, configuration: configuration)
        let clerk = MLSClient.basic(identity: Array("clerk".utf8), suite: Self.suite, configuration: configuration)
        var group = try authority.createGroup()
        let bundle = try clerk.makeKeyPackage()

        let keyPackage = try KeyPackage(serialized: bundle.keyPackage.serialized)
        #expect(keyPackage == bundle.keyPackage)
        #expect(keyPackage.credential == clerk.credential)

        let out = try group.commit(CommitOptions(proposals: [.add(keyPackage)]))
        let commit = try MLSMessage(serialized: out.commit.serialized)
        #expect(commit == out.commit)
        // A backend routes bytes by what they are and, for group messages, by group and epoch.
        #expect(commit.routing?.groupID == group.groupID && commit.routing?.epoch == group.epoch)
        #expect(!commit.isWelcome && !commit.isGroupInfo && commit.keyPackage == nil)
        let welcomeMessage = try #require(out.welcome)
        #expect(welcomeMessage.isWelcome && welcomeMessage.routing == nil)
        #expect(try group.groupInfo().isGroupInfo)
        _ = try group.process(commit, pending: out.pending)

        // The tree travels out of band, as bytes, and joins the clerk.
        let tree = try RatchetTreeNodes(serialized: group.exportedTree.serialized)
        #expect(tree == group.exportedTree)
        let welcome = try MLSMessage(serialized: try #require(out.welcome).serialized)
        let joined = try clerk.join(welcome: welcome, keyPackage: bundle, ratchetTree: tree)
        #expect(joined.epochAuthenticator == group.epochAuthenticator)
    }

    @Test func malformedAndOversizedBytesThrowTypedErrors() throws {
        for bytes: [UInt8] in [[], [0x00, 0x01], [0x00, 0x01, 0x00, 0x09]] {
            #expect(isDecodingError { () throws(GroupError) in _ = try MLSMessage(serialized: bytes) })
            #expect(isDecodingError { () throws(GroupError) in _ = try KeyPackage(serialized: bytes) })
        }
        var limits = MLSLimits()
        limits.maxMessageBytes = 4
        #expect(throws: GroupError.limitExceeded(.messageBytes)) {
            try MLSMessage(serialized: [UInt8](repeating: 0, count: 5), limits: limits)
        }

        // A two-member tree has three nodes; a one-leaf limit refuses it before building them.
        var group = try MLSClient.basic(identity: Array("authority".utf8), suite: Self.suite).createGroup()
        let clerk = try MLSClient.basic(identity: Array("clerk".utf8), suite: Self.suite).makeKeyPackage()
        let out = try group.commit(CommitOptions(proposals: [.add(clerk.keyPackage)]))
        _ = try group.process(out.commit, pending: out.pending)
        limits = MLSLimits()
        limits.maxLeaves = 1
        #expect(throws: GroupError.limitExceeded(.leaves)) {
            try RatchetTreeNodes(serialized: group.exportedTree.serialized, limits: limits)
        }
    }

    @Test func outsidersAddressTheGroupByItsGroupInfo() throws {
        // A delivery-service identity listed in `external_senders` (§12.1.8.1).
        let ds = InMemorySigner.generate(.ed25519)
        let sender = ExternalSender(signatureKey: ds.publicKey, credential: .basic(identity: Array("ds".utf8)))
        let externalSenders = Extension(extensionType: .externalSenders, extensionData: ExternalSender.encodeList([sender]))
        let authority = MLSClient.basic(identity: Array("authority".utf8), suite: Self.suite)
        var group = try authority.createGroup(extensions: [externalSenders])
        #expect(group.extensions == [externalSenders])
        group.configuration.rules = DefaultGroupRules(acceptsNewMemberProposals: true, acceptsExternalSenderProposals: true)

        // A citizen asks to join with nothing but the GroupInfo it was given.
        let citizen = MLSClient.basic(identity: Array("citizen".utf8), suite: Self.suite)
        let bundle = try citizen.makeKeyPackage()
        let request = try MLSGroup.joinProposal(bundle, groupInfo: try group.groupInfo())
        #expect(try group.process(request).content == .proposal(.add(bundle.keyPackage)))
        let out = try group.commit()
        _ = try group.process(out.commit, pending: out.pending)
        let joined = try citizen.join(welcome: try #require(out.welcome), keyPackage: bundle)
        #expect(joined.epochAuthenticator == group.epochAuthenticator)

        // The delivery service proposes the citizen's removal for the current epoch.
        let removal = try MLSGroup.externalProposal(.remove(joined.myLeaf), groupInfo: try group.groupInfo(),
                                                    senderIndex: 0, signer: ds)
        let processed = try group.process(removal)
        #expect(processed.author == .externalSender(index: 0, credential: sender.credential))
        #expect(processed.content == .proposal(.remove(joined.myLeaf)))

        // Only a GroupInfo names a group and epoch.
        #expect(throws: GroupError.unexpectedWireFormat) { try MLSGroup.joinProposal(bundle, groupInfo: out.commit) }
        #expect(throws: GroupError.unexpectedWireFormat) {
            try MLSGroup.externalProposal(.remove(LeafIndex(0)), groupInfo: out.commit, senderIndex: 0, signer: ds)
        }
    }

    /// Whether `body` throws ``GroupError/decoding(_:)``.
    private func isDecodingError(_ body: () throws(GroupError) -> Void) -> Bool {
        do {
            try body()
            return false
        } catch {
            if case .decoding = error { return true }
            return false
        }
    }
}
