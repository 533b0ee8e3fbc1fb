/// `LabeledExtract` and `LabeledExpand` of RFC 9180 §4, bound to one KDF and one `suite_id`.
///
/// The KEM uses `suite_id = "KEM" || I2OSP(kem_id, 2)` with the KEM's own KDF (§4.1); the key
/// schedule uses `"HPKE" || kem_id || kdf_id || aead_id` with the suite's KDF (§5.1). Keeping the two
/// as separate values makes it impossible to mix up the KDF and its suite_id.
struct HPKELabeledKDF: Sendable {
    let hash: HashAlgorithm
    let suiteID: [UInt8]

    private static let versionLabel: [UInt8] = Array("HPKE-v1".utf8)

    /// `LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id || label || ikm)`.
    ///
    /// The labeled input is assembled in zeroizing storage because `ikm` is often a secret (the DH
    /// output, DeriveKeyPair's seed).
    func extract(salt: SecretBytes, label: String, ikm: SecretBytes) -> SecretBytes {
        let prefix = Self.versionLabel + suiteID + Array(label.utf8)
        let labeled = SecretBytes.build(count: prefix.count + ikm.count) { out in
            prefix.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[0..<prefix.count]).copyMemory(from: $0) }
            ikm.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[prefix.count...]).copyMemory(from: $0) }
        }
        return hash.hkdfExtract(salt: salt, ikm: labeled)
    }

    /// `LabeledExtract` over a public input (`info`, `psk_id`).
    func extract(salt: SecretBytes, label: String, ikm: [UInt8]) -> SecretBytes {
        hash.hkdfExtract(salt: salt, ikm: SecretBytes(Self.versionLabel + suiteID + Array(label.utf8) + ikm))
    }

    /// `LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L)`.
    ///
    /// Throws `CryptoError.invalidLength` if `L` does not fit the two-byte prefix or exceeds
    /// HKDF's 255 × Nh.
    func expand(prk: SecretBytes, label: String, info: [UInt8], length: Int) throws -> SecretBytes {
        guard length >= 0, length <= Int(UInt16.max) else {
            throw CryptoError.invalidLength("LabeledExpand length \(length) does not fit in two bytes")
        }
        let labeledInfo = bigEndian16(UInt16(length)) + Self.versionLabel + suiteID + Array(label.utf8) + info
        return try hash.hkdfExpand(prk: prk, info: labeledInfo, length: length)
    }
}
