import Foundation
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLS
@testable import MLSVectors

/// Welcome cryptography (RFC 9420 §12.4.3.1): round trips for several recipients, every typed
/// rejection, the official `welcome.json`, generated vectors, and the `parallelMap` helper the
/// sender side relies on.
@Suite struct WelcomeTests {
    /// A group epoch and a Welcome for three joiners, built only with this library.
    struct Fixture {
        let suite: CipherSuite
        let joiners: [WelcomeVectors.Joiner]
        let signer: (privateKey: SecretBytes, publicKey: [UInt8])
        let context: GroupContext
        let joinerSecret: SecretBytes
        let epoch: KeyScheduleEpoch
        let groupInfo: GroupInfo
        let welcome: Welcome

        init(_ id: UInt16, joinerCount: Int = 3, groupInfo customize: ((inout GroupInfo) -> Void)? = nil) throws {
            let suite = CipherSuite(id: id)!
            self.suite = suite
            joiners = try (0..<joinerCount).map { try WelcomeVectors.joiner(suite: suite, name: "joiner\($0)") }
            signer = suite.signature.generateKeyPair()
            context = WelcomeVectors.randomGroupContext(suite: suite, epoch: 5)
            joinerSecret = SecretBytes(randomCount: suite.kdfLength)
            epoch = try KeyScheduleEpoch.derive(suite: suite, joinerSecret: joinerSecret, pskSecret: nil, groupContext: context.tlsSerialized)
            var info = try WelcomeCrypto.signedGroupInfo(suite: suite, groupContext: context, extensions: [], epoch: epoch,
                                                         signerLeaf: 2, signer: try InMemorySigner(scheme: suite.signature, privateKey: signer.privateKey))
            if let customize {
                customize(&info)
                try info.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: signer.privateKey))
            }
            groupInfo = info
            let recipients = Self.recipients(joiners, joinerSecret: joinerSecret)
            if customize == nil {
                welcome = try WelcomeCrypto.makeWelcome(suite: suite, groupInfo: info, welcomeSecret: epoch.welcomeSecret, recipients: recipients)
            } else {
                // Assembled from the parts: makeWelcome itself refuses some of the GroupInfos tests forge.
                let encrypted = try WelcomeCrypto.encryptGroupInfo(suite: suite, groupInfo: info, welcomeSecret: epoch.welcomeSecret)
                let secrets = try WelcomeCrypto.encryptGroupSecrets(suite: suite, recipients: recipients, encryptedGroupInfo: encrypted)
                welcome = Welcome(cipherSuite: suite.id, secrets: secrets, encryptedGroupInfo: encrypted)
            }
        }

        /// GroupSecrets for each joiner; the i-th gets a path secret of byte value i, the last none.
        static func recipients(_ joiners: [WelcomeVectors.Joiner], joinerSecret: SecretBytes,
                               psks: [PreSharedKeyID] = []) -> [(keyPackage: KeyPackage, secrets: GroupSecrets)] {
            joiners.enumerated().map { i, j in
                let path = i == joiners.count - 1 ? nil : PathSecret(pathSecret: [UInt8](repeating: UInt8(i), count: 32))
                return (j.keyPackage, GroupSecrets(joinerSecret: joinerSecret.unsafeCopiedBytes(), pathSecret: path, psks: psks))
            }
        }

        func open(_ welcome: Welcome? = nil, joiner: Int = 0, initKey: SecretBytes? = nil, signerKey: [UInt8]? = nil) throws(WelcomeError) -> OpenedWelcome {
            try WelcomeCrypto.open(welcome ?? self.welcome, keyPackage: joiners[joiner].keyPackage,
                                   initPrivateKey: initKey ?? joiners[joiner].initPrivateKey, signerPublicKey: signerKey ?? signer.publicKey)
        }
    }

    // MARK: Round trips

    @Test(arguments: [UInt16(1), 2])
    func welcomeOpensForEveryRecipient(_ id: UInt16) throws {
        let f = try Fixture(id)
        #expect(f.welcome.secrets.count == 3)
        #expect(f.welcome.secrets.map(\.newMember) == f.joiners.map { $0.keyPackage.ref(suite: f.suite) })
        for i in 0..<3 {
            let opened = try f.open(joiner: i)
            #expect(opened.groupInfo == f.groupInfo)
            #expect(opened.groupContext == f.context)
            #expect(opened.groupSecrets.joinerSecret == f.joinerSecret)
            #expect(opened.groupSecrets.pathSecret?.unsafeCopiedBytes() == (i == 2 ? nil : [UInt8](repeating: UInt8(i), count: 32)))
            #expect(opened.groupSecrets.psks.isEmpty)
            #expect(opened.epoch.epochAuthenticator == f.epoch.epochAuthenticator)
            #expect(opened.epoch.encryptionSecret == f.epoch.encryptionSecret)
            #expect(opened.interimTranscriptHash == TranscriptHash.interim(
                suite: f.suite, confirmed: f.context.confirmedTranscriptHash, confirmationTag: f.groupInfo.confirmationTag))
        }
        // The Welcome survives its wire encoding inside an MLSMessage.
        let wire = MLSMessage(body: .welcome(f.welcome)).tlsSerialized
        guard case let .welcome(decoded) = try MLSMessage(tlsSerialized: wire).body else { Issue.record("not a Welcome"); return }
        #expect(try f.open(decoded, joiner: 1).groupInfo == f.groupInfo)
    }

    @Test func manyRecipientsSealInParallelAndInOrder() throws {
        // Enough recipients that encryptGroupSecrets takes parallelMap's concurrent path.
        let f = try Fixture(1, joinerCount: 40)
        #expect(f.welcome.secrets.map(\.newMember) == f.joiners.map { $0.keyPackage.ref(suite: f.suite) })
        for i in [0, 7, 19, 38, 39] {
            let opened = try f.open(joiner: i)
            #expect(opened.groupSecrets.pathSecret?.unsafeCopiedBytes() == (i == 39 ? nil : [UInt8](repeating: UInt8(i), count: 32)))
        }
    }

    @Test func welcomeKeyAndNonceHaveAEADLengths() throws {
        for suite in CipherSuite.all {
            let secret = SecretBytes(randomCount: suite.kdfLength)
            #expect(try WelcomeCrypto.welcomeKey(suite: suite, welcomeSecret: secret).count == suite.aead.keyLength)
            #expect(try WelcomeCrypto.welcomeNonce(suite: suite, welcomeSecret: secret).count == suite.aead.nonceLength)
        }
    }

    @Test func pskSecretIsRequiredAndUsed() throws {
        let suite = CipherSuite(id: 1)!
        let joiner = try WelcomeVectors.joiner(suite: suite)
        let signer = suite.signature.generateKeyPair()
        let psk = PreSharedKeyID(psk: .external(pskID: [1, 2, 3]), pskNonce: SystemRandom.bytes(32))
        let pskSecret = try PSKSecret.compute(suite: suite, psks: [(psk, SecretBytes(randomCount: 32))])
        let context = WelcomeVectors.randomGroupContext(suite: suite)
        let joinerSecret = SecretBytes(randomCount: 32)
        let epoch = try KeyScheduleEpoch.derive(suite: suite, joinerSecret: joinerSecret, pskSecret: pskSecret, groupContext: context.tlsSerialized)
        let info = try WelcomeCrypto.signedGroupInfo(suite: suite, groupContext: context, extensions: [], epoch: epoch, signerLeaf: 0,
                                                     signer: try InMemorySigner(scheme: suite.signature, privateKey: signer.privateKey))
        let welcome = try WelcomeCrypto.makeWelcome(suite: suite, groupInfo: info, welcomeSecret: epoch.welcomeSecret,
                                                    recipients: Fixture.recipients([joiner], joinerSecret: joinerSecret, psks: [psk]))
        func open(_ secret: SecretBytes?) throws(WelcomeError) -> OpenedWelcome {
            try WelcomeCrypto.open(welcome, keyPackage: joiner.keyPackage, initPrivateKey: joiner.initPrivateKey,
                                   signerPublicKey: signer.publicKey, pskSecret: secret)
        }
        #expect(throws: WelcomeError.missingPSK) { try open(nil) }
        // A wrong PSK secret yields a different welcome secret, so the GroupInfo does not open.
        #expect(throws: WelcomeError.groupInfoUndecryptable) { try open(SecretBytes(randomCount: 32)) }
        let opened = try open(pskSecret)
        #expect(opened.groupSecrets.psks == [psk])
        #expect(opened.epoch.confirmationKey == epoch.confirmationKey)
    }

    // MARK: Rejections

    @Test(arguments: [UInt16(1), 2])
    func keyPackageNotInWelcome(_ id: UInt16) throws {
        let f = try Fixture(id)
        let stranger = try WelcomeVectors.joiner(suite: f.suite, name: "stranger")
        #expect(throws: WelcomeError.noSecretsForKeyPackage) {
            try WelcomeCrypto.open(f.welcome, keyPackage: stranger.keyPackage, initPrivateKey: stranger.initPrivateKey,
                                   signerPublicKey: f.signer.publicKey)
        }
    }

    @Test(arguments: [UInt16(1), 2])
    func wrongInitPrivateKey(_ id: UInt16) throws {
        let f = try Fixture(id)
        // Another joiner's valid key, and bytes that are not a valid key at all.
        #expect(throws: WelcomeError.groupSecretsUndecryptable) { try f.open(joiner: 0, initKey: f.joiners[1].initPrivateKey) }
        #expect(throws: WelcomeError.groupSecretsUndecryptable) { try f.open(joiner: 0, initKey: SecretBytes([1, 2, 3])) }
        #expect(throws: WelcomeError.groupSecretsUndecryptable) { try f.open(joiner: 0, initKey: SecretBytes(zeros: 0)) }
    }

    @Test(arguments: [UInt16(1), 2])
    func flippedEncryptedGroupInfoByte(_ id: UInt16) throws {
        let f = try Fixture(id)
        for position in [0, f.welcome.encryptedGroupInfo.count / 2, f.welcome.encryptedGroupInfo.count - 1] {
            var tampered = f.welcome
            tampered.encryptedGroupInfo[position] ^= 0x01
            // encrypted_group_info is the HPKE context of every member's GroupSecrets, so tampering
            // already breaks that binding before the GroupInfo AEAD is even tried.
            #expect(throws: WelcomeError.groupSecretsUndecryptable) { try f.open(tampered) }

            // A sender that seals GroupSecrets over the tampered bytes gets past that check; then
            // the GroupInfo AEAD must reject the modification.
            let resealed = try WelcomeCrypto.encryptGroupSecrets(
                suite: f.suite, recipients: Fixture.recipients(f.joiners, joinerSecret: f.joinerSecret),
                encryptedGroupInfo: tampered.encryptedGroupInfo)
            tampered.secrets = resealed
            #expect(throws: WelcomeError.groupInfoUndecryptable) { try f.open(tampered) }
        }
        // Truncated below the AEAD tag length, and empty.
        for short in [[UInt8](f.welcome.encryptedGroupInfo.prefix(5)), []] {
            let welcome = Welcome(cipherSuite: f.suite.id, secrets: try WelcomeCrypto.encryptGroupSecrets(
                suite: f.suite, recipients: Fixture.recipients(f.joiners, joinerSecret: f.joinerSecret), encryptedGroupInfo: short),
                encryptedGroupInfo: short)
            #expect(throws: WelcomeError.groupInfoUndecryptable) { try f.open(welcome) }
        }
    }

    @Test(arguments: [UInt16(1), 2])
    func flippedGroupSecretsByte(_ id: UInt16) throws {
        let f = try Fixture(id)
        var tampered = f.welcome
        tampered.secrets[0].encryptedGroupSecrets.ciphertext[3] ^= 0x80
        #expect(throws: WelcomeError.groupSecretsUndecryptable) { try f.open(tampered) }
        tampered = f.welcome
        tampered.secrets[0].encryptedGroupSecrets.kemOutput[1] ^= 0x80
        #expect(throws: WelcomeError.groupSecretsUndecryptable) { try f.open(tampered) }
        // Other members' entries are untouched.
        #expect(try f.open(tampered, joiner: 1).groupInfo == f.groupInfo)
    }

    @Test(arguments: [UInt16(1), 2])
    func wrongSignerKey(_ id: UInt16) throws {
        let f = try Fixture(id)
        let other = f.suite.signature.generateKeyPair().publicKey
        #expect(throws: WelcomeError.invalidGroupInfoSignature) { try f.open(signerKey: other) }
        #expect(throws: WelcomeError.invalidGroupInfoSignature) { try f.open(signerKey: [0x04, 1, 2]) }
        // A blank signer leaf (no key) is rejected the same way.
        #expect(throws: WelcomeError.invalidGroupInfoSignature) {
            try WelcomeCrypto.open(f.welcome, keyPackage: f.joiners[0].keyPackage, initPrivateKey: f.joiners[0].initPrivateKey,
                                   resolvePSKs: { _ in nil }, signerPublicKey: { _ in nil })
        }
    }

    @Test(arguments: [UInt16(1), 2])
    func wrongConfirmationTag(_ id: UInt16) throws {
        // Signed correctly after the tag was altered: only the confirmation tag check can catch it.
        let flipped = try Fixture(id) { $0.confirmationTag[0] ^= 0x01 }
        #expect(throws: WelcomeError.invalidConfirmationTag) { try flipped.open() }
        let short = try Fixture(id) { $0.confirmationTag.removeLast() }
        #expect(throws: WelcomeError.invalidConfirmationTag) { try short.open() }
        // A GroupContext other than the one the tag was computed for changes the epoch secrets.
        let context = try Fixture(id) { $0.groupContext.epoch += 1 }
        #expect(throws: WelcomeError.invalidConfirmationTag) { try context.open() }
    }

    @Test(arguments: [UInt16(1), 2])
    func groupInfoWithAnotherSuite(_ id: UInt16) throws {
        let f = try Fixture(id) { $0.groupContext.cipherSuite = id == 1 ? 2 : 1 }
        #expect(throws: WelcomeError.cipherSuiteMismatch) { try f.open() }
    }

    @Test func keyPackageOrWelcomeWithAnotherSuite() throws {
        let f = try Fixture(1)
        var other = f.welcome
        other.cipherSuite = 3  // same algorithms' hash, different code point
        #expect(throws: WelcomeError.cipherSuiteMismatch) { try f.open(other) }
        other.cipherSuite = 0xfafa
        #expect(throws: WelcomeError.unsupportedCipherSuite(0xfafa)) { try f.open(other) }
        // The sender refuses to seal to a KeyPackage of another suite.
        let foreign = try WelcomeVectors.joiner(suite: CipherSuite(id: 2)!)
        #expect(throws: WelcomeError.cipherSuiteMismatch) {
            try WelcomeCrypto.encryptGroupSecrets(suite: f.suite, recipients: Fixture.recipients([foreign], joinerSecret: f.joinerSecret),
                                                  encryptedGroupInfo: f.welcome.encryptedGroupInfo)
        }
    }

    @Test func malformedGroupSecretsAreTyped() throws {
        let f = try Fixture(1, joinerCount: 1)
        let kp = f.joiners[0].keyPackage
        func welcome(sealing plaintext: [UInt8]) throws -> Welcome {
            let sealed = try f.suite.encryptWithLabel(publicKey: kp.initKey, label: "Welcome", context: f.welcome.encryptedGroupInfo, plaintext: plaintext)
            return Welcome(cipherSuite: 1, secrets: [EncryptedGroupSecrets(newMember: kp.ref(suite: f.suite), encryptedGroupSecrets: sealed)],
                           encryptedGroupInfo: f.welcome.encryptedGroupInfo)
        }
        let good = GroupSecrets(joinerSecret: f.joinerSecret.unsafeCopiedBytes(), pathSecret: nil, psks: [])
        func expectMalformed(_ plaintext: [UInt8]) throws {
            let w = try welcome(sealing: plaintext)
            let error = #expect(throws: WelcomeError.self) { try f.open(w) }
            guard case .malformedGroupSecrets = error else { Issue.record("expected malformedGroupSecrets, got \(String(describing: error))"); return }
        }
        try expectMalformed(good.tlsSerialized + [0])  // trailing byte
        try expectMalformed(Array(good.tlsSerialized.dropLast()))  // truncated
        try expectMalformed([])
        try expectMalformed(GroupSecrets(joinerSecret: [1, 2, 3], pathSecret: nil, psks: []).tlsSerialized)  // not KDF.Nh bytes
        let reinit = PreSharedKeyID(psk: .resumption(usage: .reinit, pskGroupID: [1], pskEpoch: 1), pskNonce: [UInt8](repeating: 0, count: 32))
        let branch = PreSharedKeyID(psk: .resumption(usage: .branch, pskGroupID: [2], pskEpoch: 1), pskNonce: [UInt8](repeating: 0, count: 32))
        try expectMalformed(GroupSecrets(joinerSecret: good.joinerSecret, pathSecret: nil, psks: [reinit, branch]).tlsSerialized)
        // The well-formed plaintext sealed the same way opens.
        #expect(try f.open(try welcome(sealing: good.tlsSerialized)).groupInfo == f.groupInfo)
    }

    @Test func malformedGroupInfoIsTyped() throws {
        let f = try Fixture(1, joinerCount: 1)
        var garbage = f.groupInfo.tlsSerialized
        garbage.append(0)  // trailing byte after a valid GroupInfo
        let key = try WelcomeCrypto.welcomeKey(suite: f.suite, welcomeSecret: f.epoch.welcomeSecret)
        let nonce = try WelcomeCrypto.welcomeNonce(suite: f.suite, welcomeSecret: f.epoch.welcomeSecret)
        let encrypted = try f.suite.aead.seal(key: key, nonce: nonce, aad: [], plaintext: garbage)
        let welcome = Welcome(cipherSuite: 1, secrets: try WelcomeCrypto.encryptGroupSecrets(
            suite: f.suite, recipients: Fixture.recipients(f.joiners, joinerSecret: f.joinerSecret), encryptedGroupInfo: encrypted),
            encryptedGroupInfo: encrypted)
        let error = #expect(throws: WelcomeError.self) { try f.open(welcome) }
        guard case .malformedGroupInfo = error else { Issue.record("expected malformedGroupInfo, got \(String(describing: error))"); return }
    }

    // MARK: Vectors

    @Test(.officialVectors) func officialWelcomeVectors() throws {
        let data = try OfficialVectorTests.file("welcome")
        let tally = try WelcomeVectors.verify(data)
        for note in tally.notes { Issue.record("\(note)") }
        #expect(tally.passed == 7)
        #expect(tally.failed == 0)
        #expect(tally.skipped == 0)
    }

    @Test func generatedWelcomeVectorsVerify() throws {
        let data = try WelcomeVectors.generate()
        let tally = try WelcomeVectors.verify(data)
        for note in tally.notes { Issue.record("\(note)") }
        #expect(tally.passed == CipherSuite.all.count && tally.failed == 0 && tally.skipped == 0)
    }

    @Test func corruptedWelcomeVectorFails() throws {
        // Swap the signer key of one generated case for another: the runner must notice.
        var cases = try JSONDecoder().decode([WelcomeVectors.Case].self, from: try WelcomeVectors.generate())
        cases[0].signer_pub = HexBytes(CipherSuite(id: cases[0].cipher_suite)!.signature.generateKeyPair().publicKey)
        let tally = try WelcomeVectors.verify(try OfficialVectors.encode(cases))
        #expect(tally.failed == 1 && tally.passed == CipherSuite.all.count - 1)
    }

    // MARK: parallelMap

    struct Failure: Error, Equatable { let index: Int }

    @Test(arguments: [0, 1, 2, 15, 16, 17, 63, 64, 100, 257, 1000, 4099])
    func parallelMapEqualsMap(_ count: Int) {
        let items = Array(0..<count)
        let transform: @Sendable (Int) -> [UInt8] = { i in Array("item \(i) \(i &* 2_654_435_761)".utf8) }
        #expect(parallelMap(items, transform) == items.map(transform))
        #expect(parallelMap(items, minimumBatch: 1, transform) == items.map(transform))
        #expect(parallelMap(items, minimumBatch: 0, transform) == items.map(transform))
        #expect(parallelMap(items, minimumBatch: 1000, transform) == items.map(transform))
    }

    @Test func parallelMapKeepsNonTrivialValues() {
        // Reference-counted results must be initialised exactly once per slot.
        let items = (0..<777).map { "s\($0)" }
        let out = parallelMap(items, minimumBatch: 2) { [$0, $0 + "!"] }
        #expect(out == items.map { [$0, $0 + "!"] })
    }

    @Test(arguments: [17, 100, 1000])
    func parallelMapThrowsTheLowestIndexError(_ count: Int) {
        // Several failing indices spread over different chunks; the first must always win.
        let failing: Set<Int> = [count / 3, count / 2, count - 1, count * 2 / 3]
        for _ in 0..<20 {
            #expect(throws: Failure(index: count / 3)) {
                try parallelMap(Array(0..<count), minimumBatch: 1) { (i: Int) throws(Failure) -> String in
                    if failing.contains(i) { throw Failure(index: i) }
                    return String(i)
                }
            }
        }
        // Only the last item fails.
        #expect(throws: Failure(index: count - 1)) {
            try parallelMap(Array(0..<count), minimumBatch: 1) { (i: Int) throws(Failure) -> Int in
                if i == count - 1 { throw Failure(index: i) }
                return i
            }
        }
    }

    @Test func parallelismReportsCores() {
        #expect(Parallelism.cores >= 1)
        #expect(Parallelism.cores == max(1, ProcessInfo.processInfo.activeProcessorCount))
    }
}
