@_spi(Engine) import MLS
@_spi(Engine) import MLSCrypto

public let fuzzSuite = CipherSuite(id: 1)!

/// A member whose keys all derive from one seed byte, so a crash reproduces with the same keys
/// (HPKE encryption itself is still randomized).
public struct Identity: Sendable {
    public let seed: UInt8
    public let signer: any MLSSigner
    public let signaturePublicKey: [UInt8]
    public let credential: Credential
    public let bundle: KeyPackageBundle

    public init(seed: UInt8, suite: CipherSuite = fuzzSuite, lifetime: Lifetime? = nil) {
        self.seed = seed
        let sk = SecretBytes([UInt8](repeating: seed, count: 32))
        signaturePrivateKey = sk
        signaturePublicKey = try! suite.signature.publicKey(for: sk)
        credential = .basic(identity: Array("fuzz-member-\(seed)".utf8))
        let enc = try! suite.hpke.deriveKeyPair(ikm: SecretBytes([UInt8](repeating: seed ^ 0x5a, count: 32)))
        let initKeys = try! suite.hpke.deriveKeyPair(ikm: SecretBytes([UInt8](repeating: seed ^ 0xa5, count: 32)))
        var leaf = LeafNode(
            encryptionKey: enc.publicKey, signatureKey: signaturePublicKey, credential: credential,
            capabilities: KeyPackageBundle.defaultCapabilities(suite: suite, credential: credential),
            leafNodeSource: .keyPackage(lifetime ?? KeyPackageBundle.defaultLifetime()), extensions: [], signature: [])
        try! leaf.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: sk))
        var kp = KeyPackage(cipherSuite: suite.id, initKey: initKeys.publicKey, leafNode: leaf, extensions: [], signature: [])
        try! kp.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: sk))
        bundle = KeyPackageBundle(keyPackage: kp, initPrivateKey: initKeys.privateKey, encryptionPrivateKey: enc.privateKey, signer: try InMemorySigner(scheme: suite.signature, privateKey: sk))
    }

    public var keyPackage: KeyPackage { bundle.keyPackage }
}

/// Signature private keys by public key, for re-signing nodes of known members.
public struct Keyring: Sendable {
    var byKey: [[UInt8]: SecretBytes] = [:]
    /// The public keys in a fixed order (a Dictionary's order changes per process).
    public let publicKeys: [[UInt8]]
    public init(_ ids: [Identity]) {
        for id in ids { byKey[id.signaturePublicKey] = id.signer }
        publicKeys = ids.map(\.signaturePublicKey)
    }
    public subscript(publicKey: [UInt8]) -> SecretBytes? { byKey[publicKey] }
}
