/// Whatever signs MLS objects for one client (RFC 9420 §5.1.2): its LeafNodes, KeyPackages,
/// framed content and GroupInfos. The private key never has to enter MLSKit: an authority's key
/// in an HSM or a KMS signs through its own implementation of this protocol.
///
/// `sign` receives the bytes of the RFC's `SignContent` (label and content already combined) and
/// returns the signature in the scheme's MLS encoding: raw Ed25519/Ed448, DER-encoded ECDSA over
/// the scheme's hash.
public protocol MLSSigner: Sendable {
    /// The signature scheme of the key (the cipher suite's, §5.1).
    var scheme: SignatureScheme { get }
    /// The public key in the scheme's MLS encoding (§5.1.2), as carried in `signature_key`.
    var publicKey: [UInt8] { get }
    /// Signs `message`.
    func sign(_ message: [UInt8]) throws -> [UInt8]
}

/// A signer holding its private key in memory, in a zeroizing ``SecretBytes``.
///
/// For Ed25519 it keeps libsodium's expanded key (seed and public key), so a signature costs one
/// signing operation rather than first re-deriving the key pair from the seed.
public struct InMemorySigner: MLSSigner {
    public let scheme: SignatureScheme
    public let publicKey: [UInt8]
    /// The private key in the scheme's MLS encoding (§5.1.2), for persistence by the store.
    public let privateKey: SecretBytes
    /// libsodium's 64-byte Ed25519 secret key; `nil` for the other schemes.
    private let expandedEd25519: SecretBytes?

    /// Wraps an existing private key, checking that it is one of `scheme`'s.
    public init(scheme: SignatureScheme, privateKey: SecretBytes) throws {
        self.scheme = scheme
        self.privateKey = privateKey
        publicKey = try scheme.publicKey(for: privateKey)
        expandedEd25519 = scheme == .ed25519 ? try SignatureScheme.expandEd25519(privateKey) : nil
    }

    /// A fresh key pair from the OS CSPRNG.
    public static func generate(_ scheme: SignatureScheme) -> InMemorySigner {
        let (privateKey, _) = scheme.generateKeyPair()
        // A freshly generated key is valid for its own scheme.
        guard let signer = try? InMemorySigner(scheme: scheme, privateKey: privateKey) else {
            preconditionFailure("a generated \(scheme) key was refused")
        }
        return signer
    }

    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        if let expandedEd25519 { return try SignatureScheme.signEd25519(message, expandedKey: expandedEd25519) }
        return try scheme.sign(message, privateKey: privateKey)
    }
}

