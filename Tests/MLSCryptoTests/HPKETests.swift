import Testing
@_spi(Engine) @testable import MLSCrypto

/// One base-mode test vector of RFC 9180 Appendix A (first encryption and first export).
struct HPKEKnownAnswer: Sendable, CustomStringConvertible {
    let name: String
    let hpke: HPKE
    let ikmE, ikmR, skRm, pkRm, enc, ct, exported: String
    var description: String { name }

    static let info = hex("4f6465206f6e2061204772656369616e2055726e")
    static let plaintext = hex("4265617574792069732074727574682c20747275746820626561757479")
    static let aad = hex("436f756e742d30")

    static let all: [HPKEKnownAnswer] = [
        HPKEKnownAnswer(
            name: "A.1 DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM",
            hpke: HPKE(kem: .dhkemX25519, kdf: .sha256, aead: .aes128GCM),
            ikmE: "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234",
            ikmR: "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037",
            skRm: "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8",
            pkRm: "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d",
            enc: "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431",
            ct: "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a",
            exported: "3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee"),
        HPKEKnownAnswer(
            name: "A.2 DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305",
            hpke: HPKE(kem: .dhkemX25519, kdf: .sha256, aead: .chacha20Poly1305),
            ikmE: "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b",
            ikmR: "1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df",
            skRm: "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb",
            pkRm: "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a",
            enc: "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a",
            ct: "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28",
            exported: "4bbd6243b8bb54cec311fac9df81841b6fd61f56538a775e7c80a9f40160606e"),
        HPKEKnownAnswer(
            name: "A.3 DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM",
            hpke: HPKE(kem: .dhkemP256, kdf: .sha256, aead: .aes128GCM),
            ikmE: "4270e54ffd08d79d5928020af4686d8f6b7d35dbe470265f1f5aa22816ce860e",
            ikmR: "668b37171f1072f3cf12ea8a236a45df23fc13b82af3609ad1e354f6ef817550",
            skRm: "f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2",
            pkRm: """
                04fe8c19ce0905191ebc298a9245792531f26f0cece2460639e8bc39cb7f706a826a779b4cf969b8a0e539c7f62fb3d30ad6aa8f80e30f1d128aafd68a2ce72ea0
                """,
            enc: """
                04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac98536d7b61a1af4b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4
                """,
            ct: "5ad590bb8baa577f8619db35a36311226a896e7342a6d836d8b7bcd2f20b6c7f9076ac232e3ab2523f39513434",
            exported: "5e9bc3d236e1911d95e65b576a8a86d478fb827e8bdfe77b741b289890490d4d"),
        HPKEKnownAnswer(
            name: "A.6 DHKEM(P-521, HKDF-SHA512), HKDF-SHA512, AES-256-GCM",
            hpke: HPKE(kem: .dhkemP521, kdf: .sha512, aead: .aes256GCM),
            ikmE: """
                7f06ab8215105fc46aceeb2e3dc5028b44364f960426eb0d8e4026c2f8b5d7e7a986688f1591abf5ab753c357a5d6f0440414b4ed4ede71317772ac98d9239f70904
                """,
            ikmR: """
                2ad954bbe39b7122529f7dde780bff626cd97f850d0784a432784e69d86eccaade43b6c10a8ffdb94bf943c6da479db137914ec835a7e715e36e45e29b587bab3bf1
                """,
            skRm: """
                01462680369ae375e4b3791070a7458ed527842f6a98a79ff5e0d4cbde83c27196a3916956655523a6a2556a7af62c5cadabe2ef9da3760bb21e005202f7b2462847
                """,
            pkRm: """
                0401b45498c1714e2dce167d3caf162e45e0642afc7ed435df7902ccae0e84ba0f7d373f646b7738bbbdca11ed91bdeae3cdcba3301f2457be452f271fa6837580e661
                012af49583a62e48d44bed350c7118c0d8dc861c238c72a2bda17f64704f464b57338e7f40b60959480c0e58e6559b190d81663ed816e523b6b6a418f66d2451ec64
                """,
            enc: """
                040138b385ca16bb0d5fa0c0665fbbd7e69e3ee29f63991d3e9b5fa740aab8900aaeed46ed73a49055758425a0ce36507c54b29cc5b85a5cee6bae0cf1c21f2731ece2
                013dc3fb7c8d21654bb161b463962ca19e8c654ff24c94dd2898de12051f1ed0692237fb02b2f8d1dc1c73e9b366b529eb436e98a996ee522aef863dd5739d2f29b0
                """,
            ct: "170f8beddfe949b75ef9c387e201baf4132fa7374593dfafa90768788b7b2b200aafcc6d80ea4c795a7c5b841a",
            exported: "05e2e5bd9f0c30832b80a279ff211cc65eceb0d97001524085d609ead60d0412"),
    ]
}

@Suite struct HPKETests {
    static let info = Array("MLS 1.0 test info".utf8)
    static let aad = Array("aad".utf8)
    static let plaintext = Array("a path secret, say".utf8)

    @Test(arguments: HPKEKnownAnswer.all)
    func rfc9180KnownAnswers(vector: HPKEKnownAnswer) throws {
        let hpke = vector.hpke
        let recipient = try hpke.deriveKeyPair(ikm: SecretBytes(hex(vector.ikmR)))
        #expect(recipient.privateKey.constantTimeEquals(hex(vector.skRm)))
        #expect(recipient.publicKey == hex(vector.pkRm))
        #expect(try hpke.publicKey(for: recipient.privateKey) == hex(vector.pkRm))

        let sealed = try hpke.seal(publicKey: recipient.publicKey, info: HPKEKnownAnswer.info, aad: HPKEKnownAnswer.aad,
                                   plaintext: HPKEKnownAnswer.plaintext, ephemeralIKM: SecretBytes(hex(vector.ikmE)))
        #expect(sealed.enc == hex(vector.enc))
        #expect(sealed.ciphertext == hex(vector.ct))
        #expect(try hpke.open(privateKey: recipient.privateKey, enc: hex(vector.enc), info: HPKEKnownAnswer.info,
                              aad: HPKEKnownAnswer.aad, ciphertext: hex(vector.ct)) == HPKEKnownAnswer.plaintext)

        let received = try hpke.receiveExport(privateKey: recipient.privateKey, enc: hex(vector.enc), info: HPKEKnownAnswer.info,
                                              exporterContext: [], length: 32)
        #expect(received.constantTimeEquals(hex(vector.exported)))
        let sent = try hpke.sendExport(publicKey: recipient.publicKey, info: HPKEKnownAnswer.info, exporterContext: [], length: 32,
                                       ephemeralIKM: SecretBytes(hex(vector.ikmE)))
        #expect(sent.enc == hex(vector.enc))
        #expect(sent.secret == received)
    }

    @Test(arguments: CipherSuite.all)
    func sealOpenRoundTrip(suite: CipherSuite) throws {
        let hpke = suite.hpke
        let (privateKey, publicKey) = hpke.generateKeyPair()
        #expect(publicKey.count == hpke.kem.publicKeyLength)
        #expect(privateKey.count == hpke.kem.privateKeyLength)
        #expect(try hpke.publicKey(for: privateKey) == publicKey)
        for plaintext in [[], Self.plaintext] {
            let sealed = try hpke.seal(publicKey: publicKey, info: Self.info, aad: Self.aad, plaintext: plaintext)
            #expect(sealed.enc.count == hpke.kem.publicKeyLength)
            #expect(sealed.ciphertext.count == plaintext.count + hpke.aead.tagLength)
            #expect(try hpke.open(privateKey: privateKey, enc: sealed.enc, info: Self.info, aad: Self.aad, ciphertext: sealed.ciphertext) == plaintext)
        }
        // Fresh ephemeral keys each time.
        let first = try hpke.seal(publicKey: publicKey, info: [], aad: [], plaintext: [])
        let second = try hpke.seal(publicKey: publicKey, info: [], aad: [], plaintext: [])
        #expect(first.enc != second.enc)
    }

    @Test(arguments: CipherSuite.all)
    func labeledEncryptionRoundTrip(suite: CipherSuite) throws {
        let (privateKey, publicKey) = suite.hpke.generateKeyPair()
        let ciphertext = try suite.encryptWithLabel(publicKey: publicKey, label: "UpdatePathNode", context: [1, 2, 3], plaintext: Self.plaintext)
        #expect(try suite.decryptWithLabel(privateKey: privateKey, label: "UpdatePathNode", context: [1, 2, 3], ciphertext: ciphertext) == Self.plaintext)
        #expect(throws: CryptoError.decryptionFailed) {
            try suite.decryptWithLabel(privateKey: privateKey, label: "Welcome", context: [1, 2, 3], ciphertext: ciphertext)
        }
    }

    /// A seal under an `info` prepared once (the Welcome's many recipients) opens with the plain
    /// `info`, for every recipient, and not with another context.
    @Test(arguments: CipherSuite.all)
    func preparedInfoSealsLikeThePlainInfo(suite: CipherSuite) throws {
        let context = [UInt8](repeating: 0xab, count: 5000)
        let prepared = suite.prepareEncryption(label: "Welcome", context: context)
        for _ in 0..<3 {
            let (privateKey, publicKey) = suite.hpke.generateKeyPair()
            let ciphertext = try suite.encryptWithLabel(publicKey: publicKey, prepared: prepared, plaintext: Self.plaintext)
            #expect(try suite.decryptWithLabel(privateKey: privateKey, label: "Welcome", context: context, ciphertext: ciphertext) == Self.plaintext)
            #expect(throws: CryptoError.decryptionFailed) {
                try suite.decryptWithLabel(privateKey: privateKey, label: "Welcome", context: context + [0], ciphertext: ciphertext)
            }
        }
    }

    @Test(arguments: CipherSuite.all)
    func exportRoundTrip(suite: CipherSuite) throws {
        let hpke = suite.hpke
        let (privateKey, publicKey) = hpke.generateKeyPair()
        let context = Array("MLS 1.0 external init secret".utf8)
        let sent = try hpke.sendExport(publicKey: publicKey, info: Self.info, exporterContext: context, length: suite.kdfLength)
        let received = try hpke.receiveExport(privateKey: privateKey, enc: sent.enc, info: Self.info, exporterContext: context, length: suite.kdfLength)
        #expect(sent.secret.count == suite.kdfLength)
        #expect(sent.secret == received)
        let otherContext = try hpke.receiveExport(privateKey: privateKey, enc: sent.enc, info: Self.info, exporterContext: [], length: suite.kdfLength)
        #expect(otherContext != received)
        let otherInfo = try hpke.receiveExport(privateKey: privateKey, enc: sent.enc, info: [], exporterContext: context, length: suite.kdfLength)
        #expect(otherInfo != received)

        let max = 255 * hpke.kdf.outputLength
        #expect(try hpke.receiveExport(privateKey: privateKey, enc: sent.enc, info: [], exporterContext: [], length: max).count == max)
        expectCryptoError(\.isInvalidLength) {
            _ = try hpke.receiveExport(privateKey: privateKey, enc: sent.enc, info: [], exporterContext: [], length: max + 1)
        }
        expectCryptoError(\.isInvalidLength) {
            _ = try hpke.sendExport(publicKey: publicKey, info: [], exporterContext: [], length: max + 1)
        }
    }

    @Test(arguments: CipherSuite.all)
    func deriveKeyPairIsDeterministic(suite: CipherSuite) throws {
        let hpke = suite.hpke
        let ikm = SecretBytes(randomCount: hpke.kem.privateKeyLength)
        let a = try hpke.deriveKeyPair(ikm: ikm)
        let b = try hpke.deriveKeyPair(ikm: SecretBytes(ikm.unsafeCopiedBytes()))
        #expect(a.privateKey == b.privateKey)
        #expect(a.publicKey == b.publicKey)
        #expect(a.privateKey.count == hpke.kem.privateKeyLength)
        #expect(try hpke.publicKey(for: a.privateKey) == a.publicKey)
        let c = try hpke.deriveKeyPair(ikm: SecretBytes(flippingBit(ikm.unsafeCopiedBytes(), at: 0)))
        #expect(c.privateKey != a.privateKey)
        #expect(c.publicKey != a.publicKey)
    }

    @Test(arguments: CipherSuite.all)
    func openFailsWithWrongInputs(suite: CipherSuite) throws {
        let hpke = suite.hpke
        let (privateKey, publicKey) = hpke.generateKeyPair()
        let sealed = try hpke.seal(publicKey: publicKey, info: Self.info, aad: Self.aad, plaintext: Self.plaintext)
        let failed = CryptoError.decryptionFailed
        let otherKey = hpke.generateKeyPair().privateKey
        #expect(throws: failed) { try hpke.open(privateKey: otherKey, enc: sealed.enc, info: Self.info, aad: Self.aad, ciphertext: sealed.ciphertext) }
        #expect(throws: failed) { try hpke.open(privateKey: privateKey, enc: sealed.enc, info: [], aad: Self.aad, ciphertext: sealed.ciphertext) }
        #expect(throws: failed) { try hpke.open(privateKey: privateKey, enc: sealed.enc, info: Self.info, aad: [], ciphertext: sealed.ciphertext) }
        #expect(throws: failed) {
            try hpke.open(privateKey: privateKey, enc: sealed.enc, info: Self.info, aad: Self.aad, ciphertext: flippingBit(sealed.ciphertext, at: -1))
        }
        #expect(throws: failed) {
            try hpke.open(privateKey: privateKey, enc: sealed.enc, info: Self.info, aad: Self.aad, ciphertext: flippingBit(sealed.ciphertext, at: 0))
        }
        // A different, valid ephemeral key yields a different shared secret.
        let otherEnc = hpke.generateKeyPair().publicKey
        #expect(throws: failed) { try hpke.open(privateKey: privateKey, enc: otherEnc, info: Self.info, aad: Self.aad, ciphertext: sealed.ciphertext) }
    }

    @Test(arguments: CipherSuite.all)
    func wrongLengthKeys(suite: CipherSuite) throws {
        let hpke = suite.hpke
        let (privateKey, publicKey) = hpke.generateKeyPair()
        let sealed = try hpke.seal(publicKey: publicKey, info: [], aad: [], plaintext: [])
        for bad in [[], Array(publicKey.dropLast()), publicKey + [0]] {
            expectCryptoError(\.isInvalidPublicKey) { _ = try hpke.seal(publicKey: bad, info: [], aad: [], plaintext: []) }
            expectCryptoError(\.isInvalidPublicKey) { _ = try hpke.open(privateKey: privateKey, enc: bad, info: [], aad: [], ciphertext: sealed.ciphertext) }
            expectCryptoError(\.isInvalidPublicKey) { _ = try hpke.sendExport(publicKey: bad, info: [], exporterContext: [], length: 16) }
        }
        for bad in [SecretBytes(zeros: 0), SecretBytes(zeros: hpke.kem.privateKeyLength + 1)] {
            expectCryptoError(\.isInvalidPrivateKey) { _ = try hpke.publicKey(for: bad) }
            expectCryptoError(\.isInvalidPrivateKey) { _ = try hpke.open(privateKey: bad, enc: sealed.enc, info: [], aad: [], ciphertext: sealed.ciphertext) }
        }
    }

    @Test(arguments: [KEMAlgorithm.dhkemP256, .dhkemP384, .dhkemP521])
    func invalidCurvePoints(kem: KEMAlgorithm) throws {
        let hpke = HPKE(kem: kem, kdf: kem.kdf, aead: .aes256GCM)
        let (privateKey, publicKey) = hpke.generateKeyPair()
        let coordinate = (kem.publicKeyLength - 1) / 2
        let one = [UInt8](repeating: 0, count: coordinate - 1) + [1]
        let offCurve = [0x04] + one + one  // (1, 1) is on none of the NIST curves.
        let beyondField = [0x04] + [UInt8](repeating: 0xFF, count: 2 * coordinate)
        let compressedPrefix = [0x02] + Array(publicKey.dropFirst())
        for bad in [offCurve, beyondField, compressedPrefix, flippingBit(publicKey, at: -1), [0x00]] {
            expectCryptoError(\.isInvalidPublicKey) { _ = try hpke.seal(publicKey: bad, info: [], aad: [], plaintext: []) }
            expectCryptoError(\.isInvalidPublicKey) { _ = try hpke.open(privateKey: privateKey, enc: bad, info: [], aad: [], ciphertext: [UInt8](repeating: 0, count: 16)) }
        }
        // Out-of-range scalars: 0 and all-ones (above the order).
        for bad in [SecretBytes(zeros: kem.privateKeyLength), SecretBytes([UInt8](repeating: 0xFF, count: kem.privateKeyLength))] {
            expectCryptoError(\.isInvalidPrivateKey) { _ = try hpke.publicKey(for: bad) }
            expectCryptoError(\.isInvalidPrivateKey) { _ = try hpke.open(privateKey: bad, enc: publicKey, info: [], aad: [], ciphertext: [UInt8](repeating: 0, count: 16)) }
        }
    }

    @Test(arguments: [KEMAlgorithm.dhkemX25519, .dhkemX448])
    func lowOrderMontgomeryPoints(kem: KEMAlgorithm) throws {
        let hpke = HPKE(kem: kem, kdf: kem.kdf, aead: .chacha20Poly1305)
        let (privateKey, _) = hpke.generateKeyPair()
        let zero = [UInt8](repeating: 0, count: kem.publicKeyLength)
        let one = [1] + [UInt8](repeating: 0, count: kem.publicKeyLength - 1)
        for bad in [zero, one] {
            #expect(throws: CryptoError.invalidSharedSecret) { try hpke.seal(publicKey: bad, info: [], aad: [], plaintext: []) }
            #expect(throws: CryptoError.invalidSharedSecret) {
                try hpke.open(privateKey: privateKey, enc: bad, info: [], aad: [], ciphertext: [UInt8](repeating: 0, count: 16))
            }
        }
    }
}
