@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLS

/// Negative and round-trip tests for RFC 9420 §6 message protection, in suites 1 and 2.
@Suite struct MessageProtectionTests {
    struct Fixture {
        let suite: CipherSuite
        let signer: (privateKey: SecretBytes, publicKey: [UInt8])
        let context: GroupContext
        let membershipKey: SecretBytes
        let senderDataSecret: SecretBytes
        let encryptionSecret: SecretBytes

        init(_ id: UInt16) {
            suite = CipherSuite(id: id)!
            signer = suite.signature.generateKeyPair()
            context = GroupContext(version: .mls10, cipherSuite: id, groupID: [1, 2, 3], epoch: 7, treeHash: [UInt8](repeating: 1, count: 32),
                                   confirmedTranscriptHash: [UInt8](repeating: 2, count: 32), extensions: [])
            membershipKey = SecretBytes(randomCount: suite.kdfLength)
            senderDataSecret = SecretBytes(randomCount: suite.kdfLength)
            encryptionSecret = SecretBytes(randomCount: suite.kdfLength)
        }

        func tree() -> SecretTree { SecretTree(suite: suite, encryptionSecret: encryptionSecret, leafCount: 2) }

        func framed(_ content: MLSContent, epoch: UInt64? = nil) -> FramedContent {
            FramedContent(groupID: context.groupID, epoch: epoch ?? context.epoch, sender: .member(LeafIndex(1)), authenticatedData: [9], content: content)
        }

        var proposal: MLSContent { .proposal(.remove(LeafIndex(0))) }

        func publicMessage() throws -> PublicMessage {
            try MessageProtection.protectPublic(suite: suite, content: framed(proposal), context: context, signer: try InMemorySigner(scheme: suite.signature, privateKey: signer.privateKey),
                                                confirmationTag: nil, membershipKey: membershipKey)
        }

        func unprotect(_ m: PublicMessage, key: [UInt8]? = nil) throws -> AuthenticatedContent {
            try MessageProtection.unprotectPublic(suite: suite, message: m, context: context, membershipKey: membershipKey, verificationKey: key ?? signer.publicKey)
        }

        func privateMessage(_ content: MLSContent, sender tree: inout SecretTree) throws -> PrivateMessage {
            try MessageProtection.protectPrivate(suite: suite, content: framed(content), context: context, signer: try InMemorySigner(scheme: suite.signature, privateKey: signer.privateKey),
                                                 confirmationTag: nil, secretTree: &tree, senderDataSecret: senderDataSecret, paddingLength: 3)
        }

        func open(_ m: PrivateMessage, _ tree: inout SecretTree, key: [UInt8]? = nil) throws -> AuthenticatedContent {
            try MessageProtection.unprotectPrivate(suite: suite, message: m, context: context, secretTree: &tree, senderDataSecret: senderDataSecret,
                                                   verificationKey: { $0 == LeafIndex(1) ? (key ?? signer.publicKey) : nil })
        }
    }

    @Test(arguments: [UInt16(1), 2])
    func publicRoundTrip(_ id: UInt16) throws {
        let f = Fixture(id)
        let m = try f.publicMessage()
        #expect(try f.unprotect(PublicMessage(tlsSerialized: m.tlsSerialized)).content.content == f.proposal)
    }

    @Test(arguments: [UInt16(1), 2])
    func wrongSignatureKey(_ id: UInt16) throws {
        let f = Fixture(id)
        let other = f.suite.signature.generateKeyPair().publicKey
        #expect(throws: FramingError.invalidSignature) { try f.unprotect(try f.publicMessage(), key: other) }
    }

    @Test func tamperedSignature() throws {
        let f = Fixture(1)
        var m = try f.publicMessage()
        m.auth.signature[0] ^= 1
        // The membership tag covers the signature, so the tag check fails first.
        #expect(throws: FramingError.invalidMembershipTag) { try f.unprotect(m) }
    }

    @Test func tamperedMembershipTag() throws {
        let f = Fixture(1)
        var m = try f.publicMessage()
        m.membershipTag![0] ^= 0x80
        #expect(throws: FramingError.invalidMembershipTag) { try f.unprotect(m) }
        m.membershipTag = nil
        #expect(throws: FramingError.membershipTagPresence) { try f.unprotect(m) }
    }

    @Test func wrongEpochAndGroup() throws {
        let f = Fixture(1)
        var m = try f.publicMessage()
        m.content.epoch = 8
        #expect(throws: FramingError.wrongEpoch(8)) { try f.unprotect(m) }
        m.content.epoch = 7
        m.content.groupID = [9]
        #expect(throws: FramingError.wrongGroupID) { try f.unprotect(m) }
    }

    @Test func applicationDataMustBeEncrypted() throws {
        let f = Fixture(1)
        #expect(throws: FramingError.applicationDataInPublicMessage) {
            try MessageProtection.protectPublic(suite: f.suite, content: f.framed(.application([1])), context: f.context,
                                                signer: try InMemorySigner(scheme: f.suite.signature, privateKey: f.signer.privateKey), confirmationTag: nil, membershipKey: f.membershipKey)
        }
    }

    @Test func commitNeedsConfirmationTag() throws {
        let f = Fixture(1)
        #expect(throws: FramingError.confirmationTagPresence) {
            try MessageProtection.protectPublic(suite: f.suite, content: f.framed(.commit(Commit(proposals: [], path: nil))), context: f.context,
                                                signer: try InMemorySigner(scheme: f.suite.signature, privateKey: f.signer.privateKey), confirmationTag: nil, membershipKey: f.membershipKey)
        }
    }

    @Test(arguments: [UInt16(1), 2, 3, 4, 5, 6, 7])
    func privateRoundTripAndReplay(_ id: UInt16) throws {
        let f = Fixture(id)
        var sender = f.tree(), receiver = f.tree()
        let m = try f.privateMessage(.application([1, 2, 3]), sender: &sender)
        let decoded = try PrivateMessage(tlsSerialized: m.tlsSerialized)
        #expect(try f.open(decoded, &receiver).content.content == .application([1, 2, 3]))
        // The key was consumed: the same message again is a replay.
        #expect(throws: FramingError.generationConsumed(0)) { try f.open(decoded, &receiver) }
    }

    @Test func flippedCiphertextBit() throws {
        let f = Fixture(1)
        var sender = f.tree(), receiver = f.tree()
        var m = try f.privateMessage(.application([1]), sender: &sender)
        m.ciphertext[m.ciphertext.count - 1] ^= 1
        // The sender-data key is sampled from the ciphertext, so a flipped bit in the first Nh bytes
        // breaks sender data; the last byte (the tag) breaks the content instead.
        #expect(throws: FramingError.contentUndecryptable) { try f.open(m, &receiver) }
        // A failed attempt does not consume the key: the genuine message still opens.
        m.ciphertext[m.ciphertext.count - 1] ^= 1
        _ = try f.open(m, &receiver)
    }

    @Test func flippedSenderData() throws {
        let f = Fixture(1)
        var sender = f.tree(), receiver = f.tree()
        var m = try f.privateMessage(.application([1]), sender: &sender)
        m.encryptedSenderData[0] ^= 1
        #expect(throws: FramingError.senderDataUndecryptable) { try f.open(m, &receiver) }
    }

    @Test func wrongSignerOnPrivateMessage() throws {
        let f = Fixture(1)
        var sender = f.tree(), receiver = f.tree()
        let m = try f.privateMessage(.proposal(.remove(LeafIndex(0))), sender: &sender)
        #expect(throws: FramingError.invalidSignature) { try f.open(m, &receiver, key: f.suite.signature.generateKeyPair().publicKey) }
    }

    @Test func authenticatedDataIsBound() throws {
        let f = Fixture(1)
        var sender = f.tree(), receiver = f.tree()
        var m = try f.privateMessage(.application([1]), sender: &sender)
        m.authenticatedData = [8]
        #expect(throws: FramingError.contentUndecryptable) { try f.open(m, &receiver) }
    }
}

@Suite struct KeyScheduleTests {
    @Test func epochsChainAndSecretsDiffer() throws {
        let s = CipherSuite(id: 1)!
        let gc = GroupContext(version: .mls10, cipherSuite: 1, groupID: [1], epoch: 0, treeHash: [], confirmedTranscriptHash: [], extensions: []).tlsSerialized
        let e0 = try KeyScheduleEpoch.derive(suite: s, initSecret: SecretBytes(zeros: 32), commitSecret: nil, pskSecret: nil, groupContext: gc)
        let e1 = try KeyScheduleEpoch.derive(suite: s, initSecret: e0.initSecret, commitSecret: nil, pskSecret: nil, groupContext: gc)
        #expect(e0.encryptionSecret != e1.encryptionSecret)
        #expect(e0.membershipKey != e0.confirmationKey)
        // Joining from the joiner secret gives the same epoch as running the full schedule.
        let joined = try KeyScheduleEpoch.derive(suite: s, joinerSecret: e1.joinerSecret, pskSecret: nil, groupContext: gc)
        #expect(joined.epochAuthenticator == e1.epochAuthenticator)
        #expect(try KeyScheduleEpoch.welcomeSecret(suite: s, joinerSecret: e1.joinerSecret, pskSecret: nil) == e1.welcomeSecret)
        // A different GroupContext yields a different epoch.
        var other = gc
        other[other.count - 2] ^= 1
        let e2 = try KeyScheduleEpoch.derive(suite: s, initSecret: e0.initSecret, commitSecret: nil, pskSecret: nil, groupContext: other)
        #expect(e2.epochAuthenticator != e1.epochAuthenticator)
    }

    @Test func secretsAreRedacted() throws {
        let s = CipherSuite(id: 1)!
        let e = try KeyScheduleEpoch.derive(suite: s, initSecret: SecretBytes(zeros: 32), commitSecret: nil, pskSecret: nil, groupContext: [])
        #expect(!"\(e)".contains(e.initSecret.unsafeCopiedBytes().hex))
        #expect("\(e.initSecret)" == "SecretBytes(redacted, 32 bytes)")
    }
}
