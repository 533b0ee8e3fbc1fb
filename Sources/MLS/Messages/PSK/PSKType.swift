@_spi(Engine) import MLSCodec

/// `PSKType` (RFC 9420 §8.4). Decoding any other value throws, because the PSK body is selected on it.
@_spi(Engine) public enum PSKType: UInt8, Hashable, Sendable, TLSRawValueCodable {
    /// `external(1)` (RFC 9420 §8.4).
    case external = 1
    /// `resumption(2)` (RFC 9420 §8.4).
    case resumption = 2
}
