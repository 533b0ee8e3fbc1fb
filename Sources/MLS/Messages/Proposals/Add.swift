@_spi(Engine) import MLSCodec

/// `Add` (RFC 9420 §12.1.1): adds the client of a KeyPackage to the group.
public struct Add: Hashable, Sendable, TLSCodable {
    /// `KeyPackage key_package` (RFC 9420 §12.1.1).
    public var keyPackage: KeyPackage

    /// Creates the proposal (RFC 9420 §12.1.1).
    public init(keyPackage: KeyPackage) { self.keyPackage = keyPackage }

    /// Encodes the struct (RFC 9420 §12.1.1).
    public func encode(to writer: inout TLSWriter) { keyPackage.encode(to: &writer) }
    /// Decodes the struct (RFC 9420 §12.1.1).
    public init(from reader: inout TLSReader) throws { keyPackage = try KeyPackage(from: &reader) }
}
