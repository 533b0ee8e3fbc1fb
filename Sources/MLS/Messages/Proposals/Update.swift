@_spi(Engine) import MLSCodec

/// `Update` (RFC 9420 §12.1.2): replaces the sender's leaf node.
public struct Update: Hashable, Sendable, TLSCodable {
    /// `LeafNode leaf_node` (RFC 9420 §12.1.2).
    public var leafNode: LeafNode

    /// Creates the proposal (RFC 9420 §12.1.2).
    public init(leafNode: LeafNode) { self.leafNode = leafNode }

    /// Encodes the struct (RFC 9420 §12.1.2).
    public func encode(to writer: inout TLSWriter) { leafNode.encode(to: &writer) }
    /// Decodes the struct (RFC 9420 §12.1.2).
    public init(from reader: inout TLSReader) throws { leafNode = try LeafNode(from: &reader) }
}
