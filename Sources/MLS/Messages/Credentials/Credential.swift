@_spi(Engine) import MLSCodec

/// `Credential` (RFC 9420 §5.3): the identity bound to a signature key.
///
/// Only `basic` and `x509` have a defined body; any other type cannot be parsed (its body has no
/// length prefix), so decoding it throws.
public enum Credential: Hashable, Sendable {
    /// `basic`: `opaque identity<V>` (RFC 9420 §5.3).
    case basic(identity: [UInt8])
    /// `x509`: `Certificate certificates<V>`, each `opaque cert_data<V>` (RFC 9420 §5.3).
    case x509(certificates: [[UInt8]])

    /// The `credential_type` discriminant (RFC 9420 §5.3).
    public var credentialType: CredentialType {
        switch self {
        case .basic: .basic
        case .x509: .x509
        }
    }

    /// Encodes the struct (RFC 9420 §5.3).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        credentialType.encode(to: &writer)
        switch self {
        case let .basic(identity):
            writer.writeOpaque(identity)
        case let .x509(certificates):
            writer.writeVector { w in for cert in certificates { w.writeOpaque(cert) } }
        }
    }

    /// Decodes the struct, refusing credential types without an RFC 9420 §5.3 body.
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        let type = try CredentialType(from: &reader)
        switch type {
        case .basic: self = .basic(identity: try reader.readOpaque())
        case .x509: self = .x509(certificates: try reader.readVector { try $0.readOpaque() })
        default: throw TLSDecodingError.invalidValue(type: "Credential", detail: "unsupported credential type \(type.rawValue)")
        }
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension Credential: TLSCodable {}
