@_spi(Engine) import MLSCodec

/// `Proposal` (RFC 9420 §12.1): a proposed change to the group.
///
/// The body of a proposal has no length prefix, so a proposal of a type this library does not
/// know cannot be skipped: decoding it throws.
public enum Proposal: Hashable, Sendable {
    /// `add` (RFC 9420 §12.1.1).
    case add(Add)
    /// `update` (RFC 9420 §12.1.2).
    case update(Update)
    /// `remove` (RFC 9420 §12.1.3).
    case remove(Remove)
    /// `psk` (RFC 9420 §12.1.4).
    case preSharedKey(PreSharedKey)
    /// `reinit` (RFC 9420 §12.1.5).
    case reInit(ReInit)
    /// `external_init` (RFC 9420 §12.1.6).
    case externalInit(ExternalInit)
    /// `group_context_extensions` (RFC 9420 §12.1.7).
    case groupContextExtensions(GroupContextExtensions)

    /// The `proposal_type` discriminant (RFC 9420 §12.1).
    public var proposalType: ProposalType {
        switch self {
        case .add: .add
        case .update: .update
        case .remove: .remove
        case .preSharedKey: .psk
        case .reInit: .reinit
        case .externalInit: .externalInit
        case .groupContextExtensions: .groupContextExtensions
        }
    }

    /// Encodes `proposal_type` and the body (RFC 9420 §12.1).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        proposalType.encode(to: &writer)
        switch self {
        case let .add(p): p.encode(to: &writer)
        case let .update(p): p.encode(to: &writer)
        case let .remove(p): p.encode(to: &writer)
        case let .preSharedKey(p): p.encode(to: &writer)
        case let .reInit(p): p.encode(to: &writer)
        case let .externalInit(p): p.encode(to: &writer)
        case let .groupContextExtensions(p): p.encode(to: &writer)
        }
    }

    /// Decodes `proposal_type` and the body, refusing types RFC 9420 §12.1 does not define.
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        let type = try ProposalType(from: &reader)
        switch type {
        case .add: self = .add(try Add(from: &reader))
        case .update: self = .update(try Update(from: &reader))
        case .remove: self = .remove(try Remove(from: &reader))
        case .psk: self = .preSharedKey(try PreSharedKey(from: &reader))
        case .reinit: self = .reInit(try ReInit(from: &reader))
        case .externalInit: self = .externalInit(try ExternalInit(from: &reader))
        case .groupContextExtensions: self = .groupContextExtensions(try GroupContextExtensions(from: &reader))
        default: throw TLSDecodingError.invalidValue(type: "Proposal", detail: "unknown proposal type \(type.rawValue)")
        }
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension Proposal: TLSCodable {}
