@_spi(Engine) import MLSCodec

/// `Remove` (RFC 9420 §12.1.3): removes the member at a leaf index.
public struct Remove: Hashable, Sendable {
    /// `uint32 removed`: the leaf index of the removed member (RFC 9420 §12.1.3).
    public var removed: UInt32

    /// Creates the proposal (RFC 9420 §12.1.3).
    public init(removed: UInt32) { self.removed = removed }

    /// Encodes the struct (RFC 9420 §12.1.3).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) { writer.writeUInt32(removed) }
    /// Decodes the struct (RFC 9420 §12.1.3).
    @_spi(Engine) public init(from reader: inout TLSReader) throws { removed = try reader.readUInt32() }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension Remove: TLSCodable {}
