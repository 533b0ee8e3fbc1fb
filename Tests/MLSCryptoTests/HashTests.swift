import Testing
@_spi(Engine) @testable import MLSCrypto

@Suite struct HashTests {
    static let all: [HashAlgorithm] = [.sha256, .sha384, .sha512]

    /// FIPS 180-4 example "abc".
    @Test(arguments: [
        (HashAlgorithm.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (.sha384, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
        (.sha512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
    ])
    func hashKnownAnswer(hash: HashAlgorithm, expected: String) {
        #expect(hash.hash(Array("abc".utf8)) == hex(expected))
        #expect(hash.hash([]).count == hash.outputLength)
    }

    /// RFC 4231 §4.3 (test case 2).
    @Test(arguments: [
        (HashAlgorithm.sha256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (.sha384, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"),
        (.sha512, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
    ])
    func hmacKnownAnswer(hash: HashAlgorithm, expected: String) {
        let mac = hash.hmac(key: SecretBytes(Array("Jefe".utf8)), data: Array("what do ya want for nothing?".utf8))
        #expect(mac == hex(expected))
    }

    @Test(arguments: all)
    func hmacAcceptsEmptyAndLongKeys(hash: HashAlgorithm) {
        #expect(hash.hmac(key: SecretBytes(zeros: 0), data: []).count == hash.outputLength)
        // Keys longer than the block are hashed first (RFC 2104 §2); must not equal the short-key MAC.
        let long = hash.hmac(key: SecretBytes([UInt8](repeating: 0xAA, count: 300)), data: [1])
        let short = hash.hmac(key: SecretBytes([UInt8](repeating: 0xAA, count: 3)), data: [1])
        #expect(long.count == hash.outputLength)
        #expect(long != short)
    }

    /// RFC 5869 Appendix A.1.
    @Test func hkdfKnownAnswer() throws {
        let ikm = SecretBytes([UInt8](repeating: 0x0B, count: 22))
        let salt = SecretBytes(hex("000102030405060708090a0b0c"))
        let prk = HashAlgorithm.sha256.hkdfExtract(salt: salt, ikm: ikm)
        #expect(prk.constantTimeEquals(hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")))
        let okm = try HashAlgorithm.sha256.hkdfExpand(prk: prk, info: hex("f0f1f2f3f4f5f6f7f8f9"), length: 42)
        #expect(okm.constantTimeEquals(hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")))
    }

    @Test(arguments: all)
    func hkdfExtractEmptySaltIsZeroSalt(hash: HashAlgorithm) {
        let ikm = SecretBytes([1, 2, 3])
        // RFC 5869 §2.2: an absent salt is a string of HashLen zeros.
        #expect(hash.hkdfExtract(salt: SecretBytes(zeros: 0), ikm: ikm) == hash.hkdfExtract(salt: SecretBytes(zeros: hash.outputLength), ikm: ikm))
    }

    @Test(arguments: all)
    func hkdfExpandLengths(hash: HashAlgorithm) throws {
        let prk = SecretBytes(randomCount: hash.outputLength)
        let max = 255 * hash.outputLength
        #expect(try hash.hkdfExpand(prk: prk, info: [], length: 0).count == 0)
        let full = try hash.hkdfExpand(prk: prk, info: [7], length: max)
        #expect(full.count == max)
        // Shorter outputs are prefixes of longer ones (RFC 5869 §2.3).
        let part = try hash.hkdfExpand(prk: prk, info: [7], length: hash.outputLength + 5)
        #expect(part.constantTimeEquals(Array(full.unsafeCopiedBytes().prefix(hash.outputLength + 5))))
        expectCryptoError(\.isInvalidLength) { _ = try hash.hkdfExpand(prk: prk, info: [], length: max + 1) }
        expectCryptoError(\.isInvalidLength) { _ = try hash.hkdfExpand(prk: prk, info: [], length: -1) }
    }
}
