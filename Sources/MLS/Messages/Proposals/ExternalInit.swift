@_spi(Engine) import MLSCodec

/// `ExternalInit` (RFC 9420 §12.1.6): the KEM output an external joiner's init secret comes from.
public struct ExternalInit: Hashable, Sendable {
    /// `opaque kem_output<V>` (RFC 9420 §12.1.6, §8.3).
    public var kemOutput: [UInt8]

    /// Creates the proposal (RFC 9420 §12.1.6).
    public init(kemOutput: [UInt8]) { self.kemOutput = kemOutput }

    /// Encodes the struct (RFC 9420 §12.1.6).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) { writer.writeOpaque(kemOutput) }
    /// Decodes the struct (RFC 9420 §12.1.6).
    @_spi(Engine) public init(from reader: inout TLSReader) throws { kemOutput = try reader.readOpaque() }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension ExternalInit: TLSCodable {}
