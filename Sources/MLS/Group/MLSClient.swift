@_spi(Engine) import MLSCrypto

/// One MLS client (a device of a user, RFC 9420 §1.2, §5.3): its credential, the signer of its
/// signature key, its cipher suite and the configuration its groups use. It makes KeyPackages
/// and creates and joins groups, so the pieces that must agree (the suite of the signer and of
/// the KeyPackage, the credential in every leaf, the configuration of every group) are bound once.
public struct MLSClient: Sendable {
    /// The client's credential (§5.3), carried in every leaf it signs.
    public let credential: Credential
    /// Signs for the client; its public key is every leaf's `signature_key`.
    public let signer: any MLSSigner
    /// The cipher suite of the client's KeyPackages and groups.
    public let suite: CipherSuite
    /// The configuration of the groups this client creates and joins.
    public var configuration: GroupConfiguration
    /// The capabilities its leaves advertise; `nil` for ``KeyPackageBundle/defaultCapabilities(suite:credential:)``.
    @_spi(Engine) public var capabilities: Capabilities?

    /// Binds a credential and a signer to a suite.
    ///
    /// - Throws: ``GroupError/cipherSuiteMismatch`` when the signer's scheme is not the suite's.
    public init(credential: Credential, signer: any MLSSigner, suite: CipherSuite,
                configuration: GroupConfiguration = GroupConfiguration()) throws(GroupError) {
        try self.init(credential: credential, signer: signer, suite: suite, configuration: configuration, capabilities: nil)
    }

    /// Binds a credential and a signer to a suite, with the capabilities its leaves advertise
    /// (engine SPI, as ``Capabilities`` are: `capabilities` has no default, so the public
    /// initializer is never ambiguous with this one).
    @_spi(Engine) public init(credential: Credential, signer: any MLSSigner, suite: CipherSuite, configuration: GroupConfiguration = GroupConfiguration(),
                              capabilities: Capabilities?) throws(GroupError) {
        guard signer.scheme == suite.signature else { throw .cipherSuiteMismatch }
        self.credential = credential
        self.signer = signer
        self.suite = suite
        self.configuration = configuration
        self.capabilities = capabilities
    }

    /// A client with a basic credential for `identity` and a fresh in-memory signature key.
    public static func basic(identity: [UInt8], suite: CipherSuite, configuration: GroupConfiguration = GroupConfiguration()) -> MLSClient {
        // The generated signer is the suite's own scheme, so the check cannot fail.
        MLSClient(unchecked: .basic(identity: identity), signer: InMemorySigner.generate(suite.signature), suite: suite, configuration: configuration)
    }

    private init(unchecked credential: Credential, signer: any MLSSigner, suite: CipherSuite, configuration: GroupConfiguration) {
        self.credential = credential
        self.signer = signer
        self.suite = suite
        self.configuration = configuration
    }

    /// The identity the configured ``IdentityProvider`` reads from the credential.
    public var identity: [UInt8] { configuration.identity.identity(of: credential) }

    /// A fresh KeyPackage with its private keys (§10); publish `keyPackage`, keep the bundle until
    /// a Welcome uses it.
    ///
    /// - Parameter validity: the leaf's `lifetime` (§7.2), in Unix seconds, both ends included;
    ///   by default from an hour ago (clock skew) to just under 84 days from now.
    public func makeKeyPackage(validity: ClosedRange<UInt64>? = nil, leafExtensions: [Extension] = [], extensions: [Extension] = []) throws(GroupError) -> KeyPackageBundle {
        try makeKeyPackage(lifetime: validity.map(Lifetime.init), leafExtensions: leafExtensions, extensions: extensions)
    }

    /// A fresh KeyPackage with any `lifetime`, including an empty one (for tests of its check).
    @_spi(Engine) public func makeKeyPackage(lifetime: Lifetime?, leafExtensions: [Extension] = [], extensions: [Extension] = []) throws(GroupError) -> KeyPackageBundle {
        try KeyPackageBundle.generate(suite: suite, credential: credential, signer: signer, capabilities: capabilities, lifetime: lifetime,
                                      leafExtensions: leafExtensions, extensions: extensions)
    }

    /// Creates a one-member group (§11) with this client at leaf 0.
    ///
    /// - Parameters:
    ///   - groupID: the group ID; by default 16 random bytes (§8.1: unique, and unpredictable to
    ///     outsiders so a GroupContext cannot be anticipated).
    ///   - extensions: the initial GroupContext extensions.
    public func createGroup(groupID: [UInt8]? = nil, extensions: [Extension] = []) throws(GroupError) -> MLSGroup {
        try MLSGroup.create(suite: suite, groupID: groupID ?? SystemRandom.bytes(16), creator: try makeKeyPackage(), extensions: extensions,
                            configuration: configuration)
    }

    /// Joins a group from a Welcome sealed to one of this client's KeyPackages (§12.4.3.1).
    public func join(welcome: MLSMessage, keyPackage: KeyPackageBundle, ratchetTree: RatchetTreeNodes? = nil) throws(GroupError) -> MLSGroup {
        try MLSGroup.join(welcome: welcome, keyPackage: keyPackage, ratchetTree: ratchetTree, configuration: configuration)
    }

    /// Joins a group by external commit from its GroupInfo (§12.4.3.2), optionally replacing this
    /// client's own old leaf. Send the returned commit to the group.
    public func joinExternally(groupInfo: MLSMessage, ratchetTree: RatchetTreeNodes? = nil,
                               removing oldLeaf: LeafIndex? = nil) throws(GroupError) -> (group: MLSGroup, commit: MLSMessage) {
        try MLSGroup.externalJoin(groupInfo: groupInfo, ratchetTree: ratchetTree, keyPackage: try makeKeyPackage(), removing: oldLeaf,
                                  configuration: configuration)
    }
}
