@_spi(Engine) import MLS
@_spi(Engine) import MLSCrypto

package let fuzzSuite = CipherSuite(id: 1)!

/// A member whose keys all derive from one seed byte, so a crash reproduces with the same keys
/// (HPKE encryption itself is still randomized).
package struct Identity: Sendable {
    package let seed: UInt8
    package let signer: InMemorySigner
    package var signaturePrivateKey: SecretBytes { signer.privateKey }
    package var signaturePublicKey: [UInt8] { signer.publicKey }
    package let credential: Credential
    package let bundle: KeyPackageBundle

    package init(seed: UInt8, suite: CipherSuite = fuzzSuite, lifetime: Lifetime? = nil) {
        self.seed = seed
        let sk = SecretBytes([UInt8](repeating: seed, count: 32))
        let signer = try! InMemorySigner(scheme: suite.signature, privateKey: sk)
        self.signer = signer
        credential = .basic(identity: Array("fuzz-member-\(seed)".utf8))
        let enc = try! suite.hpke.deriveKeyPair(ikm: SecretBytes([UInt8](repeating: seed ^ 0x5a, count: 32)))
        let initKeys = try! suite.hpke.deriveKeyPair(ikm: SecretBytes([UInt8](repeating: seed ^ 0xa5, count: 32)))
        var leaf = LeafNode(
            encryptionKey: enc.publicKey, signatureKey: signer.publicKey, credential: credential,
            capabilities: KeyPackageBundle.defaultCapabilities(suite: suite, credential: credential),
            leafNodeSource: .keyPackage(lifetime ?? KeyPackageBundle.defaultLifetime()), extensions: [], signature: [])
        try! leaf.sign(suite: suite, signer: signer)
        var kp = KeyPackage(cipherSuite: suite.id, initKey: initKeys.publicKey, leafNode: leaf, extensions: [], signature: [])
        try! kp.sign(suite: suite, signer: signer)
        bundle = KeyPackageBundle(keyPackage: kp, initPrivateKey: initKeys.privateKey, encryptionPrivateKey: enc.privateKey, signer: signer)
    }

    package var keyPackage: KeyPackage { bundle.keyPackage }
}

/// Signature private keys by public key, for re-signing nodes of known members.
package struct Keyring: Sendable {
    var byKey: [[UInt8]: SecretBytes] = [:]
    /// The public keys in a fixed order (a Dictionary's order changes per process).
    package let publicKeys: [[UInt8]]
    package init(_ ids: [Identity]) {
        for id in ids { byKey[id.signaturePublicKey] = id.signaturePrivateKey }
        publicKeys = ids.map(\.signaturePublicKey)
    }
    package subscript(publicKey: [UInt8]) -> SecretBytes? { byKey[publicKey] }
}
