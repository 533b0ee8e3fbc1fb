@_spi(Engine) import MLSCodec

/// `GroupContextExtensions` (RFC 9420 §12.1.7): replaces the GroupContext's extensions.
public struct GroupContextExtensions: Hashable, Sendable {
    /// `Extension extensions<V>` (RFC 9420 §12.1.7).
    public var extensions: [Extension]

    /// Creates the proposal (RFC 9420 §12.1.7).
    public init(extensions: [Extension]) { self.extensions = extensions }

    /// Encodes the struct (RFC 9420 §12.1.7).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) { writer.writeVector(extensions) }
    /// Decodes the struct (RFC 9420 §12.1.7).
    @_spi(Engine) public init(from reader: inout TLSReader) throws { extensions = try reader.readVector(of: Extension.self) }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension GroupContextExtensions: TLSCodable {}
