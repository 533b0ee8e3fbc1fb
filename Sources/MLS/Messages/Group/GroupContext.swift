@_spi(Engine) import MLSCodec

/// `GroupContext` (RFC 9420 §8.1): the group's shared state summary for one epoch.
@_spi(Engine) public struct GroupContext: Hashable, Sendable {
    /// `ProtocolVersion version = mls10` (RFC 9420 §8.1).
    public var version: ProtocolVersion
    /// `CipherSuite cipher_suite` code point (RFC 9420 §8.1).
    public var cipherSuite: UInt16
    /// `opaque group_id<V>` (RFC 9420 §8.1).
    public var groupID: [UInt8]
    /// `uint64 epoch` (RFC 9420 §8.1).
    public var epoch: UInt64
    /// `opaque tree_hash<V>` (RFC 9420 §8.1, §7.8).
    public var treeHash: [UInt8]
    /// `opaque confirmed_transcript_hash<V>` (RFC 9420 §8.1, §8.2).
    public var confirmedTranscriptHash: [UInt8]
    /// `Extension extensions<V>` (RFC 9420 §8.1).
    public var extensions: [Extension]

    /// Creates a GroupContext from its fields (RFC 9420 §8.1).
    public init(version: ProtocolVersion = .mls10, cipherSuite: UInt16, groupID: [UInt8], epoch: UInt64,
                treeHash: [UInt8], confirmedTranscriptHash: [UInt8], extensions: [Extension]) {
        self.version = version
        self.cipherSuite = cipherSuite
        self.groupID = groupID
        self.epoch = epoch
        self.treeHash = treeHash
        self.confirmedTranscriptHash = confirmedTranscriptHash
        self.extensions = extensions
    }

    /// Encodes the struct (RFC 9420 §8.1).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        version.encode(to: &writer)
        writer.writeUInt16(cipherSuite)
        writer.writeOpaque(groupID)
        writer.writeUInt64(epoch)
        writer.writeOpaque(treeHash)
        writer.writeOpaque(confirmedTranscriptHash)
        writer.writeVector(extensions)
    }

    /// Decodes the struct (RFC 9420 §8.1).
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        version = try ProtocolVersion(from: &reader)
        cipherSuite = try reader.readUInt16()
        groupID = try reader.readOpaque()
        epoch = try reader.readUInt64()
        treeHash = try reader.readOpaque()
        confirmedTranscriptHash = try reader.readOpaque()
        extensions = try reader.readVector(of: Extension.self)
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension GroupContext: TLSCodable {}
