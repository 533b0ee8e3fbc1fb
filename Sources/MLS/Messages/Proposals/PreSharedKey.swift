@_spi(Engine) import MLSCodec

/// `PreSharedKey` (RFC 9420 §12.1.4): injects a PSK into the next epoch's key schedule.
public struct PreSharedKey: Hashable, Sendable {
    /// `PreSharedKeyID psk` (RFC 9420 §12.1.4).
    public var psk: PreSharedKeyID

    /// Creates the proposal (RFC 9420 §12.1.4).
    public init(psk: PreSharedKeyID) { self.psk = psk }

    /// Encodes the struct (RFC 9420 §12.1.4).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) { psk.encode(to: &writer) }
    /// Decodes the struct (RFC 9420 §12.1.4).
    @_spi(Engine) public init(from reader: inout TLSReader) throws { psk = try PreSharedKeyID(from: &reader) }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension PreSharedKey: TLSCodable {}
