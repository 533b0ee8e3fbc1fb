@_spi(Engine) import MLSCodec

/// `leaf_node_source` and the field it selects in a LeafNode (RFC 9420 §7.2).
@_spi(Engine) public enum LeafNodeSource: Hashable, Sendable {
    /// `key_package`: `Lifetime lifetime` (RFC 9420 §7.2).
    case keyPackage(Lifetime)
    /// `update`: no field (RFC 9420 §7.2).
    case update
    /// `commit`: `opaque parent_hash<V>` (RFC 9420 §7.2).
    case commit(parentHash: [UInt8])

    /// The `leaf_node_source` discriminant (RFC 9420 §7.2).
    public var sourceType: LeafNodeSourceType {
        switch self {
        case .keyPackage: .keyPackage
        case .update: .update
        case .commit: .commit
        }
    }

    /// Encodes the discriminant and the selected field (RFC 9420 §7.2).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        sourceType.encode(to: &writer)
        switch self {
        case let .keyPackage(lifetime): lifetime.encode(to: &writer)
        case .update: break
        case let .commit(parentHash): writer.writeOpaque(parentHash)
        }
    }

    /// Decodes the discriminant and the selected field (RFC 9420 §7.2).
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        switch try LeafNodeSourceType(from: &reader) {
        case .keyPackage: self = .keyPackage(try Lifetime(from: &reader))
        case .update: self = .update
        case .commit: self = .commit(parentHash: try reader.readOpaque())
        }
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension LeafNodeSource: TLSCodable {}
