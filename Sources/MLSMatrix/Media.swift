@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

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

    /// The bytes of `field`, inline or from the media repository and checked against their hash.
    /// Throws the reason the field is unreadable: absent or malformed, altered, too large, over
    /// this round's budget, or not delivered within ``MediaLimits/retry``'s bounded attempts (a
    /// URI that answers 5xx forever costs a few attempts and makes this one event unreadable,
    /// rather than blocking the room for good).
    func binaryField(_ field: String, in content: JSONObject) async throws(EventFailureReason) -> [UInt8] {
        if let text = content[field] as? String {
            guard let bytes = Base64.decode(text) else { throw .malformed("\(field) is not base64") }
            return bytes
        }
        guard let uri = content[field + "_url"] as? String, let digest = content[field + "_sha256"] as? String else {
            throw .malformed("no \(field)")
        }
        let limits = mediaLimits
        guard mediaBudget > 0 else { throw .mediaBudgetExhausted }
        let limit = min(max(0, limits.maxBytesPerMedia), mediaBudget)
        let api = self.api
        let bytes: [UInt8]
        do {
            bytes = try await limits.retry.run { try await api.downloadMedia(uri, maxBytes: limit, timeout: limits.timeout) }
        } catch MatrixError.responseTooLarge {
            // Nothing beyond the limit was read; the round's budget is spent either way.
            mediaBudget = max(0, mediaBudget - limit)
            throw limit < limits.maxBytesPerMedia ? .mediaBudgetExhausted : .mediaTooLarge(limit: limits.maxBytesPerMedia)
        } catch {
            throw .mediaUnavailable("\(error)")
        }
        // Charged after the await: another task on this actor may have spent budget meanwhile,
        // so the subtraction is clamped instead of trusted to stay positive.
        mediaBudget = max(0, mediaBudget - bytes.count)
        guard Hex.encode(suite.digest(bytes)) == digest.lowercased() else { throw .mediaDigestMismatch }
        return bytes
    }
}
