@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `GroupInfo` (RFC 9420 §12.4.3): the signed group state a joiner needs.
@_spi(Engine) public struct GroupInfo: Hashable, Sendable, TLSCodable {
    /// `GroupContext group_context` (RFC 9420 §12.4.3).
    public var groupContext: GroupContext
    /// `Extension extensions<V>` (RFC 9420 §12.4.3).
    public var extensions: [Extension]
    /// `MAC confirmation_tag` (RFC 9420 §12.4.3).
    public var confirmationTag: [UInt8]
    /// `uint32 signer`: the leaf index of the signing member (RFC 9420 §12.4.3).
    public var signer: UInt32
    /// `opaque signature<V>`: SignWithLabel(., "GroupInfoTBS", GroupInfoTBS) (RFC 9420 §12.4.3).
    public var signature: [UInt8]

    /// The signature label of a GroupInfo (RFC 9420 §12.4.3, §17.6).
    public static let signatureLabel = "GroupInfoTBS"

    /// Creates a GroupInfo from its fields (RFC 9420 §12.4.3).
    public init(groupContext: GroupContext, extensions: [Extension], confirmationTag: [UInt8], signer: UInt32, signature: [UInt8]) {
        self.groupContext = groupContext
        self.extensions = extensions
        self.confirmationTag = confirmationTag
        self.signer = signer
        self.signature = signature
    }

    private func encodeContent(to writer: inout TLSWriter) {
        groupContext.encode(to: &writer)
        writer.writeVector(extensions)
        writer.writeOpaque(confirmationTag)
        writer.writeUInt32(signer)
    }

    /// The encoded `GroupInfoTBS` (RFC 9420 §12.4.3).
    public var tbs: [UInt8] {
        var w = TLSWriter()
        encodeContent(to: &w)
        return w.bytes
    }

    /// VerifyWithLabel(publicKey, "GroupInfoTBS", GroupInfoTBS, signature), where `publicKey` is
    /// the signature key of the `signer` leaf (RFC 9420 §12.4.3).
    public func verifySignature(suite: CipherSuite, publicKey: [UInt8]) -> Bool {
        suite.verifyWithLabel(publicKey: publicKey, label: Self.signatureLabel, content: tbs, signature: signature)
    }

    /// Sets ``signature`` to SignWithLabel(signer, "GroupInfoTBS", GroupInfoTBS) (RFC 9420 §12.4.3).
    public mutating func sign(suite: CipherSuite, signer: any MLSSigner) throws {
        signature = try suite.signWithLabel(signer: signer, label: Self.signatureLabel, content: tbs)
    }

    /// Encodes the struct (RFC 9420 §12.4.3).
    public func encode(to writer: inout TLSWriter) {
        encodeContent(to: &writer)
        writer.writeOpaque(signature)
    }

    /// Decodes the struct (RFC 9420 §12.4.3).
    public init(from reader: inout TLSReader) throws {
        groupContext = try GroupContext(from: &reader)
        extensions = try reader.readVector(of: Extension.self)
        confirmationTag = try reader.readOpaque()
        signer = try reader.readUInt32()
        signature = try reader.readOpaque()
    }
}
