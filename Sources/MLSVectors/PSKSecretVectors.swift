import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `psk_secret.json`: combining external PSKs into `psk_secret` (RFC 9420 §8.4).
enum PSKSecretVectors {
    struct PSK: Codable { var psk_id: HexBytes; var psk: HexBytes; var psk_nonce: HexBytes }
    struct Case: Codable { var cipher_suite: UInt16; var psks: [PSK]; var psk_secret: HexBytes }

    static let kind = VectorFileKind(name: "psk_secret", verify: verify, generate: generate)

    static func entries(_ psks: [PSK]) -> [(id: PreSharedKeyID, psk: SecretBytes)] {
        psks.map { (PreSharedKeyID(psk: .external(pskID: $0.psk_id.bytes), pskNonce: $0.psk_nonce.bytes), SecretBytes($0.psk.bytes)) }
    }

    static func verify(_ data: Data) throws -> VectorTally {
        var tally = VectorTally()
        for (i, c) in try OfficialVectors.cases(Case.self, from: data).enumerated() {
            tally.run("case \(i) (suite \(c.cipher_suite), \(c.psks.count) PSKs)") {
                let s = try CryptoBasicsVectors.suite(c.cipher_suite)
                let secret = try PSKSecret.compute(suite: s, psks: entries(c.psks))
                try check("psk_secret", secret.constantTimeEquals(c.psk_secret.bytes))
            }
        }
        return tally
    }

    static func generate() throws -> Data {
        var cases: [Case] = []
        for s in CipherSuite.all {
            for n in 0..<4 {
                let psks = (0..<n).map { _ in
                    PSK(psk_id: HexBytes(SystemRandom.bytes(s.kdfLength)), psk: HexBytes(SystemRandom.bytes(s.kdfLength)),
                        psk_nonce: HexBytes(SystemRandom.bytes(s.kdfLength)))
                }
                let secret = try PSKSecret.compute(suite: s, psks: entries(psks))
                cases.append(Case(cipher_suite: s.id, psks: psks, psk_secret: HexBytes(secret.unsafeCopiedBytes())))
            }
        }
        return try OfficialVectors.encode(cases)
    }
}
