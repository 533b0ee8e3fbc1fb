@_spi(Engine) import MLSCodec

/// `NodeType` (RFC 9420 §7.8, §12.4.3.3). Decoding any other value throws.
@_spi(Engine) public enum NodeType: UInt8, Hashable, Sendable, TLSRawValueCodable {
    /// `leaf(1)` (RFC 9420 §7.8).
    case leaf = 1
    /// `parent(2)` (RFC 9420 §7.8).
    case parent = 2
}
