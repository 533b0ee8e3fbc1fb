@_spi(Engine) import MLSCodec

/// `PathSecret` (RFC 9420 §12.4.3.1): the path secret a joiner receives in GroupSecrets.
@_spi(Engine) public struct PathSecret: Hashable, Sendable, TLSCodable {
    /// `opaque path_secret<V>` (RFC 9420 §12.4.3.1).
    public var pathSecret: [UInt8]

    /// Wraps a path secret (RFC 9420 §12.4.3.1).
    public init(pathSecret: [UInt8]) { self.pathSecret = pathSecret }

    /// Encodes the struct (RFC 9420 §12.4.3.1).
    public func encode(to writer: inout TLSWriter) { writer.writeOpaque(pathSecret) }
    /// Decodes the struct (RFC 9420 §12.4.3.1).
    public init(from reader: inout TLSReader) throws { pathSecret = try reader.readOpaque() }
}
