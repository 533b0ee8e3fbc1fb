@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

// The committer's side of RFC 9420 §12.4.3.1: seal the GroupInfo once, then the GroupSecrets to
// every new member's init key.

extension WelcomeCrypto {
    /// A GroupInfo for the new epoch with `confirmation_tag = MAC(confirmation_key,
    /// confirmed_transcript_hash)` and signed as `signer` (RFC 9420 §12.4.3, §6.1, §8).
    ///
    /// The tag is computed from `epoch` and the GroupContext's own transcript hash, which is
    /// exactly what a joiner recomputes (§12.4.3.1), so a GroupInfo built here always verifies.
    ///
    /// - Parameters:
    ///   - epoch: the key schedule of the epoch `groupContext` describes.
    ///   - signerLeaf: the committer's leaf index.
    ///   - signer: signs with the key of that leaf's `signature_key`.
    public static func signedGroupInfo(
        suite: CipherSuite, groupContext: GroupContext, extensions: [Extension], epoch: KeyScheduleEpoch,
        signerLeaf: UInt32, signer: any MLSSigner
    ) throws(WelcomeError) -> GroupInfo {
        let tag = TranscriptHash.confirmationTag(suite: suite, confirmationKey: epoch.confirmationKey,
                                                 confirmed: groupContext.confirmedTranscriptHash)
        var info = GroupInfo(groupContext: groupContext, extensions: extensions, confirmationTag: tag, signer: signerLeaf, signature: [])
        do {
            try info.sign(suite: suite, signer: signer)
        } catch {
            throw .crypto(asCryptoError(error))
        }
        return info
    }

    /// One `EncryptedGroupSecrets` per recipient, in the order given (RFC 9420 §12.4.3.1):
    /// `new_member = MakeKeyPackageRef(key_package)` and
    /// `encrypted_group_secrets = EncryptWithLabel(init_key, "Welcome", encrypted_group_info, GroupSecrets)`.
    ///
    /// Using `encrypted_group_info` as the HPKE context binds each member's secrets to this one
    /// GroupInfo ciphertext, so entries cannot be moved between Welcomes.
    ///
    /// Each seal is an independent HPKE encapsulation (a key generation and a Diffie-Hellman), the
    /// dominant cost of adding many members at once, so the seals run on all cores through
    /// ``parallelMap(_:minimumBatch:_:)``; the output is the same as sealing sequentially.
    ///
    /// The recipients' KeyPackages are assumed already validated as Add proposals require
    /// (RFC 9420 §12.2); this only checks that each is for `suite`.
    ///
    /// - Throws: ``WelcomeError/cipherSuiteMismatch`` if a KeyPackage is for another suite,
    ///   ``WelcomeError/crypto(_:)`` if an `init_key` is not a valid public key (for the
    ///   lowest-index such recipient).
    public static func encryptGroupSecrets(
        suite: CipherSuite, recipients: [(keyPackage: KeyPackage, secrets: GroupSecrets)], encryptedGroupInfo: [UInt8]
    ) throws(WelcomeError) -> [EncryptedGroupSecrets] {
        // Checked up front so no HPKE work is wasted on a Welcome that cannot be sent.
        guard recipients.allSatisfy({ $0.keyPackage.cipherSuite == suite.id }) else { throw .cipherSuiteMismatch }
        // The context, the whole encrypted GroupInfo, is hashed once for all recipients.
        let prepared = suite.prepareEncryption(label: groupSecretsLabel, context: encryptedGroupInfo)
        return try parallelMap(recipients, minimumBatch: 4) { (recipient) throws(WelcomeError) -> EncryptedGroupSecrets in
            var plaintext = recipient.secrets.tlsSerialized
            defer { wipe(&plaintext) }
            do {
                let sealed = try suite.encryptWithLabel(publicKey: recipient.keyPackage.initKey, prepared: prepared, plaintext: plaintext)
                return EncryptedGroupSecrets(newMember: recipient.keyPackage.ref(suite: suite), encryptedGroupSecrets: sealed)
            } catch {
                throw .crypto(asCryptoError(error))
            }
        }
    }

    /// A complete Welcome (RFC 9420 §12.4.3.1): `groupInfo` (already carrying its confirmation
    /// tag and signature, e.g. from ``signedGroupInfo(suite:groupContext:extensions:epoch:signerLeaf:signer:)``)
    /// sealed under `welcomeSecret`, and each recipient's GroupSecrets sealed to its init key.
    ///
    /// - Parameter welcomeSecret: `welcome_secret` of the new epoch (RFC 9420 §8); it must have
    ///   been derived from the joiner secret and PSKs the recipients' GroupSecrets carry.
    public static func makeWelcome(
        suite: CipherSuite, groupInfo: GroupInfo, welcomeSecret: SecretBytes,
        recipients: [(keyPackage: KeyPackage, secrets: GroupSecrets)]
    ) throws(WelcomeError) -> Welcome {
        guard groupInfo.groupContext.cipherSuite == suite.id else { throw .cipherSuiteMismatch }
        let encryptedGroupInfo = try encryptGroupInfo(suite: suite, groupInfo: groupInfo, welcomeSecret: welcomeSecret)
        let secrets = try encryptGroupSecrets(suite: suite, recipients: recipients, encryptedGroupInfo: encryptedGroupInfo)
        return Welcome(cipherSuite: suite.id, secrets: secrets, encryptedGroupInfo: encryptedGroupInfo)
    }
}
