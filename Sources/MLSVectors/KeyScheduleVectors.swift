import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `key-schedule.json`: a chain of epochs through the key schedule (RFC 9420 §8).
enum KeyScheduleVectors {
    struct Exporter: Codable { var label: String; var context: HexBytes; var length: Int; var secret: HexBytes }
    struct Epoch: Codable {
        var tree_hash: HexBytes
        var commit_secret: HexBytes
        var psk_secret: HexBytes
        var confirmed_transcript_hash: HexBytes
        var group_context: HexBytes
        var joiner_secret: HexBytes
        var welcome_secret: HexBytes
        var init_secret: HexBytes
        var sender_data_secret: HexBytes
        var encryption_secret: HexBytes
        var exporter_secret: HexBytes
        var epoch_authenticator: HexBytes
        var external_secret: HexBytes
        var confirmation_key: HexBytes
        var membership_key: HexBytes
        var resumption_psk: HexBytes
        var external_pub: HexBytes
        var exporter: Exporter
    }
    struct Case: Codable {
        var cipher_suite: UInt16
        var group_id: HexBytes
        var initial_init_secret: HexBytes
        var epochs: [Epoch]
    }

    static let kind = VectorFileKind(name: "key-schedule", verify: verify, generate: generate)

    static func context(_ s: CipherSuite, groupID: [UInt8], epoch: UInt64, treeHash: [UInt8], cth: [UInt8]) -> GroupContext {
        GroupContext(version: .mls10, cipherSuite: s.id, groupID: groupID, epoch: epoch, treeHash: treeHash, confirmedTranscriptHash: cth, extensions: [])
    }

    static func verify(_ data: Data) throws -> VectorTally {
        var tally = VectorTally()
        for c in try OfficialVectors.cases(Case.self, from: data) {
            tally.run("suite \(c.cipher_suite), \(c.epochs.count) epochs") {
                let s = try CryptoBasicsVectors.suite(c.cipher_suite)
                var initSecret = SecretBytes(c.initial_init_secret.bytes)
                for (n, e) in c.epochs.enumerated() {
                    let gc = context(s, groupID: c.group_id.bytes, epoch: UInt64(n), treeHash: e.tree_hash.bytes, cth: e.confirmed_transcript_hash.bytes)
                    try check("epoch \(n) group_context", gc.tlsSerialized, e.group_context.bytes)
                    let k = try KeyScheduleEpoch.derive(
                        suite: s, initSecret: initSecret, commitSecret: SecretBytes(e.commit_secret.bytes),
                        pskSecret: SecretBytes(e.psk_secret.bytes), groupContext: gc.tlsSerialized)
                    let pairs: [(String, SecretBytes, HexBytes)] = [
                        ("joiner_secret", k.joinerSecret, e.joiner_secret), ("welcome_secret", k.welcomeSecret, e.welcome_secret),
                        ("init_secret", k.initSecret, e.init_secret), ("sender_data_secret", k.senderDataSecret, e.sender_data_secret),
                        ("encryption_secret", k.encryptionSecret, e.encryption_secret), ("exporter_secret", k.exporterSecret, e.exporter_secret),
                        ("epoch_authenticator", k.epochAuthenticator, e.epoch_authenticator), ("external_secret", k.externalSecret, e.external_secret),
                        ("confirmation_key", k.confirmationKey, e.confirmation_key), ("membership_key", k.membershipKey, e.membership_key),
                        ("resumption_psk", k.resumptionPSK, e.resumption_psk),
                    ]
                    for (name, mine, expected) in pairs {
                        try check("epoch \(n) \(name)", mine.constantTimeEquals(expected.bytes))
                    }
                    try check("epoch \(n) external_pub", try k.externalKeyPair().publicKey, e.external_pub.bytes)
                    let x = try k.exporter(label: Array(e.exporter.label.utf8), context: e.exporter.context.bytes, length: e.exporter.length)
                    try check("epoch \(n) exporter.secret", x.constantTimeEquals(e.exporter.secret.bytes))
                    initSecret = k.initSecret
                }
            }
        }
        return tally
    }

    static func generate() throws -> Data {
        var cases: [Case] = []
        for s in CipherSuite.all {
            let nh = s.kdfLength
            let groupID = SystemRandom.bytes(nh)
            let initial = SecretBytes(randomCount: nh)
            var initSecret = initial
            var epochs: [Epoch] = []
            for n in 0..<5 {
                let treeHash = SystemRandom.bytes(nh), cth = SystemRandom.bytes(nh)
                let commit = SecretBytes(randomCount: nh), psk = SecretBytes(randomCount: nh)
                let gc = context(s, groupID: groupID, epoch: UInt64(n), treeHash: treeHash, cth: cth).tlsSerialized
                let k = try KeyScheduleEpoch.derive(suite: s, initSecret: initSecret, commitSecret: commit, pskSecret: psk, groupContext: gc)
                let label = "exporter label \(n)", exporterContext = SystemRandom.bytes(nh)
                func h(_ x: SecretBytes) -> HexBytes { HexBytes(x.unsafeCopiedBytes()) }
                epochs.append(Epoch(
                    tree_hash: HexBytes(treeHash), commit_secret: h(commit), psk_secret: h(psk), confirmed_transcript_hash: HexBytes(cth),
                    group_context: HexBytes(gc), joiner_secret: h(k.joinerSecret), welcome_secret: h(k.welcomeSecret),
                    init_secret: h(k.initSecret), sender_data_secret: h(k.senderDataSecret), encryption_secret: h(k.encryptionSecret),
                    exporter_secret: h(k.exporterSecret), epoch_authenticator: h(k.epochAuthenticator), external_secret: h(k.externalSecret),
                    confirmation_key: h(k.confirmationKey), membership_key: h(k.membershipKey), resumption_psk: h(k.resumptionPSK),
                    external_pub: HexBytes(try k.externalKeyPair().publicKey),
                    exporter: Exporter(label: label, context: HexBytes(exporterContext), length: nh,
                                       secret: h(try k.exporter(label: Array(label.utf8), context: exporterContext, length: nh)))))
                initSecret = k.initSecret
            }
            cases.append(Case(cipher_suite: s.id, group_id: HexBytes(groupID), initial_init_secret: HexBytes(initial.unsafeCopiedBytes()), epochs: epochs))
        }
        return try OfficialVectors.encode(cases)
    }
}
