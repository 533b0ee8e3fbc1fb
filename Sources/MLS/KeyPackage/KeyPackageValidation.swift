@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// Why a KeyPackage is not valid for a group (RFC 9420 §10.1). Engine SPI: the group reports it
/// as a ``ProposalViolation`` of the Add that carried the KeyPackage.
@_spi(Engine) public enum KeyPackageValidationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The KeyPackage's cipher suite differs from the group's.
    case cipherSuiteMismatch
    /// The KeyPackage's protocol version differs from the group's.
    case versionMismatch
    /// The signature over KeyPackageTBS does not verify.
    case invalidSignature
    /// `init_key` equals the leaf's `encryption_key`.
    case initKeyEqualsEncryptionKey
    /// The leaf node is not valid for a KeyPackage (§7.3).
    case invalidLeafNode(LeafNodeValidationError)

    public var description: String {
        switch self {
        case .cipherSuiteMismatch: "cipher suite differs from the group's"
        case .versionMismatch: "protocol version differs from the group's"
        case .invalidSignature: "KeyPackage signature does not verify"
        case .initKeyEqualsEncryptionKey: "init_key equals the leaf's encryption_key"
        case let .invalidLeafNode(e): "leaf node invalid: \(e)"
        }
    }
}

extension LeafNodeValidator {
    /// The checks of RFC 9420 §10.1 for one KeyPackage that need no knowledge of other members:
    /// suite and version, `init_key` distinct from `encryption_key`, the leaf's content as a
    /// `key_package` leaf, and both signatures (KeyPackageTBS and LeafNodeTBS).
    public func validate(keyPackage kp: KeyPackage) -> KeyPackageValidationError? {
        guard kp.cipherSuite == suite.id else { return .cipherSuiteMismatch }
        guard kp.version == groupContext.version else { return .versionMismatch }
        guard kp.initKey != kp.leafNode.encryptionKey else { return .initKeyEqualsEncryptionKey }
        guard !kp.extensions.hasRepeatedTypes else { return .invalidLeafNode(.repeatedExtensionType) }
        if let e = checkContent(kp.leafNode, expectedSource: .keyPackage) { return .invalidLeafNode(e) }
        guard kp.verifySignature(suite: suite) else { return .invalidSignature }
        guard verifySignature(kp.leafNode, at: LeafIndex(0)) else { return .invalidLeafNode(.invalidSignature) }
        return nil
    }

    /// Validates many KeyPackages (a large Add) with the signature checks on all cores, then the
    /// group-wide uniqueness of their keys against `tree` and each other (§7.3). Returns one
    /// result per KeyPackage, in order; `nil` means valid.
    public func validate(keyPackages: [KeyPackage], against tree: RatchetTree) -> [KeyPackageValidationError?] {
        var results = parallelMap(keyPackages, minimumBatch: 8) { validate(keyPackage: $0) }
        var signatureKeys = Set<KeyBytes>(), encryptionKeys = Set<KeyBytes>()
        for (i, kp) in keyPackages.enumerated() where results[i] == nil {
            let leaf = kp.leafNode
            if tree.leafIndex(signatureKey: leaf.signatureKey) != nil || !signatureKeys.insert(KeyBytes(leaf.signatureKey)).inserted {
                results[i] = .invalidLeafNode(.duplicateSignatureKey)
            } else if tree.nodeIndex(encryptionKey: leaf.encryptionKey) != nil || !encryptionKeys.insert(KeyBytes(leaf.encryptionKey)).inserted {
                results[i] = .invalidLeafNode(.duplicateEncryptionKey)
            }
        }
        return results
    }
}
