import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// The passive-client files (`passive-client-welcome`, `-handling-commit`, `-random`): join by
/// Welcome and follow the group's commits, checking every epoch authenticator (RFC 9420
/// §12.4.2, §12.4.3.1, §8.7).
enum PassiveClientVectors {
    struct ExternalPSK: Codable { var psk_id: HexBytes; var psk: HexBytes }
    struct Epoch: Codable { var proposals: [HexBytes]; var commit: HexBytes; var epoch_authenticator: HexBytes }
    struct Case: Codable {
        var cipher_suite: UInt16
        var external_psks: [ExternalPSK]
        var key_package: HexBytes
        var signature_priv: HexBytes
        var encryption_priv: HexBytes
        var init_priv: HexBytes
        var welcome: HexBytes
        var ratchet_tree: HexBytes?
        var initial_epoch_authenticator: HexBytes
        var epochs: [Epoch]

        /// As the official files write it: `ratchet_tree` is `null`, not absent, when the tree
        /// is in the Welcome.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(cipher_suite, forKey: .cipher_suite)
            try c.encode(external_psks, forKey: .external_psks)
            try c.encode(key_package, forKey: .key_package)
            try c.encode(signature_priv, forKey: .signature_priv)
            try c.encode(encryption_priv, forKey: .encryption_priv)
            try c.encode(init_priv, forKey: .init_priv)
            try c.encode(welcome, forKey: .welcome)
            try c.encode(ratchet_tree, forKey: .ratchet_tree)
            try c.encode(initial_epoch_authenticator, forKey: .initial_epoch_authenticator)
            try c.encode(epochs, forKey: .epochs)
        }
    }

    static func kind(_ name: String, generate: @escaping @Sendable () throws -> Data) -> VectorFileKind {
        VectorFileKind(name: name, verify: verify, generate: generate)
    }

    // The generators are in PassiveClientGenerator.swift.
    static let welcomeKind = kind("passive-client-welcome", generate: welcomeGenerator)
    static let handlingCommitKind = kind("passive-client-handling-commit", generate: handlingCommitGenerator)
    static let randomKind = kind("passive-client-random", generate: randomGenerator)

    static func run(_ c: Case) throws {
        let s = try CryptoBasicsVectors.suite(c.cipher_suite)
        guard case let .keyPackage(kp) = try MLSMessage(tlsSerialized: c.key_package.bytes).body else {
            throw VectorCheckFailure("key_package is not an MLSMessage(KeyPackage)")
        }
        // The private keys must belong to the KeyPackage.
        try check("signature_priv matches", try s.signature.publicKey(for: SecretBytes(c.signature_priv.bytes)), kp.leafNode.signatureKey)
        try check("encryption_priv matches", try s.hpke.publicKey(for: SecretBytes(c.encryption_priv.bytes)), kp.leafNode.encryptionKey)
        try check("init_priv matches", try s.hpke.publicKey(for: SecretBytes(c.init_priv.bytes)), kp.initKey)
        var config = GroupConfiguration()
        config.psks = InMemoryPSKStore(external: Dictionary(uniqueKeysWithValues: c.external_psks.map { ($0.psk_id.bytes, SecretBytes($0.psk.bytes)) }))
        // Recorded long ago: lifetimes are not checked against today's clock.
        config.currentTime = { nil }
        let bundle = KeyPackageBundle(keyPackage: kp, initPrivateKey: SecretBytes(c.init_priv.bytes),
                                      encryptionPrivateKey: SecretBytes(c.encryption_priv.bytes), signer: try InMemorySigner(scheme: s.signature, privateKey: SecretBytes(c.signature_priv.bytes)))
        var group = try MLSGroup.join(welcome: try MLSMessage(tlsSerialized: c.welcome.bytes), keyPackage: bundle,
                                      ratchetTree: try c.ratchet_tree.map { try RatchetTreeNodes(tlsSerialized: $0.bytes) }, configuration: config)
        try check("initial epoch_authenticator", group.epochAuthenticator, c.initial_epoch_authenticator.bytes)
        for (i, e) in c.epochs.enumerated() {
            for p in e.proposals {
                do { _ = try group.process(try MLSMessage(tlsSerialized: p.bytes)) } catch { throw VectorCheckFailure("epoch \(i): proposal: \(error)") }
            }
            do { _ = try group.process(try MLSMessage(tlsSerialized: e.commit.bytes)) } catch { throw VectorCheckFailure("epoch \(i): commit: \(error)") }
            try check("epoch \(i) epoch_authenticator", group.epochAuthenticator, e.epoch_authenticator.bytes)
        }
    }

    static func verify(_ data: Data) throws -> VectorTally {
        var tally = VectorTally()
        for (i, c) in try OfficialVectors.cases(Case.self, from: data).enumerated() {
            tally.run("case \(i) (suite \(c.cipher_suite), \(c.epochs.count) epochs)") { try run(c) }
        }
        return tally
    }
}
