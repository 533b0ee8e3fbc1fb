@_spi(Engine) import MLSCodec

/// `ProposalOrRef` (RFC 9420 §12.4): a proposal carried inline in a Commit or named by reference.
@_spi(Engine) public enum ProposalOrRef: Hashable, Sendable, TLSCodable {
    /// `proposal(1)`: `Proposal proposal` (RFC 9420 §12.4).
    case proposal(Proposal)
    /// `reference(2)`: `ProposalRef reference`, an `opaque HashReference<V>` (RFC 9420 §12.4, §5.2).
    case reference([UInt8])

    /// The `ProposalOrRefType` code point: 1 for `proposal`, 2 for `reference` (RFC 9420 §12.4).
    public var typeCode: UInt8 {
        switch self {
        case .proposal: 1
        case .reference: 2
        }
    }

    /// Encodes the struct (RFC 9420 §12.4).
    public func encode(to writer: inout TLSWriter) {
        writer.writeUInt8(typeCode)
        switch self {
        case let .proposal(p): p.encode(to: &writer)
        case let .reference(ref): writer.writeOpaque(ref)
        }
    }

    /// Decodes the struct, refusing `type` values RFC 9420 §12.4 does not define.
    public init(from reader: inout TLSReader) throws {
        let type = try reader.readUInt8()
        switch type {
        case 1: self = .proposal(try Proposal(from: &reader))
        case 2: self = .reference(try reader.readOpaque())
        default: throw TLSDecodingError.invalidValue(type: "ProposalOrRefType", detail: "value \(type)")
        }
    }
}
