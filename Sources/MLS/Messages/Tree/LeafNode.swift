@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `LeafNode` (RFC 9420 §7.2): a member's public keys, credential and capabilities, signed.
@_spi(Engine) public struct LeafNode: Hashable, Sendable {
    /// `HPKEPublicKey encryption_key` (RFC 9420 §7.2).
    public var encryptionKey: [UInt8]
    /// `SignaturePublicKey signature_key` (RFC 9420 §7.2).
    public var signatureKey: [UInt8]
    /// `Credential credential` (RFC 9420 §7.2).
    public var credential: Credential
    /// `Capabilities capabilities` (RFC 9420 §7.2).
    public var capabilities: Capabilities
    /// `leaf_node_source` and the field it selects (RFC 9420 §7.2).
    public var leafNodeSource: LeafNodeSource
    /// `Extension extensions<V>` (RFC 9420 §7.2).
    public var extensions: [Extension]
    /// `opaque signature<V>`: SignWithLabel(., "LeafNodeTBS", LeafNodeTBS) (RFC 9420 §7.2).
    public var signature: [UInt8]

    /// The signature label of a leaf node (RFC 9420 §7.2, §17.6).
    public static let signatureLabel = "LeafNodeTBS"

    /// Creates a leaf node from its fields (RFC 9420 §7.2).
    public init(encryptionKey: [UInt8], signatureKey: [UInt8], credential: Credential, capabilities: Capabilities,
                leafNodeSource: LeafNodeSource, extensions: [Extension], signature: [UInt8]) {
        self.encryptionKey = encryptionKey
        self.signatureKey = signatureKey
        self.credential = credential
        self.capabilities = capabilities
        self.leafNodeSource = leafNodeSource
        self.extensions = extensions
        self.signature = signature
    }

    /// The fields shared by LeafNode and LeafNodeTBS, up to `extensions` (RFC 9420 §7.2).
    private func encodeContent(to writer: inout TLSWriter) {
        writer.writeOpaque(encryptionKey)
        writer.writeOpaque(signatureKey)
        credential.encode(to: &writer)
        capabilities.encode(to: &writer)
        leafNodeSource.encode(to: &writer)
        writer.writeVector(extensions)
    }

    /// Whether LeafNodeTBS carries `group_id` and `leaf_index`: true for the `update` and
    /// `commit` sources (RFC 9420 §7.2).
    public var tbsNeedsGroupContext: Bool {
        switch leafNodeSource {
        case .keyPackage: false
        case .update, .commit: true
        }
    }

    /// The encoded `LeafNodeTBS` (RFC 9420 §7.2). `group_id` and `leaf_index` are appended only
    /// for the `update` and `commit` sources; a `nil` argument there is encoded as an empty group
    /// ID / leaf 0 (which no valid signature covers; ``verifySignature(suite:groupID:leafIndex:)``
    /// refuses that case outright).
    public func tbs(groupID: [UInt8]?, leafIndex: UInt32?) -> [UInt8] {
        var w = TLSWriter()
        encodeContent(to: &w)
        if tbsNeedsGroupContext {
            w.writeOpaque(groupID ?? [])
            w.writeUInt32(leafIndex ?? 0)
        }
        return w.bytes
    }

    /// VerifyWithLabel(signature_key, "LeafNodeTBS", LeafNodeTBS, signature) (RFC 9420 §7.2,
    /// §7.3). Returns false if the source needs a group ID and leaf index and either is `nil`.
    public func verifySignature(suite: CipherSuite, groupID: [UInt8]?, leafIndex: UInt32?) -> Bool {
        if tbsNeedsGroupContext, groupID == nil || leafIndex == nil { return false }
        return suite.verifyWithLabel(publicKey: signatureKey, label: Self.signatureLabel,
                                     content: tbs(groupID: groupID, leafIndex: leafIndex), signature: signature)
    }

    /// Sets ``signature`` to SignWithLabel(signer, "LeafNodeTBS", LeafNodeTBS)
    /// (RFC 9420 §7.2). `groupID` and `leafIndex` are required for `update` and `commit` sources.
    public mutating func sign(suite: CipherSuite, signer: any MLSSigner,
                              groupID: [UInt8]? = nil, leafIndex: UInt32? = nil) throws {
        signature = try suite.signWithLabel(signer: signer, label: Self.signatureLabel,
                                            content: tbs(groupID: groupID, leafIndex: leafIndex))
    }

    /// A copy of `leafNode` signed as by ``sign(suite:signer:groupID:leafIndex:)`` (RFC 9420 §7.2).
    public static func sign(_ leafNode: LeafNode, suite: CipherSuite, signer: any MLSSigner,
                            groupID: [UInt8]? = nil, leafIndex: UInt32? = nil) throws -> LeafNode {
        var copy = leafNode
        try copy.sign(suite: suite, signer: signer, groupID: groupID, leafIndex: leafIndex)
        return copy
    }

    /// Encodes the struct (RFC 9420 §7.2).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        encodeContent(to: &writer)
        writer.writeOpaque(signature)
    }

    /// Decodes the struct (RFC 9420 §7.2).
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        encryptionKey = try reader.readOpaque()
        signatureKey = try reader.readOpaque()
        credential = try Credential(from: &reader)
        capabilities = try Capabilities(from: &reader)
        leafNodeSource = try LeafNodeSource(from: &reader)
        extensions = try reader.readVector(of: Extension.self)
        signature = try reader.readOpaque()
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension LeafNode: TLSCodable {}
