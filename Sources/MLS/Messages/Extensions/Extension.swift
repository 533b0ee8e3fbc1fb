@_spi(Engine) import MLSCodec

/// `Extension` (RFC 9420 §13.4): a typed, opaque extension value.
public struct Extension: Hashable, Sendable {
    /// `ExtensionType extension_type` (RFC 9420 §13.4).
    public var extensionType: ExtensionType
    /// `opaque extension_data<V>` (RFC 9420 §13.4).
    public var extensionData: [UInt8]

    /// Creates an extension from its fields (RFC 9420 §13.4).
    public init(extensionType: ExtensionType, extensionData: [UInt8]) {
        self.extensionType = extensionType
        self.extensionData = extensionData
    }

    /// Encodes the struct (RFC 9420 §13.4).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        extensionType.encode(to: &writer)
        writer.writeOpaque(extensionData)
    }

    /// Decodes the struct (RFC 9420 §13.4).
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        extensionType = try ExtensionType(from: &reader)
        extensionData = try reader.readOpaque()
    }
}

extension Array where Element == Extension {
    /// The data of the first extension of type `type`, if any (RFC 9420 §13.4).
    @_spi(Engine) public func data(for type: ExtensionType) -> [UInt8]? {
        first { $0.extensionType == type }?.extensionData
    }
}

extension Array where Element == Extension {
    /// The value of the extension of `type`, decoded as `T` (RFC 9420 §13.4); `nil` when the list
    /// has none, ``GroupError/malformedExtension(_:_:)`` when its data is not exactly one `T`.
    func decoded<T: TLSDecodable>(_ type: ExtensionType, as _: T.Type) throws(GroupError) -> T? {
        guard let data = data(for: type) else { return nil }
        do { return try T(tlsSerialized: data) } catch { throw GroupError.malformed(type, error) }
    }

    /// `required_capabilities` (§7.2, §11.1), if present.
    var requiredCapabilities: RequiredCapabilities? {
        get throws(GroupError) { try decoded(.requiredCapabilities, as: RequiredCapabilities.self) }
    }

    /// `external_pub` (§12.4.3.2), if present.
    var externalPub: ExternalPub? {
        get throws(GroupError) { try decoded(.externalPub, as: ExternalPub.self) }
    }

    /// `external_senders` (§12.1.8.1): the list, empty when the extension is absent.
    var externalSenders: [ExternalSender] {
        get throws(GroupError) {
            guard let data = data(for: .externalSenders) else { return [] }
            do {
                var r = TLSReader(data)
                let list = try r.readVector(of: ExternalSender.self)
                try r.finish()
                return list
            } catch {
                throw GroupError.malformed(.externalSenders, error)
            }
        }
    }
}

extension Array where Element == Extension {
    /// Whether two extensions share a type, which no extension list may have (RFC 9420 §13.4).
    @_spi(Engine) public var hasRepeatedTypes: Bool {
        var seen = Set<UInt16>()
        return !allSatisfy { seen.insert($0.extensionType.rawValue).inserted }
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension Extension: TLSCodable {}
