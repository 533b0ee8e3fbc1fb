@_spi(Engine) import MLSCodec

/// `ReInit` (RFC 9420 §12.1.5): closes the group in favour of a new one with new parameters.
public struct ReInit: Hashable, Sendable {
    /// `opaque group_id<V>` (RFC 9420 §12.1.5).
    public var groupID: [UInt8]
    /// `ProtocolVersion version` (RFC 9420 §12.1.5).
    @_spi(Engine) public var version: ProtocolVersion
    /// `CipherSuite cipher_suite` code point (RFC 9420 §12.1.5).
    public var cipherSuite: UInt16
    /// `Extension extensions<V>` (RFC 9420 §12.1.5).
    public var extensions: [Extension]

    /// Creates the proposal (RFC 9420 §12.1.5).
    @_spi(Engine) public init(groupID: [UInt8], version: ProtocolVersion = .mls10, cipherSuite: UInt16, extensions: [Extension]) {
        self.groupID = groupID
        self.version = version
        self.cipherSuite = cipherSuite
        self.extensions = extensions
    }

    /// Encodes the struct (RFC 9420 §12.1.5).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        writer.writeOpaque(groupID)
        version.encode(to: &writer)
        writer.writeUInt16(cipherSuite)
        writer.writeVector(extensions)
    }

    /// Decodes the struct (RFC 9420 §12.1.5).
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        groupID = try reader.readOpaque()
        version = try ProtocolVersion(from: &reader)
        cipherSuite = try reader.readUInt16()
        extensions = try reader.readVector(of: Extension.self)
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension ReInit: TLSCodable {}
