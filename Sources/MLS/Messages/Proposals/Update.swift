@_spi(Engine) import MLSCodec

/// `Update` (RFC 9420 §12.1.2): replaces the sender's leaf node.
public struct Update: Hashable, Sendable {
    /// `LeafNode leaf_node` (RFC 9420 §12.1.2).
    @_spi(Engine) public var leafNode: LeafNode

    /// Creates the proposal (RFC 9420 §12.1.2).
    @_spi(Engine) public init(leafNode: LeafNode) { self.leafNode = leafNode }

    /// Encodes the struct (RFC 9420 §12.1.2).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) { leafNode.encode(to: &writer) }
    /// Decodes the struct (RFC 9420 §12.1.2).
    @_spi(Engine) public init(from reader: inout TLSReader) throws { leafNode = try LeafNode(from: &reader) }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension Update: TLSCodable {}
