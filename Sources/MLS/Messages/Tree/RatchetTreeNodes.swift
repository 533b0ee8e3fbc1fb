@_spi(Engine) import MLSCodec

/// `optional<Node> ratchet_tree<V>` (RFC 9420 §12.4.3.3): the `ratchet_tree` extension data, the
/// tree's nodes in array order with blanks as `nil`.
///
/// This is only the wire form; it does not check the tree's shape (e.g. a blank last node).
public struct RatchetTreeNodes: Hashable, Sendable, TLSCodable {
    /// The nodes in array-representation order; `nil` is a blank node (RFC 9420 §12.4.3.3).
    @_spi(Engine) public var nodes: [Node?]

    /// Wraps a node list (RFC 9420 §12.4.3.3).
    @_spi(Engine) public init(nodes: [Node?]) { self.nodes = nodes }

    /// Encodes the vector (RFC 9420 §12.4.3.3).
    public func encode(to writer: inout TLSWriter) {
        writer.writeVector { w in for node in nodes { w.writeOptional(node) } }
    }

    /// Decodes the vector (RFC 9420 §12.4.3.3).
    public init(from reader: inout TLSReader) throws {
        nodes = try reader.readVector { try $0.readOptional(of: Node.self) }
    }

    /// Decodes a received tree of at most `maxNodes` nodes, refusing a longer one before its
    /// nodes are built.
    public init(tlsSerialized bytes: [UInt8], maxNodes: Int) throws {
        var reader = TLSReader(bytes)
        nodes = try reader.readVector(maxCount: maxNodes) { try $0.readOptional(of: Node.self) }
        try reader.finish()
    }
}
