@_spi(Engine) import MLSCodec

/// `Capabilities` (RFC 9420 §7.2): what a client supports, carried in its leaf node.
@_spi(Engine) public struct Capabilities: Hashable, Sendable {
    /// `ProtocolVersion versions<V>` (RFC 9420 §7.2).
    public var versions: [ProtocolVersion]
    /// `CipherSuite cipher_suites<V>` code points (RFC 9420 §7.2).
    public var cipherSuites: [UInt16]
    /// `ExtensionType extensions<V>` (RFC 9420 §7.2).
    public var extensions: [ExtensionType]
    /// `ProposalType proposals<V>` (RFC 9420 §7.2).
    public var proposals: [ProposalType]
    /// `CredentialType credentials<V>` (RFC 9420 §7.2).
    public var credentials: [CredentialType]

    /// Creates capabilities from their fields (RFC 9420 §7.2).
    public init(versions: [ProtocolVersion], cipherSuites: [UInt16], extensions: [ExtensionType],
                proposals: [ProposalType], credentials: [CredentialType]) {
        self.versions = versions
        self.cipherSuites = cipherSuites
        self.extensions = extensions
        self.proposals = proposals
        self.credentials = credentials
    }

    /// Encodes the struct (RFC 9420 §7.2).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        writer.writeVector(versions)
        writer.writeVector(cipherSuites)
        writer.writeVector(extensions)
        writer.writeVector(proposals)
        writer.writeVector(credentials)
    }

    /// Decodes the struct (RFC 9420 §7.2).
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        versions = try reader.readVector(of: ProtocolVersion.self)
        cipherSuites = try reader.readVector(of: UInt16.self)
        extensions = try reader.readVector(of: ExtensionType.self)
        proposals = try reader.readVector(of: ProposalType.self)
        credentials = try reader.readVector(of: CredentialType.self)
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension Capabilities: TLSCodable {}
