@_spi(Engine) import MLSCodec

/// `ContentType` (RFC 9420 §6): what a FramedContent carries. Decoding any other value throws,
/// because the content that follows is selected on it.
@_spi(Engine) public enum ContentType: UInt8, Hashable, Sendable, TLSRawValueCodable {
    /// `application(1)` (RFC 9420 §6).
    case application = 1
    /// `proposal(2)` (RFC 9420 §6).
    case proposal = 2
    /// `commit(3)` (RFC 9420 §6).
    case commit = 3
}
