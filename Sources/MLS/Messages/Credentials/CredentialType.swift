@_spi(Engine) import MLSCodec

/// `uint16 CredentialType` (RFC 9420 §5.3, registry in §17.5). Unknown values decode without
/// error (they appear in capability lists); ``Credential`` refuses them.
public struct CredentialType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 16-bit code point (RFC 9420 §17.5).
    public var rawValue: UInt16
    /// Wraps a code point (RFC 9420 §17.5).
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Wraps a code point (RFC 9420 §17.5).
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// `basic(1)` (RFC 9420 §5.3, §17.5).
    public static let basic = CredentialType(1)
    /// `x509(2)` (RFC 9420 §5.3, §17.5).
    public static let x509 = CredentialType(2)

    /// The registry name, or the number (RFC 9420 §17.5).
    public var description: String {
        switch rawValue {
        case 1: "basic"
        case 2: "x509"
        default: "credential_type(\(rawValue))"
        }
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension CredentialType: TLSRawValueCodable {}
