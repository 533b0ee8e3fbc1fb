@_spi(Engine) import MLSCodec

/// `Add` (RFC 9420 §12.1.1): adds the client of a KeyPackage to the group.
public struct Add: Hashable, Sendable {
    /// `KeyPackage key_package` (RFC 9420 §12.1.1).
    public var keyPackage: KeyPackage

    /// Creates the proposal (RFC 9420 §12.1.1).
    public init(keyPackage: KeyPackage) { self.keyPackage = keyPackage }

    /// Encodes the struct (RFC 9420 §12.1.1).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) { keyPackage.encode(to: &writer) }
    /// Decodes the struct (RFC 9420 §12.1.1).
    @_spi(Engine) public init(from reader: inout TLSReader) throws { keyPackage = try KeyPackage(from: &reader) }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension Add: TLSCodable {}
