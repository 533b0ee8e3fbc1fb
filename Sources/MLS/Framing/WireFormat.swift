@_spi(Engine) import MLSCodec

/// The `uint16 WireFormat` of an MLSMessage (RFC 9420 §6, registry in §17.2).
/// Unknown values decode without error here; ``MLSMessage`` refuses them.
@_spi(Engine) public struct WireFormat: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 16-bit code point (RFC 9420 §17.2).
    public var rawValue: UInt16
    /// Wraps a code point (RFC 9420 §17.2).
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Wraps a code point (RFC 9420 §17.2).
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// `mls_public_message(1)` (RFC 9420 §17.2).
    public static let publicMessage = WireFormat(1)
    /// `mls_private_message(2)` (RFC 9420 §17.2).
    public static let privateMessage = WireFormat(2)
    /// `mls_welcome(3)` (RFC 9420 §17.2).
    public static let welcome = WireFormat(3)
    /// `mls_group_info(4)` (RFC 9420 §17.2).
    public static let groupInfo = WireFormat(4)
    /// `mls_key_package(5)` (RFC 9420 §17.2).
    public static let keyPackage = WireFormat(5)

    /// The registry name of the wire format, or its number (RFC 9420 §17.2).
    public var description: String {
        switch rawValue {
        case 1: "mls_public_message"
        case 2: "mls_private_message"
        case 3: "mls_welcome"
        case 4: "mls_group_info"
        case 5: "mls_key_package"
        default: "wire_format(\(rawValue))"
        }
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension WireFormat: TLSRawValueCodable {}
