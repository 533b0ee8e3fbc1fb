@_spi(Engine) import MLSCodec

/// The MLS protocol version, a `uint16` enum with registry semantics (RFC 9420 §6).
/// Unknown values decode without error; whether they are acceptable is a protocol decision.
@_spi(Engine) public struct ProtocolVersion: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 16-bit code point (RFC 9420 §6).
    public var rawValue: UInt16
    /// Wraps a code point (RFC 9420 §6).
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Wraps a code point (RFC 9420 §6).
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// `mls10(1)`, the version RFC 9420 defines (RFC 9420 §6).
    public static let mls10 = ProtocolVersion(1)

    /// The RFC name of the version, or its number (RFC 9420 §6).
    public var description: String { self == .mls10 ? "mls10" : "version(\(rawValue))" }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension ProtocolVersion: TLSRawValueCodable {}
