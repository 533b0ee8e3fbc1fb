@_spi(Engine) import MLSCodec

/// `ExternalPub` (RFC 9420 §12.4.3.2): the `external_pub` GroupInfo extension data.
@_spi(Engine) public struct ExternalPub: Hashable, Sendable, TLSCodable {
    /// `HPKEPublicKey external_pub` (RFC 9420 §12.4.3.2).
    public var externalPub: [UInt8]

    /// Creates the extension value (RFC 9420 §12.4.3.2).
    public init(externalPub: [UInt8]) { self.externalPub = externalPub }

    /// Encodes the struct (RFC 9420 §12.4.3.2).
    public func encode(to writer: inout TLSWriter) { writer.writeOpaque(externalPub) }

    /// Decodes the struct (RFC 9420 §12.4.3.2).
    public init(from reader: inout TLSReader) throws { externalPub = try reader.readOpaque() }
}
