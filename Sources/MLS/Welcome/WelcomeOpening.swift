@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

// The joiner's side of RFC 9420 §12.4.3.1. The steps are public one by one so the group layer can
// interleave its own (finding the signer's leaf in the ratchet tree, tree validation), and
// composed in `open` for callers that already know the signer's key.

/// The contents of the GroupSecrets addressed to us (RFC 9420 §12.4.3.1), with the secrets
/// moved into zeroizing ``SecretBytes`` the moment they were decoded.
@_spi(Engine) public struct DecryptedGroupSecrets: Sendable {
    /// `joiner_secret` (RFC 9420 §8, §12.4.3.1): `KDF.Nh` bytes.
    public let joinerSecret: SecretBytes
    /// `path_secret`, if the committer sent one (RFC 9420 §12.4.3.1): the path secret of the
    /// lowest common ancestor of our leaf and the committer's.
    public let pathSecret: SecretBytes?
    /// `psks`: the PSKs to include in the key schedule (RFC 9420 §8.4, §12.4.3.1).
    public let psks: [PreSharedKeyID]

    /// Creates decrypted group secrets from their parts (RFC 9420 §12.4.3.1).
    public init(joinerSecret: SecretBytes, pathSecret: SecretBytes?, psks: [PreSharedKeyID]) {
        self.joinerSecret = joinerSecret
        self.pathSecret = pathSecret
        self.psks = psks
    }

    /// The resumption PSK with usage `reinit` or `branch`, if any (RFC 9420 §8.6, §12.4.3.1).
    public var reinitOrBranchPSK: PreSharedKeyID? {
        psks.first(where: Self.isReinitOrBranch)
    }

    static func isReinitOrBranch(_ id: PreSharedKeyID) -> Bool {
        if case let .resumption(usage, _, _) = id.psk { return usage == .reinit || usage == .branch }
        return false
    }
}

/// The authenticated result of joining via a Welcome (RFC 9420 §12.4.3.1): everything the group
/// layer needs to build the new member's state, apart from the ratchet tree.
@_spi(Engine) public struct OpenedWelcome: Sendable {
    /// The group's cipher suite (equal for the Welcome, the KeyPackage and the GroupContext).
    public let suite: CipherSuite
    /// The decrypted GroupInfo, signature and confirmation tag verified (RFC 9420 §12.4.3).
    public let groupInfo: GroupInfo
    /// Our decrypted GroupSecrets (RFC 9420 §12.4.3.1).
    public let groupSecrets: DecryptedGroupSecrets
    /// The key schedule of the joined epoch, derived from `joiner_secret`, the PSK secret and the
    /// GroupInfo's GroupContext (RFC 9420 §8).
    public let epoch: KeyScheduleEpoch
    /// `interim_transcript_hash` of the joined epoch, from the confirmed transcript hash and the
    /// verified confirmation tag (RFC 9420 §8.2, §12.4.3.1).
    public let interimTranscriptHash: [UInt8]

    /// The joined epoch's GroupContext (RFC 9420 §8.1).
    public var groupContext: GroupContext { groupInfo.groupContext }
}

extension WelcomeCrypto {
    /// The suite of a Welcome, refusing code points this library does not implement (RFC 9420 §17.1).
    public static func suite(of welcome: Welcome) throws(WelcomeError) -> CipherSuite {
        guard let suite = CipherSuite(id: welcome.cipherSuite) else { throw .unsupportedCipherSuite(welcome.cipherSuite) }
        return suite
    }

    /// Finds our entry in `welcome.secrets` and decrypts it (RFC 9420 §12.4.3.1):
    /// `GroupSecrets = DecryptWithLabel(init_priv, "Welcome", encrypted_group_info, kem_output, ciphertext)`.
    ///
    /// Our entry is the one whose `new_member` equals `MakeKeyPackageRef(keyPackage)` under the
    /// Welcome's suite. The plaintext must decode as exactly one GroupSecrets; the joiner secret
    /// must be `KDF.Nh` bytes (it is an `ExpandWithLabel` output, §8); and at most one PSK may be
    /// a `reinit` or `branch` resumption PSK (§12.4.3.1).
    ///
    /// - Parameters:
    ///   - keyPackage: the KeyPackage we published; its `cipher_suite` must equal the Welcome's.
    ///   - initPrivateKey: the HPKE private key of `keyPackage.init_key`.
    public static func decryptGroupSecrets(
        _ welcome: Welcome, keyPackage: KeyPackage, initPrivateKey: SecretBytes
    ) throws(WelcomeError) -> DecryptedGroupSecrets {
        let suite = try suite(of: welcome)
        guard keyPackage.cipherSuite == welcome.cipherSuite else { throw .cipherSuiteMismatch }
        let ref = keyPackage.ref(suite: suite)
        // KeyPackageRefs are public hashes, so an ordinary comparison leaks nothing.
        guard let entry = welcome.secrets.first(where: { $0.newMember == ref }) else { throw .noSecretsForKeyPackage }

        var plaintext: [UInt8]
        do {
            plaintext = try suite.decryptWithLabel(privateKey: initPrivateKey, label: groupSecretsLabel,
                                                   context: welcome.encryptedGroupInfo, ciphertext: entry.encryptedGroupSecrets)
        } catch {
            // Wrong key, modified ciphertext or context, malformed kem_output: all one failure.
            throw .groupSecretsUndecryptable
        }
        defer { wipe(&plaintext) }

        var decoded: GroupSecrets
        do {
            decoded = try GroupSecrets(tlsSerialized: plaintext)
        } catch {
            throw .malformedGroupSecrets("\(error)")
        }
        // Move the secrets out of the plain arrays at once; `decoded` owns fresh, unshared buffers.
        let joinerSecret = SecretBytes(zeroizing: &decoded.joinerSecret)
        var pathSecret: SecretBytes?
        if var path = decoded.pathSecret {
            decoded.pathSecret = nil
            pathSecret = SecretBytes(zeroizing: &path.pathSecret)
        }

        guard joinerSecret.count == suite.kdfLength else {
            throw .malformedGroupSecrets("joiner_secret is \(joinerSecret.count) bytes, expected \(suite.kdfLength)")
        }
        guard decoded.psks.filter(DecryptedGroupSecrets.isReinitOrBranch).count <= 1 else {
            throw .malformedGroupSecrets("more than one reinit or branch resumption PSK")
        }
        return DecryptedGroupSecrets(joinerSecret: joinerSecret, pathSecret: pathSecret, psks: decoded.psks)
    }

    /// Derives `welcome_secret` from the joiner secret and PSK secret, then opens and decodes the
    /// Welcome's GroupInfo (RFC 9420 §8, §12.4.3.1).
    ///
    /// - Parameter pskSecret: `psk_secret` over the GroupSecrets' PSKs (RFC 9420 §8.4), `nil` when
    ///   there are none (the all-zero value).
    public static func decryptGroupInfo(
        _ welcome: Welcome, joinerSecret: SecretBytes, pskSecret: SecretBytes?
    ) throws(WelcomeError) -> GroupInfo {
        let suite = try suite(of: welcome)
        let welcomeSecret: SecretBytes
        do {
            welcomeSecret = try KeyScheduleEpoch.welcomeSecret(suite: suite, joinerSecret: joinerSecret, pskSecret: pskSecret)
        } catch {
            throw .crypto(asCryptoError(error))
        }
        return try decryptGroupInfo(suite: suite, encryptedGroupInfo: welcome.encryptedGroupInfo, welcomeSecret: welcomeSecret)
    }

    /// Checks the GroupInfo signature: `VerifyWithLabel(signer_pub, "GroupInfoTBS", GroupInfoTBS,
    /// signature)` (RFC 9420 §12.4.3, §12.4.3.1).
    ///
    /// - Parameter signerPublicKey: the `signature_key` of the ratchet tree's leaf at
    ///   `groupInfo.signer`; a malformed key simply fails verification.
    public static func verifyGroupInfo(_ groupInfo: GroupInfo, suite: CipherSuite, signerPublicKey: [UInt8]) throws(WelcomeError) {
        guard groupInfo.verifySignature(suite: suite, publicKey: signerPublicKey) else { throw .invalidGroupInfoSignature }
    }

    /// Runs the key schedule of the joined epoch and checks the GroupInfo's confirmation tag
    /// (RFC 9420 §8, §12.4.3.1): `confirmation_tag == MAC(confirmation_key, confirmed_transcript_hash)`,
    /// compared in constant time. Returns the epoch's key schedule.
    ///
    /// The tag proves that whoever produced the GroupInfo knew the epoch secrets, which the
    /// signature alone does not: it binds the GroupContext to the joiner secret we received.
    public static func verifyConfirmationTag(
        _ groupInfo: GroupInfo, suite: CipherSuite, joinerSecret: SecretBytes, pskSecret: SecretBytes?
    ) throws(WelcomeError) -> KeyScheduleEpoch {
        let epoch: KeyScheduleEpoch
        do {
            epoch = try KeyScheduleEpoch.derive(suite: suite, joinerSecret: joinerSecret, pskSecret: pskSecret,
                                                groupContext: groupInfo.groupContext.tlsSerialized)
        } catch {
            throw .crypto(asCryptoError(error))
        }
        let expected = TranscriptHash.confirmationTag(suite: suite, confirmationKey: epoch.confirmationKey,
                                                      confirmed: groupInfo.groupContext.confirmedTranscriptHash)
        guard constantTimeEqual(expected, groupInfo.confirmationTag) else { throw .invalidConfirmationTag }
        return epoch
    }

    /// Joins via `welcome` (RFC 9420 §12.4.3.1), for a caller that resolves the signer's key and
    /// the PSKs only once it has seen the decrypted contents.
    ///
    /// In order: the Welcome's suite is supported and equals the KeyPackage's; our entry is found
    /// and decrypted; `resolvePSKs` yields the PSK secret; the GroupInfo is decrypted; its
    /// GroupContext's suite equals the Welcome's; a reinit/branch PSK requires `epoch == 1`; the
    /// signature verifies under `signerPublicKey(groupInfo)`; the confirmation tag verifies.
    ///
    /// - Parameters:
    ///   - resolvePSKs: called only when GroupSecrets name PSKs, with those IDs in order; returns
    ///     `psk_secret` (RFC 9420 §8.4) or `nil` if this client lacks any of them.
    ///   - signerPublicKey: returns the `signature_key` of the leaf at `groupInfo.signer` in the
    ///     group's ratchet tree, or `nil` if that leaf is blank or absent.
    /// - Throws: a ``WelcomeError`` naming the first check that failed.
    public static func open(
        _ welcome: Welcome, keyPackage: KeyPackage, initPrivateKey: SecretBytes,
        resolvePSKs: ([PreSharedKeyID]) -> SecretBytes?,
        signerPublicKey: (GroupInfo) -> [UInt8]?
    ) throws(WelcomeError) -> OpenedWelcome {
        let suite = try suite(of: welcome)
        let secrets = try decryptGroupSecrets(welcome, keyPackage: keyPackage, initPrivateKey: initPrivateKey)
        var pskSecret: SecretBytes?
        if !secrets.psks.isEmpty {
            guard let resolved = resolvePSKs(secrets.psks) else { throw .missingPSK }
            pskSecret = resolved
        }

        let groupInfo = try decryptGroupInfo(welcome, joinerSecret: secrets.joinerSecret, pskSecret: pskSecret)
        guard groupInfo.groupContext.cipherSuite == welcome.cipherSuite else { throw .cipherSuiteMismatch }
        if secrets.reinitOrBranchPSK != nil, groupInfo.groupContext.epoch != 1 {
            throw .malformedGroupInfo("a reinit or branch PSK requires epoch 1, got \(groupInfo.groupContext.epoch)")
        }
        // A blank or missing signer leaf is a verification failure (RFC 9420 §12.4.3.1).
        guard let signerKey = signerPublicKey(groupInfo) else { throw .invalidGroupInfoSignature }
        try verifyGroupInfo(groupInfo, suite: suite, signerPublicKey: signerKey)

        let epoch = try verifyConfirmationTag(groupInfo, suite: suite, joinerSecret: secrets.joinerSecret, pskSecret: pskSecret)
        let interim = TranscriptHash.interim(suite: suite, confirmed: groupInfo.groupContext.confirmedTranscriptHash,
                                             confirmationTag: groupInfo.confirmationTag)
        return OpenedWelcome(suite: suite, groupInfo: groupInfo, groupSecrets: secrets, epoch: epoch, interimTranscriptHash: interim)
    }

    /// Joins via `welcome` when the signer's public key is already known (RFC 9420 §12.4.3.1);
    /// see ``open(_:keyPackage:initPrivateKey:resolvePSKs:signerPublicKey:)`` for the checks.
    ///
    /// - Parameter pskSecret: `psk_secret` over the PSKs the GroupSecrets name (RFC 9420 §8.4);
    ///   ignored when they name none, and required (else ``WelcomeError/missingPSK``) when they do.
    public static func open(
        _ welcome: Welcome, keyPackage: KeyPackage, initPrivateKey: SecretBytes,
        signerPublicKey: [UInt8], pskSecret: SecretBytes? = nil
    ) throws(WelcomeError) -> OpenedWelcome {
        try open(welcome, keyPackage: keyPackage, initPrivateKey: initPrivateKey,
                 resolvePSKs: { _ in pskSecret }, signerPublicKey: { _ in signerPublicKey })
    }
}
