@_spi(Engine) import MLSCodec

/// `Extension` (RFC 9420 §13.4): a typed, opaque extension value.
public struct Extension: Hashable, Sendable, TLSCodable {
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
    public func encode(to writer: inout TLSWriter) {
        extensionType.encode(to: &writer)
        writer.writeOpaque(extensionData)
    }

    /// Decodes the struct (RFC 9420 §13.4).
    public init(from reader: inout TLSReader) throws {
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
    /// Whether two extensions share a type, which no extension list may have (RFC 9420 §13.4).
    @_spi(Engine) public var hasRepeatedTypes: Bool {
        var seen = Set<UInt16>()
        return !allSatisfy { seen.insert($0.extensionType.rawValue).inserted }
    }
}
