@_spi(Engine) import MLSCodec

/// `RequiredCapabilities` (RFC 9420 §11.1): the `required_capabilities` extension data.
@_spi(Engine) public struct RequiredCapabilities: Hashable, Sendable, TLSCodable {
    /// `ExtensionType extension_types<V>` (RFC 9420 §11.1).
    public var extensionTypes: [ExtensionType]
    /// `ProposalType proposal_types<V>` (RFC 9420 §11.1).
    public var proposalTypes: [ProposalType]
    /// `CredentialType credential_types<V>` (RFC 9420 §11.1).
    public var credentialTypes: [CredentialType]

    /// Creates required capabilities from their fields (RFC 9420 §11.1).
    public init(extensionTypes: [ExtensionType], proposalTypes: [ProposalType], credentialTypes: [CredentialType]) {
        self.extensionTypes = extensionTypes
        self.proposalTypes = proposalTypes
        self.credentialTypes = credentialTypes
    }

    /// Encodes the struct (RFC 9420 §11.1).
    public func encode(to writer: inout TLSWriter) {
        writer.writeVector(extensionTypes)
        writer.writeVector(proposalTypes)
        writer.writeVector(credentialTypes)
    }

    /// Decodes the struct (RFC 9420 §11.1).
    public init(from reader: inout TLSReader) throws {
        extensionTypes = try reader.readVector(of: ExtensionType.self)
        proposalTypes = try reader.readVector(of: ProposalType.self)
        credentialTypes = try reader.readVector(of: CredentialType.self)
    }
}
