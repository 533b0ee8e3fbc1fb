@_spi(Engine) import MLSCodec

/// `UpdatePath` (RFC 9420 §7.6): the committer's new leaf and its re-keyed direct path.
@_spi(Engine) public struct UpdatePath: Hashable, Sendable, TLSCodable {
    /// `LeafNode leaf_node` (RFC 9420 §7.6).
    public var leafNode: LeafNode
    /// `UpdatePathNode nodes<V>` (RFC 9420 §7.6).
    public var nodes: [UpdatePathNode]

    /// Creates an update path from its fields (RFC 9420 §7.6).
    public init(leafNode: LeafNode, nodes: [UpdatePathNode]) {
        self.leafNode = leafNode
        self.nodes = nodes
    }

    /// Encodes the struct (RFC 9420 §7.6).
    public func encode(to writer: inout TLSWriter) {
        leafNode.encode(to: &writer)
        writer.writeVector(nodes)
    }

    /// Decodes the struct (RFC 9420 §7.6).
    public init(from reader: inout TLSReader) throws {
        leafNode = try LeafNode(from: &reader)
        nodes = try reader.readVector(of: UpdatePathNode.self)
    }
}
