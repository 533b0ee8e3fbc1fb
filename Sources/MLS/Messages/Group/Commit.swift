@_spi(Engine) import MLSCodec

/// `Commit` (RFC 9420 §12.4): applies a list of proposals, optionally with an UpdatePath.
@_spi(Engine) public struct Commit: Hashable, Sendable, TLSCodable {
    /// `ProposalOrRef proposals<V>` (RFC 9420 §12.4).
    public var proposals: [ProposalOrRef]
    /// `optional<UpdatePath> path` (RFC 9420 §12.4).
    public var path: UpdatePath?

    /// Creates a commit from its fields (RFC 9420 §12.4).
    public init(proposals: [ProposalOrRef], path: UpdatePath?) {
        self.proposals = proposals
        self.path = path
    }

    /// Encodes the struct (RFC 9420 §12.4).
    public func encode(to writer: inout TLSWriter) {
        writer.writeVector(proposals)
        writer.writeOptional(path)
    }

    /// Decodes the struct (RFC 9420 §12.4).
    public init(from reader: inout TLSReader) throws {
        proposals = try reader.readVector(of: ProposalOrRef.self)
        path = try reader.readOptional(of: UpdatePath.self)
    }
}
