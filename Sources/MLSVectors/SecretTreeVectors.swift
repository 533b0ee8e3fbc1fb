import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `secret-tree.json`: the secret tree and sender-data keys (RFC 9420 §9, §6.3.2).
enum SecretTreeVectors {
    struct SenderDataCase: Codable { var sender_data_secret: HexBytes; var ciphertext: HexBytes; var key: HexBytes; var nonce: HexBytes }
    struct Generation: Codable {
        var generation: UInt32
        var handshake_key: HexBytes; var handshake_nonce: HexBytes
        var application_key: HexBytes; var application_nonce: HexBytes
    }
    struct Case: Codable {
        var cipher_suite: UInt16
        var sender_data: SenderDataCase
        var encryption_secret: HexBytes
        var leaves: [[Generation]]
    }

    static let kind = VectorFileKind(name: "secret-tree", verify: verify, generate: generate)

    static func verify(_ data: Data) throws -> VectorTally {
        var tally = VectorTally()
        for c in try OfficialVectors.cases(Case.self, from: data) {
            tally.run("suite \(c.cipher_suite), \(c.leaves.count) leaves") {
                let s = try CryptoBasicsVectors.suite(c.cipher_suite)
                let sd = try SecretTree.senderDataKey(suite: s, senderDataSecret: SecretBytes(c.sender_data.sender_data_secret.bytes), ciphertext: c.sender_data.ciphertext.bytes)
                try check("sender_data.key", sd.key.constantTimeEquals(c.sender_data.key.bytes))
                try check("sender_data.nonce", sd.nonce.constantTimeEquals(c.sender_data.nonce.bytes))
                var tree = SecretTree(suite: s, encryptionSecret: SecretBytes(c.encryption_secret.bytes), leafCount: UInt32(c.leaves.count), maxForwardDistance: .max)
                for (i, gens) in c.leaves.enumerated() {
                    for g in gens {
                        let h = try tree.key(leaf: LeafIndex(UInt32(i)), type: .handshake, generation: g.generation)
                        let a = try tree.key(leaf: LeafIndex(UInt32(i)), type: .application, generation: g.generation)
                        try check("leaf \(i) gen \(g.generation) handshake_key", h.key.constantTimeEquals(g.handshake_key.bytes))
                        try check("leaf \(i) gen \(g.generation) handshake_nonce", h.nonce.constantTimeEquals(g.handshake_nonce.bytes))
                        try check("leaf \(i) gen \(g.generation) application_key", a.key.constantTimeEquals(g.application_key.bytes))
                        try check("leaf \(i) gen \(g.generation) application_nonce", a.nonce.constantTimeEquals(g.application_nonce.bytes))
                    }
                }
            }
        }
        return tally
    }

    static func generate() throws -> Data {
        var cases: [Case] = []
        for s in CipherSuite.all {
            for leaves in [1, 8, 32] {
                let encryption = SecretBytes(randomCount: s.kdfLength)
                let senderData = SecretBytes(randomCount: s.kdfLength)
                let ciphertext = SystemRandom.bytes(77)
                let sd = try SecretTree.senderDataKey(suite: s, senderDataSecret: senderData, ciphertext: ciphertext)
                var tree = SecretTree(suite: s, encryptionSecret: encryption, leafCount: UInt32(leaves), maxForwardDistance: .max)
                var all: [[Generation]] = []
                for i in 0..<leaves {
                    var gens: [Generation] = []
                    for g: UInt32 in [1, 15] {
                        let h = try tree.key(leaf: LeafIndex(UInt32(i)), type: .handshake, generation: g)
                        let a = try tree.key(leaf: LeafIndex(UInt32(i)), type: .application, generation: g)
                        gens.append(Generation(
                            generation: g,
                            handshake_key: HexBytes(h.key.unsafeCopiedBytes()), handshake_nonce: HexBytes(h.nonce.unsafeCopiedBytes()),
                            application_key: HexBytes(a.key.unsafeCopiedBytes()), application_nonce: HexBytes(a.nonce.unsafeCopiedBytes())))
                    }
                    all.append(gens)
                }
                cases.append(Case(
                    cipher_suite: s.id,
                    sender_data: SenderDataCase(
                        sender_data_secret: HexBytes(senderData.unsafeCopiedBytes()), ciphertext: HexBytes(ciphertext),
                        key: HexBytes(sd.key.unsafeCopiedBytes()), nonce: HexBytes(sd.nonce.unsafeCopiedBytes())),
                    encryption_secret: HexBytes(encryption.unsafeCopiedBytes()), leaves: all))
            }
        }
        return try OfficialVectors.encode(cases)
    }
}
