@_spi(Engine) import MLSCodec

/// `GroupSecrets` (RFC 9420 §12.4.3.1): the secrets a Welcome encrypts to each new member.
@_spi(Engine) public struct GroupSecrets: Hashable, Sendable, TLSCodable {
    /// `opaque joiner_secret<V>` (RFC 9420 §12.4.3.1).
    public var joinerSecret: [UInt8]
    /// `optional<PathSecret> path_secret` (RFC 9420 §12.4.3.1).
    public var pathSecret: PathSecret?
    /// `PreSharedKeyID psks<V>` (RFC 9420 §12.4.3.1).
    public var psks: [PreSharedKeyID]

    /// Creates group secrets from their fields (RFC 9420 §12.4.3.1).
    public init(joinerSecret: [UInt8], pathSecret: PathSecret?, psks: [PreSharedKeyID]) {
        self.joinerSecret = joinerSecret
        self.pathSecret = pathSecret
        self.psks = psks
    }

    /// Encodes the struct (RFC 9420 §12.4.3.1).
    public func encode(to writer: inout TLSWriter) {
        writer.writeOpaque(joinerSecret)
        writer.writeOptional(pathSecret)
        writer.writeVector(psks)
    }

    /// Decodes the struct (RFC 9420 §12.4.3.1).
    public init(from reader: inout TLSReader) throws {
        joinerSecret = try reader.readOpaque()
        pathSecret = try reader.readOptional(of: PathSecret.self)
        psks = try reader.readVector(of: PreSharedKeyID.self)
    }
}
