@_spi(Engine) import MLSCodec

/// `MLSMessage` (RFC 9420 §6): the top-level envelope of everything MLS sends.
public struct MLSMessage: Hashable, Sendable {
    /// The body selected by `wire_format` (RFC 9420 §6).
    @_spi(Engine) public enum Body: Hashable, Sendable {
        /// `mls_public_message` (RFC 9420 §6, §6.2).
        case publicMessage(PublicMessage)
        /// `mls_private_message` (RFC 9420 §6, §6.3).
        case privateMessage(PrivateMessage)
        /// `mls_welcome` (RFC 9420 §6, §12.4.3.1).
        case welcome(Welcome)
        /// `mls_group_info` (RFC 9420 §6, §12.4.3).
        case groupInfo(GroupInfo)
        /// `mls_key_package` (RFC 9420 §6, §10).
        case keyPackage(KeyPackage)

        /// The `wire_format` that selects this body (RFC 9420 §6).
        public var wireFormat: WireFormat {
            switch self {
            case .publicMessage: .publicMessage
            case .privateMessage: .privateMessage
            case .welcome: .welcome
            case .groupInfo: .groupInfo
            case .keyPackage: .keyPackage
            }
        }
    }

    /// `ProtocolVersion version = mls10` (RFC 9420 §6).
    @_spi(Engine) public var version: ProtocolVersion
    /// `wire_format` and the body it selects (RFC 9420 §6).
    @_spi(Engine) public var body: Body

    /// Creates an MLSMessage from its fields (RFC 9420 §6).
    @_spi(Engine) public init(version: ProtocolVersion = .mls10, body: Body) {
        self.version = version
        self.body = body
    }

    /// The `wire_format` of the body (RFC 9420 §6).
    @_spi(Engine) public var wireFormat: WireFormat { body.wireFormat }

    /// A KeyPackage to publish (`mls_key_package`, RFC 9420 §10).
    public init(keyPackage: KeyPackage) { self.init(body: .keyPackage(keyPackage)) }

    /// The KeyPackage, when the message is one (for a directory of published KeyPackages).
    public var keyPackage: KeyPackage? {
        if case let .keyPackage(k) = body { return k }
        return nil
    }

    /// Whether this is a Welcome (RFC 9420 §12.4.3.1), for ``MLSClient/join(welcome:keyPackage:ratchetTree:)``.
    public var isWelcome: Bool {
        if case .welcome = body { return true }
        return false
    }

    /// Whether this is a GroupInfo (RFC 9420 §12.4.3), for an external join.
    public var isGroupInfo: Bool {
        if case .groupInfo = body { return true }
        return false
    }

    /// For a PublicMessage or PrivateMessage, the `group_id` and `epoch` it carries in the
    /// clear (RFC 9420 §6), so a backend can route it to its group before processing; `nil`
    /// for other kinds. Unauthenticated until the group processes the message.
    public var routing: (groupID: [UInt8], epoch: UInt64)? {
        switch body {
        case let .publicMessage(m): (m.content.groupID, m.content.epoch)
        case let .privateMessage(m): (m.groupID, m.epoch)
        default: nil
        }
    }

    /// Encodes the struct (RFC 9420 §6).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        version.encode(to: &writer)
        wireFormat.encode(to: &writer)
        switch body {
        case let .publicMessage(m): m.encode(to: &writer)
        case let .privateMessage(m): m.encode(to: &writer)
        case let .welcome(m): m.encode(to: &writer)
        case let .groupInfo(m): m.encode(to: &writer)
        case let .keyPackage(m): m.encode(to: &writer)
        }
    }

    /// Decodes the struct, refusing wire formats RFC 9420 §6 does not define.
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        version = try ProtocolVersion(from: &reader)
        let format = try WireFormat(from: &reader)
        switch format {
        case .publicMessage: body = .publicMessage(try PublicMessage(from: &reader))
        case .privateMessage: body = .privateMessage(try PrivateMessage(from: &reader))
        case .welcome: body = .welcome(try Welcome(from: &reader))
        case .groupInfo: body = .groupInfo(try GroupInfo(from: &reader))
        case .keyPackage: body = .keyPackage(try KeyPackage(from: &reader))
        default: throw TLSDecodingError.invalidValue(type: "MLSMessage", detail: "unknown wire format \(format.rawValue)")
        }
    }
}

extension MLSMessage {
    /// Decodes a received message, refusing one larger than `limits.maxMessageBytes` before any
    /// of it is decoded (Docs/Security.md): the entry point for bytes from the network. Malformed
    /// bytes throw ``GroupError/decoding(_:)``.
    public init(serialized bytes: [UInt8], limits: MLSLimits = MLSLimits()) throws(GroupError) {
        guard bytes.count <= limits.maxMessageBytes else { throw GroupError.limitExceeded(.messageBytes) }
        self = try GroupError.catching { try MLSMessage(tlsSerialized: bytes) }
    }

    /// The message's encoding (RFC 9420 §6), as sent to the delivery service.
    public var serialized: [UInt8] { tlsSerialized }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension MLSMessage: TLSCodable {}
