@_spi(Engine) import MLSCodec

/// `Lifetime` (RFC 9420 §7.2): the validity window of a KeyPackage's leaf, in seconds since the
/// Unix epoch.
@_spi(Engine) public struct Lifetime: Hashable, Sendable {
    /// `uint64 not_before` (RFC 9420 §7.2).
    public var notBefore: UInt64
    /// `uint64 not_after` (RFC 9420 §7.2).
    public var notAfter: UInt64

    /// Creates a lifetime from its bounds (RFC 9420 §7.2).
    public init(notBefore: UInt64, notAfter: UInt64) {
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// The window as a range, for the public API (a decoded Lifetime may be empty, so it
    /// cannot always be one).
    init(_ validity: ClosedRange<UInt64>) { self.init(notBefore: validity.lowerBound, notAfter: validity.upperBound) }

    /// Whether `time` lies within `[not_before, not_after]` (RFC 9420 §7.2).
    public func contains(_ time: UInt64) -> Bool { notBefore <= time && time <= notAfter }

    /// Encodes the struct (RFC 9420 §7.2).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        writer.writeUInt64(notBefore)
        writer.writeUInt64(notAfter)
    }

    /// Decodes the struct (RFC 9420 §7.2).
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        notBefore = try reader.readUInt64()
        notAfter = try reader.readUInt64()
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension Lifetime: TLSCodable {}
