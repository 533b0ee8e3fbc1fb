@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// How blobs are written to a backend: in the clear, or sealed with XChaCha20-Poly1305 under an
/// application key and bound to where they belong (see Docs/Storage.md, "Encryption at rest").
///
/// Every blob starts with one byte naming its form, so a store configured with a key refuses a
/// plaintext blob (a downgrade an attacker with write access could otherwise attempt) and a store
/// without a key refuses a sealed one.
struct BlobSealing: Sendable {
    /// The kinds of blob; each is sealed under a distinct associated-data prefix so a blob of
    /// one kind can never be opened as another.
    enum Kind: UInt8 {
        case groupRecord = 1
        case treeNode = 2
        case keyPackage = 3
        case psk = 4
        case value = 5
    }

    private static let plainForm: UInt8 = 0
    private static let sealedForm: UInt8 = 1
    private static let label = Array("MLSKit sealed state v1".utf8)

    let key: SecretBytes?

    /// `label || kind || binding`: the binding names the blob's group and epoch, node, ref or key.
    private func aad(_ kind: Kind, _ binding: [UInt8]) -> [UInt8] {
        Self.label + [kind.rawValue] + binding
    }

    /// The blob for `plaintext`, which is wiped afterwards.
    func seal(_ plaintext: inout [UInt8], kind: Kind, binding: [UInt8]) throws -> [UInt8] {
        defer { SecretBytes.zeroize(&plaintext) }
        guard let key else { return [Self.plainForm] + plaintext }
        return try [Self.sealedForm] + XChaCha20Poly1305.seal(key: key, aad: aad(kind, binding), plaintext: plaintext)
    }

    /// The blob for secret bytes.
    func seal(_ secret: SecretBytes, kind: Kind, binding: [UInt8]) throws -> [UInt8] {
        var bytes = secret.unsafeCopiedBytes()
        return try seal(&bytes, kind: kind, binding: binding)
    }

    /// Opens a blob written by ``seal(_:kind:binding:)`` with the same kind and binding.
    func open(_ blob: [UInt8], kind: Kind, binding: [UInt8]) throws(StorageError) -> SecretBytes {
        guard let form = blob.first else { throw StorageError.corrupt("empty blob") }
        switch (form, key) {
        case (Self.plainForm, nil):
            return SecretBytes(blob.dropFirst())
        case let (Self.sealedForm, key?):
            do {
                return try XChaCha20Poly1305.open(key: key, aad: aad(kind, binding), sealed: Array(blob.dropFirst()))
            } catch {
                throw StorageError.sealOpenFailed
            }
        case (Self.plainForm, _?), (Self.sealedForm, nil):
            throw StorageError.sealingMismatch
        default:
            throw StorageError.unsupportedVersion(kind: "blob form", version: UInt16(form))
        }
    }
}
