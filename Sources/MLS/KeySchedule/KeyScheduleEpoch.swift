@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// The secrets of one epoch, derived by the key schedule (RFC 9420 §8).
///
/// `epoch_secret` itself is used only inside ``derive(suite:joinerSecret:pskSecret:groupContext:)``
/// and never stored, so compromise of a stored epoch does not reveal it.
@_spi(Engine) public struct KeyScheduleEpoch: Sendable {
    /// The suite whose KDF produced these secrets.
    public let suite: CipherSuite
    /// `joiner_secret` (§8): what a Welcome transports to new members.
    public let joinerSecret: SecretBytes
    /// `welcome_secret` (§8): keys the encrypted GroupInfo of a Welcome.
    public let welcomeSecret: SecretBytes
    /// `sender_data_secret` (§8, §6.3.2).
    public let senderDataSecret: SecretBytes
    /// `encryption_secret` (§8): the root of the secret tree (§9).
    public let encryptionSecret: SecretBytes
    /// `exporter_secret` (§8.5).
    public let exporterSecret: SecretBytes
    /// `epoch_authenticator` (§8.7).
    public let epochAuthenticator: SecretBytes
    /// `external_secret` (§8.3): seeds the epoch's external HPKE key pair.
    public let externalSecret: SecretBytes
    /// `confirmation_key` (§8, §6.1).
    public let confirmationKey: SecretBytes
    /// `membership_key` (§8, §6.2).
    public let membershipKey: SecretBytes
    /// `resumption_psk` (§8.6).
    public let resumptionPSK: SecretBytes
    /// `init_secret` (§8): chains this epoch to the next.
    public let initSecret: SecretBytes

    /// Runs the key schedule from the previous epoch's `init_secret` (§8).
    ///
    /// - Parameters:
    ///   - initSecret: `init_secret_[n-1]` (or the random initial one for a new group, §11).
    ///   - commitSecret: the commit secret, or `nil` for the all-zero value (§8).
    ///   - pskSecret: the PSK secret (§8.4), or `nil` for the all-zero value.
    ///   - groupContext: the encoded GroupContext of the new epoch.
    public static func derive(
        suite: CipherSuite, initSecret: SecretBytes, commitSecret: SecretBytes?, pskSecret: SecretBytes?, groupContext: [UInt8]
    ) throws -> KeyScheduleEpoch {
        let joiner = try joinerSecret(suite: suite, initSecret: initSecret, commitSecret: commitSecret, groupContext: groupContext)
        return try derive(suite: suite, joinerSecret: joiner, pskSecret: pskSecret, groupContext: groupContext)
    }

    /// `joiner_secret = ExpandWithLabel(Extract(init_secret, commit_secret), "joiner", GroupContext, Nh)` (§8).
    public static func joinerSecret(
        suite: CipherSuite, initSecret: SecretBytes, commitSecret: SecretBytes?, groupContext: [UInt8]
    ) throws -> SecretBytes {
        let commit = commitSecret ?? SecretBytes(zeros: suite.kdfLength)
        let extracted = suite.extract(salt: initSecret, ikm: commit)
        return try suite.expandWithLabel(secret: extracted, label: "joiner", context: groupContext, length: suite.kdfLength)
    }

    /// Runs the key schedule from a `joiner_secret`, as a new member does after a Welcome (§8, §12.4.3.1).
    public static func derive(
        suite: CipherSuite, joinerSecret: SecretBytes, pskSecret: SecretBytes?, groupContext: [UInt8]
    ) throws -> KeyScheduleEpoch {
        let member = try memberSecret(suite: suite, joinerSecret: joinerSecret, pskSecret: pskSecret)
        let epoch = try suite.expandWithLabel(secret: member, label: "epoch", context: groupContext, length: suite.kdfLength)
        return try fromEpochSecret(suite: suite, epoch, joinerSecret: joinerSecret, welcomeSecret: try suite.deriveSecret(secret: member, label: "welcome"))
    }

    /// The first epoch of a new group, from a fresh random `epoch_secret` (§11). Such an epoch
    /// has no joiner or welcome secret; random values stand in for them and are never used.
    public static func initial(suite: CipherSuite) throws -> KeyScheduleEpoch {
        try fromEpochSecret(suite: suite, SecretBytes(randomCount: suite.kdfLength),
                            joinerSecret: SecretBytes(randomCount: suite.kdfLength), welcomeSecret: SecretBytes(randomCount: suite.kdfLength))
    }

    /// Every secret derived from `epoch_secret` (§8).
    static func fromEpochSecret(suite: CipherSuite, _ epoch: SecretBytes, joinerSecret: SecretBytes, welcomeSecret: SecretBytes) throws -> KeyScheduleEpoch {
        func derive(_ label: String) throws -> SecretBytes { try suite.deriveSecret(secret: epoch, label: label) }
        return KeyScheduleEpoch(
            suite: suite,
            joinerSecret: joinerSecret,
            welcomeSecret: welcomeSecret,
            senderDataSecret: try derive("sender data"),
            encryptionSecret: try derive("encryption"),
            exporterSecret: try derive("exporter"),
            epochAuthenticator: try derive("authentication"),
            externalSecret: try derive("external"),
            confirmationKey: try derive("confirm"),
            membershipKey: try derive("membership"),
            resumptionPSK: try derive("resumption"),
            initSecret: try derive("init"))
    }

    /// The intermediate `Extract(joiner_secret, psk_secret)` from which the welcome and epoch
    /// secrets are expanded (§8).
    static func memberSecret(suite: CipherSuite, joinerSecret: SecretBytes, pskSecret: SecretBytes?) throws -> SecretBytes {
        suite.extract(salt: joinerSecret, ikm: pskSecret ?? SecretBytes(zeros: suite.kdfLength))
    }

    /// `welcome_secret` from a joiner secret and PSK secret, as a joiner needs it before it can
    /// decrypt the GroupInfo and so before it knows the GroupContext (§12.4.3.1).
    public static func welcomeSecret(suite: CipherSuite, joinerSecret: SecretBytes, pskSecret: SecretBytes?) throws -> SecretBytes {
        try suite.deriveSecret(secret: memberSecret(suite: suite, joinerSecret: joinerSecret, pskSecret: pskSecret), label: "welcome")
    }

    /// `MLS-Exporter(Label, Context, Length)` (§8.5).
    public func exporter(label: [UInt8], context: [UInt8], length: Int) throws -> SecretBytes {
        let derived = try suite.deriveSecret(secret: exporterSecret, label: label)
        return try suite.expandWithLabel(secret: derived, label: "exported", context: suite.digest(context), length: length)
    }

    /// The epoch's external key pair, `KEM.DeriveKeyPair(external_secret)` (§8.3).
    public func externalKeyPair() throws -> (privateKey: SecretBytes, publicKey: [UInt8]) {
        try suite.hpke.deriveKeyPair(ikm: externalSecret)
    }
}
