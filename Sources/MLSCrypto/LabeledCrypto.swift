@_spi(Engine) import MLSCodec

/// The `"MLS 1.0 "` prefix every MLS label carries (RFC 9420 §5.1.2, §5.1.3, §8).
@_spi(Engine) public let mlsLabelPrefix: [UInt8] = Array("MLS 1.0 ".utf8)

/// `HPKECiphertext` (RFC 9420 §5.1.3): the output of `EncryptWithLabel`.
@_spi(Engine) public struct HPKECiphertext: Sendable, Hashable, TLSCodable {
    /// The HPKE encapsulated key `enc`.
    public var kemOutput: [UInt8]
    /// The AEAD ciphertext.
    public var ciphertext: [UInt8]

    /// Creates a ciphertext from its parts.
    public init(kemOutput: [UInt8], ciphertext: [UInt8]) {
        self.kemOutput = kemOutput
        self.ciphertext = ciphertext
    }

    public func encode(to writer: inout TLSWriter) {
        writer.writeOpaque(kemOutput)
        writer.writeOpaque(ciphertext)
    }

    public init(from reader: inout TLSReader) throws {
        kemOutput = try reader.readOpaque()
        ciphertext = try reader.readOpaque()
    }
}

/// The labeled functions of RFC 9420 (§5.1–§5.2, §8). Everything in MLSKit that derives, signs,
/// encrypts or hashes under a label goes through these, so the label encodings live in one place.
extension CipherSuite {
    /// Encodes two labeled vectors `{opaque label<V> = "MLS 1.0 " + label; opaque body<V>}`, the
    /// shape shared by KDFLabel's tail, SignContent and EncryptContext.
    private func labeled(_ label: some Collection<UInt8>, _ body: [UInt8]) -> [UInt8] {
        var w = TLSWriter(capacity: 16 + label.count + body.count)
        w.writeOpaque(mlsLabelPrefix + Array(label))
        w.writeOpaque(body)
        return w.bytes
    }

    /// `ExpandWithLabel(Secret, Label, Context, Length)` (RFC 9420 §8).
    public func expandWithLabel(secret: SecretBytes, label: String, context: [UInt8], length: Int) throws -> SecretBytes {
        try expandWithLabel(secret: secret, label: Array(label.utf8), context: context, length: length)
    }

    /// `ExpandWithLabel` with a label given as bytes (exporter labels are arbitrary bytes, §8.5).
    public func expandWithLabel(secret: SecretBytes, label: [UInt8], context: [UInt8], length: Int) throws -> SecretBytes {
        guard length >= 0, length <= Int(UInt16.max) else { throw CryptoError.invalidLength("ExpandWithLabel length \(length)") }
        var w = TLSWriter()
        w.writeUInt16(UInt16(length))
        w.writeRaw(labeled(label, context))
        return try expand(prk: secret, info: w.bytes, length: length)
    }

    /// `DeriveSecret(Secret, Label)` (RFC 9420 §8).
    public func deriveSecret(secret: SecretBytes, label: String) throws -> SecretBytes {
        try expandWithLabel(secret: secret, label: label, context: [], length: kdfLength)
    }

    /// `DeriveSecret` with a label given as bytes.
    public func deriveSecret(secret: SecretBytes, label: [UInt8]) throws -> SecretBytes {
        try expandWithLabel(secret: secret, label: label, context: [], length: kdfLength)
    }

    /// `DeriveTreeSecret(Secret, Label, Generation, Length)` (RFC 9420 §9.1).
    public func deriveTreeSecret(secret: SecretBytes, label: String, generation: UInt32, length: Int) throws -> SecretBytes {
        var w = TLSWriter()
        w.writeUInt32(generation)
        return try expandWithLabel(secret: secret, label: label, context: w.bytes, length: length)
    }

    /// `SignWithLabel(SignatureKey, Label, Content)` (RFC 9420 §5.1.2).
    public func signWithLabel(privateKey: SecretBytes, label: String, content: [UInt8]) throws -> [UInt8] {
        try signature.sign(labeled(label.utf8, content), privateKey: privateKey)
    }

    /// `SignWithLabel(SignatureKey, Label, Content)` (RFC 9420 §5.1.2) through a signer, which
    /// must use this suite's signature scheme.
    public func signWithLabel(signer: any MLSSigner, label: String, content: [UInt8]) throws -> [UInt8] {
        guard signer.scheme == signature else { throw CryptoError.invalidPrivateKey("the signer's scheme is not the suite's") }
        return try signer.sign(labeled(label.utf8, content))
    }

    /// `VerifyWithLabel(VerificationKey, Label, Content, SignatureValue)` (RFC 9420 §5.1.2).
    public func verifyWithLabel(publicKey: [UInt8], label: String, content: [UInt8], signature sig: [UInt8]) -> Bool {
        signature.verify(sig, for: labeled(label.utf8, content), publicKey: publicKey)
    }

    /// `EncryptWithLabel(PublicKey, Label, Context, Plaintext)` (RFC 9420 §5.1.3): HPKE base-mode
    /// `SealBase` with the EncryptContext as `info` and an empty `aad`.
    @_spi(Engine) public func encryptWithLabel(publicKey: [UInt8], label: String, context: [UInt8], plaintext: [UInt8]) throws -> HPKECiphertext {
        let sealed = try hpke.seal(publicKey: publicKey, info: labeled(label.utf8, context), aad: [], plaintext: plaintext)
        return HPKECiphertext(kemOutput: sealed.enc, ciphertext: sealed.ciphertext)
    }

    /// The `info` of `EncryptWithLabel(·, Label, Context, ·)` prepared once, for sealing to many
    /// recipients under one large context (a Welcome's encrypted GroupInfo, §12.4.3.1).
    @_spi(Engine) public func prepareEncryption(label: String, context: [UInt8]) -> HPKE.PreparedInfo {
        hpke.prepare(info: labeled(label.utf8, context))
    }

    /// `EncryptWithLabel(PublicKey, Label, Context, Plaintext)` (RFC 9420 §5.1.3) with the label
    /// and context prepared by ``prepareEncryption(label:context:)``.
    @_spi(Engine) public func encryptWithLabel(publicKey: [UInt8], prepared: HPKE.PreparedInfo, plaintext: [UInt8]) throws -> HPKECiphertext {
        let sealed = try hpke.seal(publicKey: publicKey, prepared: prepared, aad: [], plaintext: plaintext)
        return HPKECiphertext(kemOutput: sealed.enc, ciphertext: sealed.ciphertext)
    }

    /// `DecryptWithLabel(PrivateKey, Label, Context, KEMOutput, Ciphertext)` (RFC 9420 §5.1.3).
    @_spi(Engine) public func decryptWithLabel(privateKey: SecretBytes, label: String, context: [UInt8], ciphertext: HPKECiphertext) throws -> [UInt8] {
        try hpke.open(privateKey: privateKey, enc: ciphertext.kemOutput, info: labeled(label.utf8, context), aad: [], ciphertext: ciphertext.ciphertext)
    }

    /// `RefHash(label, value)` (RFC 9420 §5.2). The label is used as given (callers pass the full
    /// `"MLS 1.0 KeyPackage Reference"` / `"MLS 1.0 Proposal Reference"`).
    public func refHash(label: String, value: [UInt8]) -> [UInt8] {
        var w = TLSWriter(capacity: value.count + 40)
        w.writeOpaque(Array(label.utf8))
        w.writeOpaque(value)
        return digest(w.bytes)
    }

    /// `MakeKeyPackageRef(value)` over an encoded KeyPackage (RFC 9420 §5.2).
    public func keyPackageRef(_ encodedKeyPackage: [UInt8]) -> [UInt8] {
        refHash(label: "MLS 1.0 KeyPackage Reference", value: encodedKeyPackage)
    }

    /// `MakeProposalRef(value)` over an encoded AuthenticatedContent (RFC 9420 §5.2).
    public func proposalRef(_ encodedAuthenticatedContent: [UInt8]) -> [UInt8] {
        refHash(label: "MLS 1.0 Proposal Reference", value: encodedAuthenticatedContent)
    }
}
