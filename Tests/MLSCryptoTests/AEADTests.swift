import Testing
@_spi(Engine) @testable import MLSCrypto

@Suite struct AEADTests {
    static let all: [AEADAlgorithm] = [.aes128GCM, .aes256GCM, .chacha20Poly1305]

    /// AES-GCM test cases 2 and 14 of McGrew & Viega, "The Galois/Counter Mode of Operation",
    /// and the ChaCha20-Poly1305 example of RFC 8439 §2.8.2.
    @Test func knownAnswers() throws {
        let zeros16 = [UInt8](repeating: 0, count: 16)
        let zeroNonce = [UInt8](repeating: 0, count: 12)
        #expect(try AEADAlgorithm.aes128GCM.seal(key: SecretBytes(zeros: 16), nonce: zeroNonce, aad: [], plaintext: zeros16)
            == hex("0388dace60b6a392f328c2b971b2fe78 ab6e47d42cec13bdf53a67b21257bddf"))
        #expect(try AEADAlgorithm.aes256GCM.seal(key: SecretBytes(zeros: 32), nonce: zeroNonce, aad: [], plaintext: zeros16)
            == hex("cea7403d4d606b6e074ec5d3baf39d18 d0d1c8a799996bf0265b98b5d48ab919"))

        let key = SecretBytes(Array(0x80...0x9F).map(UInt8.init))
        let plaintext = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
        let expected = hex("""
            d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b
            1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
            3ff4def08e4b7a9de576d26586cec64b6116 1ae10b594f09e26a7e902ecbd0600691
            """)
        let nonce = hex("070000004041424344454647")
        let aad = hex("50515253c0c1c2c3c4c5c6c7")
        #expect(try AEADAlgorithm.chacha20Poly1305.seal(key: key, nonce: nonce, aad: aad, plaintext: plaintext) == expected)
        #expect(try AEADAlgorithm.chacha20Poly1305.open(key: key, nonce: nonce, aad: aad, ciphertext: expected) == plaintext)
    }

    @Test(arguments: all)
    func roundTrip(aead: AEADAlgorithm) throws {
        let key = SecretBytes(randomCount: aead.keyLength)
        let nonce = SystemRandom.bytes(aead.nonceLength)
        for (plaintext, aad) in [([UInt8](), [UInt8]()), ([0x42], []), (SystemRandom.bytes(1000), Array("header".utf8))] {
            let sealed = try aead.seal(key: key, nonce: nonce, aad: aad, plaintext: plaintext)
            #expect(sealed.count == plaintext.count + aead.tagLength)
            #expect(try aead.open(key: key, nonce: nonce, aad: aad, ciphertext: sealed) == plaintext)
        }
    }

    @Test(arguments: all)
    func tamperingFails(aead: AEADAlgorithm) throws {
        let key = SecretBytes(randomCount: aead.keyLength)
        let nonce = SystemRandom.bytes(aead.nonceLength)
        let aad: [UInt8] = [1, 2, 3]
        let sealed = try aead.seal(key: key, nonce: nonce, aad: aad, plaintext: Array("attack at dawn".utf8))
        let failed = CryptoError.decryptionFailed
        #expect(throws: failed) { try aead.open(key: key, nonce: nonce, aad: aad, ciphertext: flippingBit(sealed, at: -1, bit: 7)) }  // tag
        #expect(throws: failed) { try aead.open(key: key, nonce: nonce, aad: aad, ciphertext: flippingBit(sealed, at: 0)) }  // ciphertext
        #expect(throws: failed) { try aead.open(key: key, nonce: nonce, aad: [1, 2, 4], ciphertext: sealed) }
        #expect(throws: failed) { try aead.open(key: key, nonce: flippingBit(nonce, at: 3), aad: aad, ciphertext: sealed) }
        #expect(throws: failed) { try aead.open(key: SecretBytes(randomCount: aead.keyLength), nonce: nonce, aad: aad, ciphertext: sealed) }
        #expect(throws: failed) { try aead.open(key: key, nonce: nonce, aad: aad, ciphertext: Array(sealed.dropLast())) }
        #expect(throws: failed) { try aead.open(key: key, nonce: nonce, aad: aad, ciphertext: Array(sealed.prefix(aead.tagLength - 1))) }
        #expect(throws: failed) { try aead.open(key: key, nonce: nonce, aad: aad, ciphertext: []) }
    }

    @Test(arguments: all)
    func wrongParameterLengths(aead: AEADAlgorithm) {
        let nonce = [UInt8](repeating: 0, count: aead.nonceLength)
        expectCryptoError(\.isInvalidLength) { _ = try aead.seal(key: SecretBytes(zeros: aead.keyLength + 1), nonce: nonce, aad: [], plaintext: []) }
        expectCryptoError(\.isInvalidLength) { _ = try aead.seal(key: SecretBytes(zeros: aead.keyLength), nonce: [0], aad: [], plaintext: []) }
        expectCryptoError(\.isInvalidLength) { _ = try aead.open(key: SecretBytes(zeros: 1), nonce: nonce, aad: [], ciphertext: [UInt8](repeating: 0, count: 32)) }
    }
}
