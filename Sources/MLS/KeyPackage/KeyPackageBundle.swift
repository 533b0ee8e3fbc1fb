@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// A KeyPackage with the private keys its owner keeps until it is used (RFC 9420 §10).
public struct KeyPackageBundle: Sendable {
    /// The public KeyPackage to publish.
    public let keyPackage: KeyPackage
    /// The private key of `init_key`, used once to open a Welcome.
    public let initPrivateKey: SecretBytes
    /// The private key of the leaf's `encryption_key`.
    public let encryptionPrivateKey: SecretBytes
    /// Signs for the leaf (its public key is the leaf's `signature_key`).
    public let signer: any MLSSigner

    /// Assembles a bundle from existing parts.
    public init(keyPackage: KeyPackage, initPrivateKey: SecretBytes, encryptionPrivateKey: SecretBytes, signer: any MLSSigner) {
        self.keyPackage = keyPackage
        self.initPrivateKey = initPrivateKey
        self.encryptionPrivateKey = encryptionPrivateKey
        self.signer = signer
    }

    /// Default capabilities: mls10, the given suite, and the credential type in use (§7.2).
    @_spi(Engine) public static func defaultCapabilities(suite: CipherSuite, credential: Credential) -> Capabilities {
        Capabilities(versions: [.mls10], cipherSuites: [suite.id], extensions: [], proposals: [],
                     credentials: credential.credentialType == .basic ? [.basic] : [.basic, credential.credentialType])
    }

    /// A default lifetime: from an hour ago (tolerating clock skew) to 84 days ahead, which the
    /// strictest peers accept (../shared/design/interop-protocol.md).
    @_spi(Engine) public static func defaultLifetime(now: UInt64 = UInt64(UnixTime.nowSeconds)) -> Lifetime {
        Lifetime(notBefore: now - 3600, notAfter: now + 84 * 24 * 3600 - 3600)
    }

    /// Generates a KeyPackage with fresh init and encryption keys (§10).
    @_spi(Engine) public static func generate(
        suite: CipherSuite, credential: Credential, signer: any MLSSigner,
        capabilities: Capabilities? = nil, lifetime: Lifetime? = nil, leafExtensions: [Extension] = [], extensions: [Extension] = []
    ) throws(GroupError) -> KeyPackageBundle {
        let enc = suite.hpke.generateKeyPair()
        let initKeys = suite.hpke.generateKeyPair()
        var leaf = LeafNode(
            encryptionKey: enc.publicKey, signatureKey: signer.publicKey, credential: credential,
            capabilities: capabilities ?? defaultCapabilities(suite: suite, credential: credential),
            leafNodeSource: .keyPackage(lifetime ?? defaultLifetime()), extensions: leafExtensions, signature: [])
        try GroupError.catching { try leaf.sign(suite: suite, signer: signer) }
        var kp = KeyPackage(cipherSuite: suite.id, initKey: initKeys.publicKey, leafNode: leaf, extensions: extensions, signature: [])
        try GroupError.catching { try kp.sign(suite: suite, signer: signer) }
        return KeyPackageBundle(keyPackage: kp, initPrivateKey: initKeys.privateKey, encryptionPrivateKey: enc.privateKey, signer: signer)
    }
}
