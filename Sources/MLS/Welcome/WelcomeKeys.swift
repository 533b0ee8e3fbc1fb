@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// The cryptography of Welcome messages (RFC 9420 §12.4.3.1): sealing the GroupInfo and the
/// per-member GroupSecrets on the committer's side, and opening and authenticating them on the
/// joiner's side.
///
/// This layer is stateless and knows nothing about ratchet trees: a joiner's caller supplies the
/// signer's public key (taken from the tree's `signer` leaf) and, when GroupSecrets name PSKs,
/// the PSK secret. Tree validation and path-secret processing happen in the group layer.
@_spi(Engine) public enum WelcomeCrypto {
    /// The label of `EncryptWithLabel` for GroupSecrets (RFC 9420 §12.4.3.1, §5.1.3).
    public static let groupSecretsLabel = "Welcome"

    /// `welcome_key = ExpandWithLabel(welcome_secret, "key", "", AEAD.Nk)` (RFC 9420 §12.4.3.1).
    public static func welcomeKey(suite: CipherSuite, welcomeSecret: SecretBytes) throws(WelcomeError) -> SecretBytes {
        try expand(suite: suite, welcomeSecret: welcomeSecret, label: "key", length: suite.aead.keyLength)
    }

    /// `welcome_nonce = ExpandWithLabel(welcome_secret, "nonce", "", AEAD.Nn)` (RFC 9420 §12.4.3.1).
    ///
    /// A fixed nonce is safe here because a welcome secret is fresh per epoch and seals only that
    /// epoch's one GroupInfo; several Welcomes for the same Commit re-seal the same plaintext and
    /// so reproduce the same ciphertext. Callers must not seal two different GroupInfos under one
    /// welcome secret.
    public static func welcomeNonce(suite: CipherSuite, welcomeSecret: SecretBytes) throws(WelcomeError) -> [UInt8] {
        try expand(suite: suite, welcomeSecret: welcomeSecret, label: "nonce", length: suite.aead.nonceLength).unsafeCopiedBytes()
    }

    private static func expand(suite: CipherSuite, welcomeSecret: SecretBytes, label: String, length: Int) throws(WelcomeError) -> SecretBytes {
        do {
            return try suite.expandWithLabel(secret: welcomeSecret, label: label, context: [], length: length)
        } catch {
            throw .crypto(asCryptoError(error))
        }
    }

    /// `encrypted_group_info`: the encoded, already signed GroupInfo sealed with the welcome key
    /// and nonce and an empty AAD (RFC 9420 §12.4.3.1).
    ///
    /// - Parameter welcomeSecret: `welcome_secret` of the new epoch (RFC 9420 §8), e.g.
    ///   ``KeyScheduleEpoch/welcomeSecret``.
    public static func encryptGroupInfo(suite: CipherSuite, groupInfo: GroupInfo, welcomeSecret: SecretBytes) throws(WelcomeError) -> [UInt8] {
        let key = try welcomeKey(suite: suite, welcomeSecret: welcomeSecret)
        let nonce = try welcomeNonce(suite: suite, welcomeSecret: welcomeSecret)
        do {
            return try suite.aead.seal(key: key, nonce: nonce, aad: [], plaintext: groupInfo.tlsSerialized)
        } catch {
            throw .crypto(asCryptoError(error))
        }
    }

    /// Opens `encrypted_group_info` with the welcome key and nonce and decodes the GroupInfo
    /// strictly (RFC 9420 §12.4.3.1). Checks nothing about the GroupInfo's content: see
    /// ``verifyGroupInfo(_:suite:signerPublicKey:)`` and ``verifyConfirmationTag(_:suite:joinerSecret:pskSecret:)``.
    ///
    /// - Throws: ``WelcomeError/groupInfoUndecryptable`` if the AEAD fails (wrong welcome secret or
    ///   a modified ciphertext), ``WelcomeError/malformedGroupInfo(_:)`` if the plaintext is not
    ///   exactly one GroupInfo.
    public static func decryptGroupInfo(suite: CipherSuite, encryptedGroupInfo: [UInt8], welcomeSecret: SecretBytes) throws(WelcomeError) -> GroupInfo {
        let key = try welcomeKey(suite: suite, welcomeSecret: welcomeSecret)
        let nonce = try welcomeNonce(suite: suite, welcomeSecret: welcomeSecret)
        let plaintext: [UInt8]
        do {
            plaintext = try suite.aead.open(key: key, nonce: nonce, aad: [], ciphertext: encryptedGroupInfo)
        } catch {
            throw .groupInfoUndecryptable
        }
        do {
            return try GroupInfo(tlsSerialized: plaintext)
        } catch {
            throw .malformedGroupInfo("\(error)")
        }
    }

    /// The CryptoError inside an untyped error from MLSCrypto (which only throws CryptoError).
    static func asCryptoError(_ error: any Error) -> CryptoError {
        error as? CryptoError ?? .backend("\(error)")
    }

    /// Overwrites a plaintext that held secrets (an encoded GroupSecrets) before it is released.
    static func wipe(_ bytes: inout [UInt8]) {
        // SecretBytes(zeroizing:) wipes its source with sodium_memzero, which the optimiser may not
        // elide; the short-lived copy it makes is itself zeroized when released.
        _ = SecretBytes(zeroizing: &bytes)
    }
}
