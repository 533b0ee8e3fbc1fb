@_spi(Engine) import MLSCodec

/// The `LeafNodeSource` enum of RFC 9420 §7.2: how a leaf node was created. Decoding any other
/// value throws, because the leaf body is selected on it.
@_spi(Engine) public enum LeafNodeSourceType: UInt8, Hashable, Sendable {
    /// `key_package(1)` (RFC 9420 §7.2).
    case keyPackage = 1
    /// `update(2)` (RFC 9420 §7.2).
    case update = 2
    /// `commit(3)` (RFC 9420 §7.2).
    case commit = 3
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension LeafNodeSourceType: TLSRawValueCodable {}
