import Testing
@_spi(Engine) @testable import MLSCrypto

@Suite struct SignatureTests {
    static let message = Array("MLS signature test message".utf8)

    @Test(arguments: CipherSuite.all)
    func signVerifyRoundTrip(suite: CipherSuite) throws {
        let scheme = suite.signature
        let (privateKey, publicKey) = scheme.generateKeyPair()
        #expect(try scheme.publicKey(for: privateKey) == publicKey)
        let signature = try scheme.sign(Self.message, privateKey: privateKey)
        #expect(scheme.verify(signature, for: Self.message, publicKey: publicKey))
        #expect(try scheme.sign([], privateKey: privateKey).isEmpty == false)
        #expect(scheme.verify(try scheme.sign([], privateKey: privateKey), for: [], publicKey: publicKey))
        if scheme.ecCurve != nil { #expect(signature.first == 0x30) }  // DER SEQUENCE (RFC 9420 §5.1.2)
    }

    @Test(arguments: CipherSuite.all)
    func labeledRoundTrip(suite: CipherSuite) throws {
        let (privateKey, publicKey) = suite.signature.generateKeyPair()
        let signature = try suite.signWithLabel(privateKey: privateKey, label: "LeafNodeTBS", content: Self.message)
        #expect(suite.verifyWithLabel(publicKey: publicKey, label: "LeafNodeTBS", content: Self.message, signature: signature))
        #expect(!suite.verifyWithLabel(publicKey: publicKey, label: "GroupInfoTBS", content: Self.message, signature: signature))
    }

    @Test(arguments: CipherSuite.all)
    func rejectsBadSignatures(suite: CipherSuite) throws {
        let scheme = suite.signature
        let (privateKey, publicKey) = scheme.generateKeyPair()
        let signature = try scheme.sign(Self.message, privateKey: privateKey)
        let other = scheme.generateKeyPair()

        #expect(!scheme.verify(signature, for: Self.message + [0], publicKey: publicKey))  // wrong message
        #expect(!scheme.verify(signature, for: Self.message, publicKey: other.publicKey))  // wrong key
        #expect(!scheme.verify(try scheme.sign(Self.message, privateKey: other.privateKey), for: Self.message, publicKey: publicKey))
        #expect(!scheme.verify(Array(signature.dropLast()), for: Self.message, publicKey: publicKey))  // truncated
        #expect(!scheme.verify(Array(signature.prefix(8)), for: Self.message, publicKey: publicKey))
        #expect(!scheme.verify(signature + [0], for: Self.message, publicKey: publicKey))  // trailing byte
        #expect(!scheme.verify(flippingBit(signature, at: -1), for: Self.message, publicKey: publicKey))
        #expect(!scheme.verify(flippingBit(signature, at: signature.count / 2, bit: 3), for: Self.message, publicKey: publicKey))
        #expect(!scheme.verify([], for: Self.message, publicKey: publicKey))
        #expect(!scheme.verify([UInt8](repeating: 0, count: signature.count), for: Self.message, publicKey: publicKey))
    }

    @Test(arguments: CipherSuite.all)
    func malformedPublicKeysDoNotVerify(suite: CipherSuite) throws {
        let scheme = suite.signature
        let (privateKey, publicKey) = scheme.generateKeyPair()
        let signature = try scheme.sign(Self.message, privateKey: privateKey)
        for bad in [[], Array(publicKey.dropLast()), publicKey + [0], [UInt8](repeating: 0, count: publicKey.count),
                    [UInt8](repeating: 0xFF, count: publicKey.count), flippingBit(publicKey, at: -1)] {
            #expect(!scheme.verify(signature, for: Self.message, publicKey: bad))
        }
    }

    @Test(arguments: CipherSuite.all)
    func invalidPrivateKeys(suite: CipherSuite) {
        let scheme = suite.signature
        let length = scheme.generateKeyPair().privateKey.count
        expectCryptoError(\.isInvalidPrivateKey) { _ = try scheme.sign(Self.message, privateKey: SecretBytes(zeros: length + 1)) }
        expectCryptoError(\.isInvalidPrivateKey) { _ = try scheme.publicKey(for: SecretBytes(zeros: 0)) }
        if scheme.ecCurve != nil {
            // 0 and values >= the group order are not scalars.
            expectCryptoError(\.isInvalidPrivateKey) { _ = try scheme.publicKey(for: SecretBytes(zeros: length)) }
            expectCryptoError(\.isInvalidPrivateKey) { _ = try scheme.sign(Self.message, privateKey: SecretBytes([UInt8](repeating: 0xFF, count: length))) }
        }
    }

    /// P-521 scalars whose first byte is zero are sometimes serialized with 65 bytes; both forms
    /// must name the same key.
    @Test func p521AcceptsStrippedLeadingZero() throws {
        let scheme = SignatureScheme.ecdsaP521SHA512
        var pair = scheme.generateKeyPair()
        while pair.privateKey.unsafeCopiedBytes()[0] != 0 { pair = scheme.generateKeyPair() }
        let stripped = SecretBytes(pair.privateKey.unsafeCopiedBytes().dropFirst())
        #expect(stripped.count == 65)
        #expect(try scheme.publicKey(for: stripped) == pair.publicKey)
        #expect(scheme.verify(try scheme.sign(Self.message, privateKey: stripped), for: Self.message, publicKey: pair.publicKey))
    }

    /// RFC 8032 §7.1 TEST 1 and §7.4 "Blank" (empty message).
    @Test func eddsaKnownAnswers() throws {
        let ed25519Key = SecretBytes(hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        #expect(try SignatureScheme.ed25519.publicKey(for: ed25519Key) == hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))
        let ed25519Signature = hex("""
            e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b
            """)
        #expect(try SignatureScheme.ed25519.sign([], privateKey: ed25519Key) == ed25519Signature)

        let ed448Key = SecretBytes(hex("6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef6e348a3528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b"))
        let ed448Public = hex("5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d80e96778edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180")
        #expect(try SignatureScheme.ed448.publicKey(for: ed448Key) == ed448Public)
        let ed448Signature = hex("""
            533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d41a591f2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980ff
            0d2028d4b18a9df63e006c5d1c2d345b925d8dc00b4104852db99ac5c7cdda8530a113a0f4dbb61149f05a7363268c71d95808ff2e652600
            """)
        #expect(try SignatureScheme.ed448.sign([], privateKey: ed448Key) == ed448Signature)
        #expect(SignatureScheme.ed448.verify(ed448Signature, for: [], publicKey: ed448Public))
    }
}
