import MLSCodec
import MLSCrypto

/// Binary fields and the media repository. Every binary field (`ciphertext` of a room event,
/// `welcome` of a to-device message) is either inline unpadded base64 under its name, or, when
/// larger than ``MatrixMLSClient/inlineLimit``, uploaded to the media repository and replaced by
/// `<name>_url` (the `mxc://` URI) and `<name>_sha256` (hex SHA-256 of the bytes). Events are
/// capped at 64 KiB, so this is what lets a large commit or Welcome travel at all.
extension MatrixMLSClient {
    /// Moves `field` to the media repository if it is too large for an event. `uploaded` caches
    /// uploads by the inline text, so a Welcome addressed to several devices is uploaded once; a
    /// retry after a crash may upload again, which wastes space but cannot duplicate a message.
    func externalize(_ field: String, in content: inout JSONObject, uploaded: inout [String: (uri: String, sha256: String)]) async throws {
        guard let text = content[field] as? String else { return }
        if uploaded[text] == nil {
            guard let bytes = Base64.decode(text), bytes.count > Self.inlineLimit else { return }
            let api = self.api
            let uri = try await retry.run { try await api.uploadMedia(bytes) }
            mediaUploads += 1
            uploaded[text] = (uri, Hex.encode(suite.digest(bytes)))
        }
        guard let media = uploaded[text] else { return }
        content[field] = nil
        content[field + "_url"] = media.uri
        content[field + "_sha256"] = media.sha256
    }

    /// The bytes of `field`, inline or from the media repository and checked against their hash;
    /// `nil` if absent, malformed, altered or unresolvable. A URI that does not resolve makes this
    /// one event unreadable rather than failing the whole sync, or one bad event would block the
    /// room for good; transient errors are retried like every request.
    func binaryField(_ field: String, in content: JSONObject) async -> [UInt8]? {
        if let text = content[field] as? String { return Base64.decode(text) }
        guard let uri = content[field + "_url"] as? String, let digest = content[field + "_sha256"] as? String else { return nil }
        let api = self.api
        guard let bytes = try? await retry.run({ try await api.downloadMedia(uri) }), Hex.encode(suite.digest(bytes)) == digest else { return nil }
        return bytes
    }
}
