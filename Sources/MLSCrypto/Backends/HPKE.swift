/// HPKE (RFC 9180) in base mode.
///
/// Only what MLS needs is provided (RFC 9420 §5.1.3, §12.4.3.1): the single-shot APIs of §6 in
/// `mode_base` (sequence number 0), with a DHKEM of §4.1 and HKDF of §7.2. Keys use the
/// SerializePublicKey/SerializePrivateKey encodings of §7.1.1–§7.1.2.
@_spi(Engine) public struct HPKE: Sendable, Hashable {
    /// The KEM.
    public let kem: KEMAlgorithm
    /// The KDF of the key schedule (HKDF over this hash); the KEM has its own (`kem.kdf`).
    public let kdf: HashAlgorithm
    /// The AEAD.
    public let aead: AEADAlgorithm

    /// The HPKE instance of one (KEM, KDF, AEAD) ciphersuite (RFC 9180 §7).
    public init(kem: KEMAlgorithm, kdf: HashAlgorithm, aead: AEADAlgorithm) { self.kem = kem; self.kdf = kdf; self.aead = aead }

    /// `GenerateKeyPair()` (RFC 9180 §4): a fresh KEM key pair from the OS CSPRNG, computed as
    /// `DeriveKeyPair(random(Nsk))`.
    public func generateKeyPair() -> (privateKey: SecretBytes, publicKey: [UInt8]) {
        kem.generateKeyPair()
    }

    /// `DeriveKeyPair(ikm)` (RFC 9180 §7.1.3), deterministic in `ikm`.
    ///
    /// Throws `CryptoError.deriveKeyPairFailed` if no valid NIST-curve scalar is found in 256
    /// candidates (probability negligible).
    public func deriveKeyPair(ikm: SecretBytes) throws -> (privateKey: SecretBytes, publicKey: [UInt8]) {
        try kem.deriveKeyPair(ikm: ikm)
    }

    /// `SerializePublicKey(pk(sk))` (RFC 9180 §7.1.1) of a serialized private key.
    ///
    /// Throws `CryptoError.invalidPrivateKey` for a key of the wrong length or, on the NIST curves,
    /// a scalar outside `[1, n-1]`. NIST-curve keys shorter than `Nsk` are read as big-endian
    /// integers whose leading zero bytes were stripped.
    public func publicKey(for privateKey: SecretBytes) throws -> [UInt8] {
        try kem.publicKey(for: privateKey)
    }

    /// `SealBase(pkR, info, aad, pt)` (RFC 9180 §6.1) with a fresh ephemeral key.
    ///
    /// Throws `invalidPublicKey` for a malformed or off-curve `publicKey` and `invalidSharedSecret`
    /// for a low-order X25519/X448 key (§7.1.4).
    public func seal(publicKey: [UInt8], info: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws -> (enc: [UInt8], ciphertext: [UInt8]) {
        try seal(publicKey: publicKey, info: info, aad: aad, plaintext: plaintext, ephemeral: kem.generateKeyPair())
    }

    /// The part of the key schedule that depends only on `info` (§5.1: `psk_id_hash` and
    /// `info_hash`), computed once for many seals under the same `info`.
    ///
    /// RFC 9420's Welcome seals each new member's GroupSecrets with the whole encrypted GroupInfo
    /// (which carries the ratchet tree) as HPKE `info` (§12.4.3.1): hashing it once per recipient
    /// would make a Welcome for N members cost O(N²).
    public struct PreparedInfo: Sendable {
        let keyScheduleContext: [UInt8]
    }

    /// Prepares `info` for ``seal(publicKey:prepared:aad:plaintext:)``.
    public func prepare(info: [UInt8]) -> PreparedInfo {
        let kdf = labeledKDF
        let empty = SecretBytes(zeros: 0)
        let pskIDHash = kdf.extract(salt: empty, label: "psk_id_hash", ikm: [UInt8]())
        let infoHash = kdf.extract(salt: empty, label: "info_hash", ikm: info)
        // Both hashes are of public inputs, so the context may live in an ordinary array.
        let modeBase: UInt8 = 0x00
        return PreparedInfo(keyScheduleContext: [modeBase] + pskIDHash.unsafeCopiedBytes() + infoHash.unsafeCopiedBytes())
    }

    /// `SealBase(pkR, info, aad, pt)` with `info` prepared once by ``prepare(info:)``.
    public func seal(publicKey: [UInt8], prepared: PreparedInfo, aad: [UInt8], plaintext: [UInt8]) throws -> (enc: [UInt8], ciphertext: [UInt8]) {
        let (sharedSecret, enc) = try kem.encap(recipientPublicKey: publicKey, ephemeral: kem.generateKeyPair())
        let context = try keySchedule(sharedSecret: sharedSecret, prepared: prepared)
        return (enc, try aead.seal(key: context.key, nonce: context.baseNonce, aad: aad, plaintext: plaintext))
    }

    /// `SealBase` with the ephemeral key pair `DeriveKeyPair(ephemeralIKM)`, as in the RFC 9180
    /// Appendix A test vectors.
    ///
    /// For tests only: reusing an `ephemeralIKM` for a second message reuses the AEAD key and nonce.
    public func seal(publicKey: [UInt8], info: [UInt8], aad: [UInt8], plaintext: [UInt8], ephemeralIKM: SecretBytes) throws -> (enc: [UInt8], ciphertext: [UInt8]) {
        try seal(publicKey: publicKey, info: info, aad: aad, plaintext: plaintext, ephemeral: kem.deriveKeyPair(ikm: ephemeralIKM))
    }

    /// `OpenBase(enc, skR, info, aad, ct)` (RFC 9180 §6.1).
    ///
    /// Throws `decryptionFailed` if the AEAD rejects the ciphertext (wrong key, info, aad or a
    /// modified ciphertext), `invalidPublicKey`/`invalidSharedSecret` for a bad `enc`, and
    /// `invalidPrivateKey` for a malformed `privateKey`.
    public func open(privateKey: SecretBytes, enc: [UInt8], info: [UInt8], aad: [UInt8], ciphertext: [UInt8]) throws -> [UInt8] {
        let context = try setupBaseR(enc: enc, privateKey: privateKey, info: info)
        return try aead.open(key: context.key, nonce: context.baseNonce, aad: aad, ciphertext: ciphertext)
    }

    /// `SendExportBase(pkR, info, exporter_context, L)` (RFC 9180 §6.2): `enc` and the exported
    /// secret of a fresh sender context. Throws `invalidLength` if `L` exceeds 255 × Nh.
    public func sendExport(publicKey: [UInt8], info: [UInt8], exporterContext: [UInt8], length: Int) throws -> (enc: [UInt8], secret: SecretBytes) {
        try sendExport(publicKey: publicKey, info: info, exporterContext: exporterContext, length: length, ephemeral: kem.generateKeyPair())
    }

    /// `SendExportBase` with the ephemeral key pair `DeriveKeyPair(ephemeralIKM)`; for tests only.
    public func sendExport(publicKey: [UInt8], info: [UInt8], exporterContext: [UInt8], length: Int, ephemeralIKM: SecretBytes) throws -> (enc: [UInt8], secret: SecretBytes) {
        try sendExport(publicKey: publicKey, info: info, exporterContext: exporterContext, length: length, ephemeral: kem.deriveKeyPair(ikm: ephemeralIKM))
    }

    /// `ReceiveExportBase(enc, skR, info, exporter_context, L)` (RFC 9180 §6.2). Throws
    /// `invalidLength` if `L` exceeds 255 × Nh.
    public func receiveExport(privateKey: SecretBytes, enc: [UInt8], info: [UInt8], exporterContext: [UInt8], length: Int) throws -> SecretBytes {
        let context = try setupBaseR(enc: enc, privateKey: privateKey, info: info)
        return try context.export(exporterContext: exporterContext, length: length)
    }

    // MARK: Setup and key schedule (RFC 9180 §5.1)

    /// The HPKE key schedule context after `SetupBaseS`/`SetupBaseR` (§5.1). Its sequence number is
    /// always 0 here, so the nonce is `base_nonce` itself (§5.2).
    struct Context {
        let suite: HPKE
        let key: SecretBytes
        let baseNonce: [UInt8]
        let exporterSecret: SecretBytes

        /// `Context.Export(exporter_context, L)` (§5.3).
        func export(exporterContext: [UInt8], length: Int) throws -> SecretBytes {
            guard length >= 0, length <= 255 * suite.kdf.outputLength else {
                throw CryptoError.invalidLength("HPKE export length \(length) outside 0...\(255 * suite.kdf.outputLength)")
            }
            return try suite.labeledKDF.expand(prk: exporterSecret, label: "sec", info: exporterContext, length: length)
        }
    }

    /// LabeledExtract/LabeledExpand with `suite_id = "HPKE" || kem_id || kdf_id || aead_id` (§5.1).
    var labeledKDF: HPKELabeledKDF {
        HPKELabeledKDF(
            hash: kdf,
            suiteID: Array("HPKE".utf8) + bigEndian16(kem.hpkeKEMID) + bigEndian16(kdf.hpkeKDFID) + bigEndian16(aead.hpkeAEADID))
    }

    /// `KeySchedule<ROLE>(mode_base, shared_secret, info, "", "")` (§5.1).
    func keySchedule(sharedSecret: SecretBytes, info: [UInt8]) throws -> Context {
        try keySchedule(sharedSecret: sharedSecret, prepared: prepare(info: info))
    }

    /// The key schedule with its `info`-dependent part already computed.
    func keySchedule(sharedSecret: SecretBytes, prepared: PreparedInfo) throws -> Context {
        let kdf = labeledKDF
        let empty = SecretBytes(zeros: 0)
        let keyScheduleContext = prepared.keyScheduleContext
        let secret = kdf.extract(salt: sharedSecret, label: "secret", ikm: empty)
        return Context(
            suite: self,
            key: try kdf.expand(prk: secret, label: "key", info: keyScheduleContext, length: aead.keyLength),
            baseNonce: try kdf.expand(prk: secret, label: "base_nonce", info: keyScheduleContext, length: aead.nonceLength).unsafeCopiedBytes(),
            exporterSecret: try kdf.expand(prk: secret, label: "exp", info: keyScheduleContext, length: self.kdf.outputLength))
    }

    /// `SetupBaseS(pkR, info)` (§5.1.1) with the given ephemeral key pair.
    func setupBaseS(publicKey: [UInt8], info: [UInt8], ephemeral: (privateKey: SecretBytes, publicKey: [UInt8])) throws -> (enc: [UInt8], context: Context) {
        let (sharedSecret, enc) = try kem.encap(recipientPublicKey: publicKey, ephemeral: ephemeral)
        return (enc, try keySchedule(sharedSecret: sharedSecret, info: info))
    }

    /// `SetupBaseR(enc, skR, info)` (§5.1.1).
    func setupBaseR(enc: [UInt8], privateKey: SecretBytes, info: [UInt8]) throws -> Context {
        let sharedSecret = try kem.decap(enc: enc, recipientPrivateKey: privateKey)
        return try keySchedule(sharedSecret: sharedSecret, info: info)
    }

    private func seal(publicKey: [UInt8], info: [UInt8], aad: [UInt8], plaintext: [UInt8], ephemeral: (privateKey: SecretBytes, publicKey: [UInt8])) throws -> (enc: [UInt8], ciphertext: [UInt8]) {
        let (enc, context) = try setupBaseS(publicKey: publicKey, info: info, ephemeral: ephemeral)
        return (enc, try aead.seal(key: context.key, nonce: context.baseNonce, aad: aad, plaintext: plaintext))
    }

    private func sendExport(publicKey: [UInt8], info: [UInt8], exporterContext: [UInt8], length: Int, ephemeral: (privateKey: SecretBytes, publicKey: [UInt8])) throws -> (enc: [UInt8], secret: SecretBytes) {
        let (enc, context) = try setupBaseS(publicKey: publicKey, info: info, ephemeral: ephemeral)
        return (enc, try context.export(exporterContext: exporterContext, length: length))
    }
}
