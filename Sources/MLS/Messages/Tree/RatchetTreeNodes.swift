@_spi(Engine) import MLSCodec

/// `optional<Node> ratchet_tree<V>` (RFC 9420 §12.4.3.3): the `ratchet_tree` extension data, the
/// tree's nodes in array order with blanks as `nil`.
///
/// This is only the wire form; it does not check the tree's shape (e.g. a blank last node).
public struct RatchetTreeNodes: Hashable, Sendable {
    /// The nodes in array-representation order; `nil` is a blank node (RFC 9420 §12.4.3.3).
    @_spi(Engine) public var nodes: [Node?]

    /// Wraps a node list (RFC 9420 §12.4.3.3).
    @_spi(Engine) public init(nodes: [Node?]) { self.nodes = nodes }

    /// Encodes the vector (RFC 9420 §12.4.3.3).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        writer.writeVector { w in for node in nodes { w.writeOptional(node) } }
    }

    /// Decodes the vector (RFC 9420 §12.4.3.3).
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        nodes = try reader.readVector { try $0.readOptional(of: Node.self) }
    }

    /// Decodes a received tree of at most `maxNodes` nodes, refusing a longer one before its
    /// nodes are built.
    @_spi(Engine) public init(tlsSerialized bytes: [UInt8], maxNodes: Int) throws {
        var reader = TLSReader(bytes)
        nodes = try reader.readVector(maxCount: maxNodes) { try $0.readOptional(of: Node.self) }
        try reader.finish()
    }
}

extension RatchetTreeNodes {
    /// The tree's encoding (RFC 9420 §12.4.3.3), for handing it to a joiner out of band.
    public var serialized: [UInt8] { tlsSerialized }

    /// Decodes a tree received out of band, refusing one wider than `limits.maxLeaves` allows
    /// before its nodes are built (``GroupError/limitExceeded(_:)``). Malformed bytes throw
    /// ``GroupError/decoding(_:)``. The tree is checked when it is used to join.
    public init(serialized bytes: [UInt8], limits: MLSLimits = MLSLimits()) throws(GroupError) {
        let maxNodes = Int(TreeMath.nodeWidth(limits.maxLeaves))
        do {
            self = try RatchetTreeNodes(tlsSerialized: bytes, maxNodes: maxNodes)
        } catch TLSDecodingError.tooManyElements {
            throw .limitExceeded(.leaves)
        } catch {
            throw GroupError.wrap(error)
        }
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension RatchetTreeNodes: TLSCodable {}
