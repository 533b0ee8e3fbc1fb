@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// The confirmed and interim transcript hashes (RFC 9420 §8.2).
@_spi(Engine) public enum TranscriptHash {
    /// `ConfirmedTranscriptHashInput`: the commit's wire format, content and signature (§8.2).
    public static func confirmedInput(_ content: AuthenticatedContent) -> [UInt8] {
        var w = TLSWriter()
        content.wireFormat.encode(to: &w)
        content.content.encode(to: &w)
        w.writeOpaque(content.auth.signature)
        return w.bytes
    }

    /// `confirmed_transcript_hash_[n] = Hash(interim_transcript_hash_[n-1] || ConfirmedTranscriptHashInput_[n])`.
    public static func confirmed(suite: CipherSuite, interimBefore: [UInt8], commit: AuthenticatedContent) -> [UInt8] {
        suite.digest(interimBefore + confirmedInput(commit))
    }

    /// `interim_transcript_hash_[n] = Hash(confirmed_transcript_hash_[n] || InterimTranscriptHashInput_[n])`.
    public static func interim(suite: CipherSuite, confirmed: [UInt8], confirmationTag: [UInt8]) -> [UInt8] {
        var w = TLSWriter()
        w.writeRaw(confirmed)
        w.writeOpaque(confirmationTag)
        return suite.digest(w.bytes)
    }

    /// `confirmation_tag = MAC(confirmation_key, confirmed_transcript_hash)` (§6.1).
    public static func confirmationTag(suite: CipherSuite, confirmationKey: SecretBytes, confirmed: [UInt8]) -> [UInt8] {
        suite.mac(key: confirmationKey, data: confirmed)
    }
}
