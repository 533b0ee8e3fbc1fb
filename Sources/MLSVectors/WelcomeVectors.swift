import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `welcome.json`: joining via a Welcome (RFC 9420 §12.4.3.1). Each case gives a KeyPackage, its
/// init private key, a Welcome that includes it, and the GroupInfo signer's package key; the
/// verifier decrypts the Welcome, checks the GroupInfo signature and recomputes the confirmation
/// tag from a key schedule started at the decrypted joiner secret with no PSKs.
enum WelcomeVectors {
    struct Case: Codable {
        var cipher_suite: UInt16
        var init_priv: HexBytes
        var signer_pub: HexBytes
        var key_package: HexBytes
        var welcome: HexBytes
    }

    static let kind = VectorFileKind(name: "welcome", verify: verify, generate: generate)

    static func verify(_ data: Data) throws -> VectorTally {
        var tally = VectorTally()
        for (i, c) in try OfficialVectors.cases(Case.self, from: data).enumerated() {
            tally.run("case \(i) (suite \(c.cipher_suite))") {
                let suite = try CryptoBasicsVectors.suite(c.cipher_suite)
                guard case let .keyPackage(keyPackage) = try MLSMessage(tlsSerialized: c.key_package.bytes).body else {
                    throw VectorCheckFailure("key_package is not an MLSMessage(KeyPackage)")
                }
                guard case let .welcome(welcome) = try MLSMessage(tlsSerialized: c.welcome.bytes).body else {
                    throw VectorCheckFailure("welcome is not an MLSMessage(Welcome)")
                }
                try check("welcome cipher_suite", welcome.cipherSuite, suite.id)
                // open() performs every step of the format's verification: find our entry, decrypt
                // GroupSecrets and GroupInfo, verify the signature under signer_pub, and check the
                // confirmation tag from a key schedule with the joiner secret and no PSKs.
                let opened = try WelcomeCrypto.open(welcome, keyPackage: keyPackage, initPrivateKey: SecretBytes(c.init_priv.bytes),
                                                    signerPublicKey: c.signer_pub.bytes, pskSecret: nil)
                try check("GroupSecrets name no PSKs", opened.groupSecrets.psks.isEmpty)
            }
        }
        return tally
    }

    // MARK: Generation

    /// A KeyPackage built and signed by this library with fresh keys, with its init private key.
    struct Joiner {
        var keyPackage: KeyPackage
        var initPrivateKey: SecretBytes
        var signer: any MLSSigner
    }

    /// A fresh, validly signed KeyPackage for `suite` (RFC 9420 §10).
    static func joiner(suite: CipherSuite, name: String = "joiner") throws -> Joiner {
        let (signaturePrivate, signaturePublic) = suite.signature.generateKeyPair()
        let initKey = suite.hpke.generateKeyPair()
        let now = UInt64(Date().timeIntervalSince1970)
        var leaf = LeafNode(
            encryptionKey: suite.hpke.generateKeyPair().publicKey, signatureKey: signaturePublic,
            credential: .basic(identity: Array("\(name)-".utf8) + SystemRandom.bytes(4)),
            capabilities: Capabilities(versions: [.mls10], cipherSuites: [suite.id], extensions: [], proposals: [], credentials: [.basic]),
            leafNodeSource: .keyPackage(Lifetime(notBefore: now - 3600, notAfter: now + 90 * 86400)),
            extensions: [], signature: [])
        try leaf.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: signaturePrivate))
        var keyPackage = KeyPackage(cipherSuite: suite.id, initKey: initKey.publicKey, leafNode: leaf, extensions: [], signature: [])
        try keyPackage.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: signaturePrivate))
        return Joiner(keyPackage: keyPackage, initPrivateKey: initKey.privateKey, signer: try InMemorySigner(scheme: suite.signature, privateKey: signaturePrivate))
    }

    /// A random but well-formed GroupContext of `suite` (hash-length tree and transcript hashes).
    static func randomGroupContext(suite: CipherSuite, epoch: UInt64 = 1 + UInt64(SystemRandom.bytes(1)[0])) -> GroupContext {
        GroupContext(cipherSuite: suite.id, groupID: SystemRandom.bytes(16), epoch: epoch,
                     treeHash: SystemRandom.bytes(suite.kdfLength), confirmedTranscriptHash: SystemRandom.bytes(suite.kdfLength),
                     extensions: [])
    }

    /// One generated case: a Welcome for our joiner and two other KeyPackages (so the verifier
    /// must pick its own entry), whose GroupInfo carries the confirmation tag of a real key
    /// schedule and the signature of a fresh signer.
    static func makeCase(suite: CipherSuite) throws -> Case {
        let me = try joiner(suite: suite)
        let others = try (0..<2).map { try joiner(suite: suite, name: "other\($0)") }
        let signer = suite.signature.generateKeyPair()

        let context = randomGroupContext(suite: suite)
        let joinerSecret = SecretBytes(randomCount: suite.kdfLength)
        let epoch = try KeyScheduleEpoch.derive(suite: suite, joinerSecret: joinerSecret, pskSecret: nil, groupContext: context.tlsSerialized)
        let groupInfo = try WelcomeCrypto.signedGroupInfo(suite: suite, groupContext: context, extensions: [], epoch: epoch,
                                                          signerLeaf: 0, signer: try InMemorySigner(scheme: suite.signature, privateKey: signer.privateKey))
        // Path secrets are optional; include one for some recipients so both encodings occur.
        func secrets(pathSecret: Bool) -> GroupSecrets {
            GroupSecrets(joinerSecret: joinerSecret.unsafeCopiedBytes(),
                         pathSecret: pathSecret ? PathSecret(pathSecret: SystemRandom.bytes(suite.kdfLength)) : nil, psks: [])
        }
        let recipients = [(others[0].keyPackage, secrets(pathSecret: true)), (me.keyPackage, secrets(pathSecret: suite.id % 2 == 0)),
                          (others[1].keyPackage, secrets(pathSecret: false))].map { (keyPackage: $0.0, secrets: $0.1) }
        let welcome = try WelcomeCrypto.makeWelcome(suite: suite, groupInfo: groupInfo, welcomeSecret: epoch.welcomeSecret, recipients: recipients)
        return Case(cipher_suite: suite.id, init_priv: HexBytes(me.initPrivateKey.unsafeCopiedBytes()), signer_pub: HexBytes(signer.publicKey),
                    key_package: HexBytes(MLSMessage(body: .keyPackage(me.keyPackage)).tlsSerialized),
                    welcome: HexBytes(MLSMessage(body: .welcome(welcome)).tlsSerialized))
    }

    static func generate() throws -> Data {
        try OfficialVectors.encode(CipherSuite.all.map(makeCase))
    }
}
