@_spi(Engine) import MLSCodec

/// `ResumptionPSKUsage` (RFC 9420 §8.4). Decoding any other value throws.
@_spi(Engine) public enum ResumptionPSKUsage: UInt8, Hashable, Sendable {
    /// `application(1)` (RFC 9420 §8.4).
    case application = 1
    /// `reinit(2)` (RFC 9420 §8.4, §11.2).
    case reinit = 2
    /// `branch(3)` (RFC 9420 §8.4, §11.3).
    case branch = 3
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension ResumptionPSKUsage: TLSRawValueCodable {}
