@_spi(Engine) import MLSCodec

/// `uint16 ExtensionType` (RFC 9420 §13.4, registry in §17.3). Unknown values decode without error.
public struct ExtensionType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 16-bit code point (RFC 9420 §17.3).
    public var rawValue: UInt16
    /// Wraps a code point (RFC 9420 §17.3).
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Wraps a code point (RFC 9420 §17.3).
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// `application_id(1)` (RFC 9420 §5.3.3, §17.3).
    public static let applicationID = ExtensionType(1)
    /// `ratchet_tree(2)` (RFC 9420 §12.4.3.3, §17.3).
    public static let ratchetTree = ExtensionType(2)
    /// `required_capabilities(3)` (RFC 9420 §11.1, §17.3).
    public static let requiredCapabilities = ExtensionType(3)
    /// `external_pub(4)` (RFC 9420 §12.4.3.2, §17.3).
    public static let externalPub = ExtensionType(4)
    /// `external_senders(5)` (RFC 9420 §12.1.8.1, §17.3).
    public static let externalSenders = ExtensionType(5)

    /// Whether this is one of the extension types RFC 9420 §17.3 defines (1–5).
    public var isDefault: Bool { (1...5).contains(rawValue) }

    /// The registry name, or the number (RFC 9420 §17.3).
    public var description: String {
        switch rawValue {
        case 1: "application_id"
        case 2: "ratchet_tree"
        case 3: "required_capabilities"
        case 4: "external_pub"
        case 5: "external_senders"
        default: "extension_type(\(rawValue))"
        }
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension ExtensionType: TLSRawValueCodable {}
