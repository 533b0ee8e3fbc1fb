@_spi(Engine) import MLSCodec

/// `uint16 ProposalType` (RFC 9420 §12.1, registry in §17.4). Unknown values decode without
/// error (they appear in capability lists); ``Proposal`` refuses them.
@_spi(Engine) public struct ProposalType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 16-bit code point (RFC 9420 §17.4).
    public var rawValue: UInt16
    /// Wraps a code point (RFC 9420 §17.4).
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Wraps a code point (RFC 9420 §17.4).
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// `add(1)` (RFC 9420 §12.1.1, §17.4).
    public static let add = ProposalType(1)
    /// `update(2)` (RFC 9420 §12.1.2, §17.4).
    public static let update = ProposalType(2)
    /// `remove(3)` (RFC 9420 §12.1.3, §17.4).
    public static let remove = ProposalType(3)
    /// `psk(4)` (RFC 9420 §12.1.4, §17.4).
    public static let psk = ProposalType(4)
    /// `reinit(5)` (RFC 9420 §12.1.5, §17.4).
    public static let reinit = ProposalType(5)
    /// `external_init(6)` (RFC 9420 §12.1.6, §17.4).
    public static let externalInit = ProposalType(6)
    /// `group_context_extensions(7)` (RFC 9420 §12.1.7, §17.4).
    public static let groupContextExtensions = ProposalType(7)

    /// Whether this is one of the proposal types RFC 9420 §17.4 defines (1–7).
    public var isDefault: Bool { (1...7).contains(rawValue) }

    /// The registry name, or the number (RFC 9420 §17.4).
    public var description: String {
        switch rawValue {
        case 1: "add"
        case 2: "update"
        case 3: "remove"
        case 4: "psk"
        case 5: "reinit"
        case 6: "external_init"
        case 7: "group_context_extensions"
        default: "proposal_type(\(rawValue))"
        }
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension ProposalType: TLSRawValueCodable {}
