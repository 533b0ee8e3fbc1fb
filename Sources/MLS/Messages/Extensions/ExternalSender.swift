@_spi(Engine) import MLSCodec

/// `ExternalSender` (RFC 9420 §12.1.8.1): one entry of the `external_senders` extension, whose
/// `extension_data` is `ExternalSender external_senders<V>`.
public struct ExternalSender: Hashable, Sendable {
    /// `SignaturePublicKey signature_key` (RFC 9420 §12.1.8.1).
    public var signatureKey: [UInt8]
    /// `Credential credential` (RFC 9420 §12.1.8.1).
    public var credential: Credential

    /// Creates an external sender from its fields (RFC 9420 §12.1.8.1).
    public init(signatureKey: [UInt8], credential: Credential) {
        self.signatureKey = signatureKey
        self.credential = credential
    }

    /// Encodes the struct (RFC 9420 §12.1.8.1).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        writer.writeOpaque(signatureKey)
        credential.encode(to: &writer)
    }

    /// Decodes the struct (RFC 9420 §12.1.8.1).
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        signatureKey = try reader.readOpaque()
        credential = try Credential(from: &reader)
    }

    /// Encodes `ExternalSender external_senders<V>`, the extension data (RFC 9420 §12.1.8.1).
    public static func encodeList(_ senders: [ExternalSender]) -> [UInt8] {
        var w = TLSWriter()
        w.writeVector(senders)
        return w.bytes
    }

    /// Decodes `ExternalSender external_senders<V>` from extension data that it must fill
    /// exactly (RFC 9420 §12.1.8.1).
    public static func decodeList(_ data: [UInt8]) throws -> [ExternalSender] {
        var r = TLSReader(data)
        let senders = try r.readVector(of: ExternalSender.self)
        try r.finish()
        return senders
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension ExternalSender: TLSCodable {}
