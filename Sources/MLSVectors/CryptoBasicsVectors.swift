import Foundation
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `crypto-basics.json`: the labeled functions of RFC 9420 §5.1–§5.2 and §8 for each suite.
enum CryptoBasicsVectors {
    struct RefHashCase: Codable { var label: String; var value: HexBytes; var out: HexBytes }
    struct ExpandWithLabelCase: Codable { var secret: HexBytes; var label: String; var context: HexBytes; var length: Int; var out: HexBytes }
    struct DeriveSecretCase: Codable { var secret: HexBytes; var label: String; var out: HexBytes }
    struct DeriveTreeSecretCase: Codable { var secret: HexBytes; var label: String; var generation: UInt32; var length: Int; var out: HexBytes }
    struct SignWithLabelCase: Codable { var priv: HexBytes; var pub: HexBytes; var content: HexBytes; var label: String; var signature: HexBytes }
    struct EncryptWithLabelCase: Codable {
        var priv: HexBytes; var pub: HexBytes; var label: String; var context: HexBytes
        var plaintext: HexBytes; var kem_output: HexBytes; var ciphertext: HexBytes
    }
    struct Case: Codable {
        var cipher_suite: UInt16
        var ref_hash: RefHashCase
        var expand_with_label: ExpandWithLabelCase
        var derive_secret: DeriveSecretCase
        var derive_tree_secret: DeriveTreeSecretCase
        var sign_with_label: SignWithLabelCase
        var encrypt_with_label: EncryptWithLabelCase
    }

    static let kind = VectorFileKind(name: "crypto-basics", verify: verify, generate: generate)

    static func suite(_ id: UInt16) throws -> CipherSuite {
        guard let s = CipherSuite(id: id) else { throw VectorCheckFailure("unknown cipher suite \(id)") }
        return s
    }

    static func verify(_ data: Data) throws -> VectorTally {
        var tally = VectorTally()
        for c in try OfficialVectors.cases(Case.self, from: data) {
            tally.run("suite \(c.cipher_suite)") {
                let s = try suite(c.cipher_suite)
                try check("ref_hash", s.refHash(label: c.ref_hash.label, value: c.ref_hash.value.bytes), c.ref_hash.out.bytes)

                let e = c.expand_with_label
                let expanded = try s.expandWithLabel(secret: SecretBytes(e.secret.bytes), label: e.label, context: e.context.bytes, length: e.length)
                try check("expand_with_label", expanded.constantTimeEquals(e.out.bytes))

                let d = c.derive_secret
                try check("derive_secret", try s.deriveSecret(secret: SecretBytes(d.secret.bytes), label: d.label).constantTimeEquals(d.out.bytes))

                let t = c.derive_tree_secret
                let tree = try s.deriveTreeSecret(secret: SecretBytes(t.secret.bytes), label: t.label, generation: t.generation, length: t.length)
                try check("derive_tree_secret", tree.constantTimeEquals(t.out.bytes))

                let g = c.sign_with_label
                try check("sign_with_label: VerifyWithLabel of the given signature",
                          s.verifyWithLabel(publicKey: g.pub.bytes, label: g.label, content: g.content.bytes, signature: g.signature.bytes))
                let mine = try s.signWithLabel(privateKey: SecretBytes(g.priv.bytes), label: g.label, content: g.content.bytes)
                try check("sign_with_label: VerifyWithLabel of our signature",
                          s.verifyWithLabel(publicKey: g.pub.bytes, label: g.label, content: g.content.bytes, signature: mine))

                let x = c.encrypt_with_label
                let key = SecretBytes(x.priv.bytes)
                let given = HPKECiphertext(kemOutput: x.kem_output.bytes, ciphertext: x.ciphertext.bytes)
                try check("encrypt_with_label: DecryptWithLabel of the given ciphertext",
                          try s.decryptWithLabel(privateKey: key, label: x.label, context: x.context.bytes, ciphertext: given), x.plaintext.bytes)
                let sealed = try s.encryptWithLabel(publicKey: x.pub.bytes, label: x.label, context: x.context.bytes, plaintext: x.plaintext.bytes)
                try check("encrypt_with_label: DecryptWithLabel of our ciphertext",
                          try s.decryptWithLabel(privateKey: key, label: x.label, context: x.context.bytes, ciphertext: sealed), x.plaintext.bytes)
            }
        }
        return tally
    }

    static func generate() throws -> Data {
        let cases = try CipherSuite.all.map { s -> Case in
            let nh = s.kdfLength
            let secret = SecretBytes(randomCount: nh)
            let context = SystemRandom.bytes(nh)
            let value = SystemRandom.bytes(nh)
            let content = SystemRandom.bytes(nh)
            let plaintext = SystemRandom.bytes(nh)
            let length = 2 * nh
            let generation: UInt32 = 255
            let sig = s.signature.generateKeyPair()
            let kem = s.hpke.generateKeyPair()
            let sealed = try s.encryptWithLabel(publicKey: kem.publicKey, label: "EncryptWithLabel", context: context, plaintext: plaintext)
            return Case(
                cipher_suite: s.id,
                ref_hash: RefHashCase(label: "RefHash", value: HexBytes(value), out: HexBytes(s.refHash(label: "RefHash", value: value))),
                expand_with_label: ExpandWithLabelCase(
                    secret: HexBytes(secret.unsafeCopiedBytes()), label: "ExpandWithLabel", context: HexBytes(context), length: length,
                    out: HexBytes(try s.expandWithLabel(secret: secret, label: "ExpandWithLabel", context: context, length: length).unsafeCopiedBytes())),
                derive_secret: DeriveSecretCase(
                    secret: HexBytes(secret.unsafeCopiedBytes()), label: "DeriveSecret",
                    out: HexBytes(try s.deriveSecret(secret: secret, label: "DeriveSecret").unsafeCopiedBytes())),
                derive_tree_secret: DeriveTreeSecretCase(
                    secret: HexBytes(secret.unsafeCopiedBytes()), label: "DeriveTreeSecret", generation: generation, length: nh,
                    out: HexBytes(try s.deriveTreeSecret(secret: secret, label: "DeriveTreeSecret", generation: generation, length: nh).unsafeCopiedBytes())),
                sign_with_label: SignWithLabelCase(
                    priv: HexBytes(sig.privateKey.unsafeCopiedBytes()), pub: HexBytes(sig.publicKey), content: HexBytes(content), label: "SignWithLabel",
                    signature: HexBytes(try s.signWithLabel(privateKey: sig.privateKey, label: "SignWithLabel", content: content))),
                encrypt_with_label: EncryptWithLabelCase(
                    priv: HexBytes(kem.privateKey.unsafeCopiedBytes()), pub: HexBytes(kem.publicKey), label: "EncryptWithLabel",
                    context: HexBytes(context), plaintext: HexBytes(plaintext),
                    kem_output: HexBytes(sealed.kemOutput), ciphertext: HexBytes(sealed.ciphertext)))
        }
        return try OfficialVectors.encode(cases)
    }
}
