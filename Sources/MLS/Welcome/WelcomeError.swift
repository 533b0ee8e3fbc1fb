@_spi(Engine) import MLSCrypto

/// Why a Welcome could not be built or joined (RFC 9420 §12.4.3.1).
///
/// Every check a joiner makes on hostile input fails with one of these cases rather than a trap,
/// and no case carries secret material. The decryption cases deliberately do not say *why* HPKE or
/// the AEAD failed (wrong key, modified ciphertext, malformed `kem_output`): the distinction helps
/// only an attacker.
@_spi(Engine) public enum WelcomeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The Welcome's `cipher_suite` is not one this library implements (RFC 9420 §12.4.3.1, §17.1).
    case unsupportedCipherSuite(UInt16)
    /// The cipher suites of the Welcome, the KeyPackage and the GroupInfo's GroupContext are not
    /// all the same (RFC 9420 §12.4.3.1); on the sending side, a recipient's KeyPackage is for
    /// another suite than the group's.
    case cipherSuiteMismatch
    /// No entry of `secrets` has `new_member` equal to our KeyPackageRef (RFC 9420 §12.4.3.1).
    case noSecretsForKeyPackage
    /// `encrypted_group_secrets` did not decrypt under our init private key (RFC 9420 §12.4.3.1, §5.1.3).
    case groupSecretsUndecryptable
    /// The decrypted GroupSecrets do not decode strictly, or violate a structural rule of
    /// RFC 9420 §12.4.3.1 (joiner secret not `KDF.Nh` bytes, more than one reinit/branch PSK).
    case malformedGroupSecrets(String)
    /// GroupSecrets name PSKs the caller does not hold (RFC 9420 §12.4.3.1).
    case missingPSK
    /// `encrypted_group_info` did not decrypt under the welcome key and nonce (RFC 9420 §12.4.3.1).
    case groupInfoUndecryptable
    /// The decrypted GroupInfo does not decode strictly, or contradicts the GroupSecrets (a
    /// reinit/branch PSK with `epoch` other than 1) (RFC 9420 §12.4.3, §12.4.3.1).
    case malformedGroupInfo(String)
    /// The GroupInfo signature does not verify under the signer's key (RFC 9420 §12.4.3, §12.4.3.1).
    case invalidGroupInfoSignature
    /// `confirmation_tag` differs from MAC(confirmation_key, confirmed_transcript_hash) (RFC 9420 §12.4.3.1, §6.1).
    case invalidConfirmationTag
    /// A cryptographic operation on the sender's own inputs failed (for example a recipient's
    /// malformed `init_key`); never used for failures caused by a received Welcome.
    case crypto(CryptoError)

    /// A human-readable summary, free of secret material.
    public var description: String {
        switch self {
        case let .unsupportedCipherSuite(id): "cipher suite \(id) is not supported"
        case .cipherSuiteMismatch: "the Welcome, KeyPackage and GroupInfo disagree on the cipher suite"
        case .noSecretsForKeyPackage: "the Welcome has no secrets for this KeyPackage"
        case .groupSecretsUndecryptable: "encrypted group secrets did not decrypt"
        case let .malformedGroupSecrets(d): "group secrets are malformed: \(d)"
        case .missingPSK: "the group secrets name a PSK this client does not hold"
        case .groupInfoUndecryptable: "encrypted group info did not decrypt"
        case let .malformedGroupInfo(d): "group info is malformed: \(d)"
        case .invalidGroupInfoSignature: "group info signature does not verify"
        case .invalidConfirmationTag: "group info confirmation tag does not verify"
        case let .crypto(e): "crypto failure: \(e)"
        }
    }
}
