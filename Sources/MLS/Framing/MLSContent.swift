@_spi(Engine) import MLSCodec

/// The content selected by `content_type` in FramedContent and PrivateMessageContent (RFC 9420 §6, §6.3.1).
@_spi(Engine) public enum MLSContent: Hashable, Sendable {
    /// `opaque application_data<V>` (RFC 9420 §6).
    case application([UInt8])
    /// `Proposal proposal` (RFC 9420 §6, §12.1).
    case proposal(Proposal)
    /// `Commit commit` (RFC 9420 §6, §12.4).
    case commit(Commit)

    /// The `content_type` that selects this content (RFC 9420 §6).
    public var contentType: ContentType {
        switch self {
        case .application: .application
        case .proposal: .proposal
        case .commit: .commit
        }
    }

    /// Decodes the body selected by `type`, without a type byte (RFC 9420 §6).
    public static func decode(_ type: ContentType, from reader: inout TLSReader) throws -> MLSContent {
        switch type {
        case .application: .application(try reader.readOpaque())
        case .proposal: .proposal(try Proposal(from: &reader))
        case .commit: .commit(try Commit(from: &reader))
        }
    }

    /// Encodes the body only, without the `content_type` byte (RFC 9420 §6).
    public func encodeBody(to writer: inout TLSWriter) {
        switch self {
        case let .application(data): writer.writeOpaque(data)
        case let .proposal(p): p.encode(to: &writer)
        case let .commit(c): c.encode(to: &writer)
        }
    }
}
