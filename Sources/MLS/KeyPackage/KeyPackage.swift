@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `KeyPackage` (RFC 9420 §10): a client's signed, pre-published offer to be added to a group.
public struct KeyPackage: Hashable, Sendable {
    /// `ProtocolVersion version` (RFC 9420 §10).
    @_spi(Engine) public var version: ProtocolVersion
    /// `CipherSuite cipher_suite` code point (RFC 9420 §10).
    public var cipherSuite: UInt16
    /// `HPKEPublicKey init_key` (RFC 9420 §10).
    public var initKey: [UInt8]
    /// `LeafNode leaf_node` (RFC 9420 §10).
    @_spi(Engine) public var leafNode: LeafNode
    /// `Extension extensions<V>` (RFC 9420 §10).
    public var extensions: [Extension]
    /// `opaque signature<V>`: SignWithLabel(., "KeyPackageTBS", KeyPackageTBS) (RFC 9420 §10).
    public var signature: [UInt8]

    /// The signature label of a key package (RFC 9420 §10, §17.6).
    public static let signatureLabel = "KeyPackageTBS"

    /// Creates a key package from its fields (RFC 9420 §10).
    @_spi(Engine) public init(version: ProtocolVersion = .mls10, cipherSuite: UInt16, initKey: [UInt8], leafNode: LeafNode,
                extensions: [Extension], signature: [UInt8]) {
        self.version = version
        self.cipherSuite = cipherSuite
        self.initKey = initKey
        self.leafNode = leafNode
        self.extensions = extensions
        self.signature = signature
    }

    private func encodeContent(to writer: inout TLSWriter) {
        version.encode(to: &writer)
        writer.writeUInt16(cipherSuite)
        writer.writeOpaque(initKey)
        leafNode.encode(to: &writer)
        writer.writeVector(extensions)
    }

    /// The encoded `KeyPackageTBS` (RFC 9420 §10).
    public var tbs: [UInt8] {
        var w = TLSWriter()
        encodeContent(to: &w)
        return w.bytes
    }

    /// VerifyWithLabel(leaf_node.signature_key, "KeyPackageTBS", KeyPackageTBS, signature)
    /// (RFC 9420 §10.1). This checks only the KeyPackage's own signature, not the leaf node's.
    public func verifySignature(suite: CipherSuite) -> Bool {
        suite.verifyWithLabel(publicKey: leafNode.signatureKey, label: Self.signatureLabel, content: tbs, signature: signature)
    }

    /// Sets ``signature`` to SignWithLabel(signer, "KeyPackageTBS", KeyPackageTBS)
    /// (RFC 9420 §10). Sign the leaf node first: its signature is part of the TBS.
    public mutating func sign(suite: CipherSuite, signer: any MLSSigner) throws {
        signature = try suite.signWithLabel(signer: signer, label: Self.signatureLabel, content: tbs)
    }

    /// `MakeKeyPackageRef(KeyPackage)` = RefHash("MLS 1.0 KeyPackage Reference", KeyPackage) (RFC 9420 §5.2).
    public func ref(suite: CipherSuite) -> [UInt8] {
        suite.keyPackageRef(tlsSerialized)
    }

    /// Encodes the struct (RFC 9420 §10).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        encodeContent(to: &writer)
        writer.writeOpaque(signature)
    }

    /// Decodes the struct (RFC 9420 §10).
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        version = try ProtocolVersion(from: &reader)
        cipherSuite = try reader.readUInt16()
        initKey = try reader.readOpaque()
        leafNode = try LeafNode(from: &reader)
        extensions = try reader.readVector(of: Extension.self)
        signature = try reader.readOpaque()
    }
}

extension KeyPackage {
    /// The credential of the client the KeyPackage belongs to (its leaf's, RFC 9420 §10), for a
    /// directory or an application deciding whom it adds.
    public var credential: Credential { leafNode.credential }

    /// The KeyPackage's encoding (RFC 9420 §10), for a directory of published KeyPackages.
    public var serialized: [UInt8] { tlsSerialized }

    /// Decodes a KeyPackage. Malformed bytes throw ``GroupError/decoding(_:)``; the KeyPackage
    /// itself is validated when it is added to a group (§10.1).
    public init(serialized bytes: [UInt8]) throws(GroupError) {
        self = try GroupError.catching { try KeyPackage(tlsSerialized: bytes) }
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension KeyPackage: TLSCodable {}
