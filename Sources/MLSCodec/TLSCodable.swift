/// A value with a TLS presentation-language encoding (RFC 9420 §2.1).
@_spi(Engine) public protocol TLSEncodable {
    /// Appends this value's encoding to `writer`.
    func encode(to writer: inout TLSWriter)
}

/// A value that can be decoded from its TLS presentation-language encoding (RFC 9420 §2.1).
@_spi(Engine) public protocol TLSDecodable {
    /// Decodes a value from `reader`, consuming exactly its encoding. Throws on malformed input.
    init(from reader: inout TLSReader) throws
}

/// A value with a TLS presentation-language encoding in both directions.
@_spi(Engine) public typealias TLSCodable = TLSDecodable & TLSEncodable

extension TLSEncodable {
    /// This value's complete encoding. For values that may hold a vector beyond 2^30 − 1 bytes
    /// (aggregates others can grow), use ``tlsSerializedChecked()``.
    public var tlsSerialized: [UInt8] {
        var w = TLSWriter()
        encode(to: &w)
        return w.bytes
    }

    /// This value's complete encoding, or an error when some vector in it is longer than the
    /// RFC 9420 varint range allows (§2.1.2).
    public func tlsSerializedChecked() throws(TLSEncodingError) -> [UInt8] {
        var w = TLSWriter()
        encode(to: &w)
        guard !w.exceededVarintRange else { throw .vectorTooLong }
        return w.bytes
    }
}

/// Why a value could not be encoded.
public enum TLSEncodingError: Error, Equatable, Sendable {
    /// A vector is longer than 2^30 − 1 bytes, the most an RFC 9420 varint can announce.
    case vectorTooLong
}

extension TLSDecodable {
    /// Decodes a value that must occupy all of `bytes`; trailing bytes are an error.
    public init(tlsSerialized bytes: [UInt8]) throws {
        var r = TLSReader(bytes)
        self = try Self(from: &r)
        try r.finish()
    }
}

@_spi(Engine) extension UInt8: TLSCodable {
    @_spi(Engine) public func encode(to writer: inout TLSWriter) { writer.writeUInt8(self) }
    @_spi(Engine) public init(from reader: inout TLSReader) throws { self = try reader.readUInt8() }
}

@_spi(Engine) extension UInt16: TLSCodable {
    @_spi(Engine) public func encode(to writer: inout TLSWriter) { writer.writeUInt16(self) }
    @_spi(Engine) public init(from reader: inout TLSReader) throws { self = try reader.readUInt16() }
}

@_spi(Engine) extension UInt32: TLSCodable {
    @_spi(Engine) public func encode(to writer: inout TLSWriter) { writer.writeUInt32(self) }
    @_spi(Engine) public init(from reader: inout TLSReader) throws { self = try reader.readUInt32() }
}

@_spi(Engine) extension UInt64: TLSCodable {
    @_spi(Engine) public func encode(to writer: inout TLSWriter) { writer.writeUInt64(self) }
    @_spi(Engine) public init(from reader: inout TLSReader) throws { self = try reader.readUInt64() }
}

/// A value encoded as its integer raw value: the RFC's enums and registry code points.
///
/// Closed enums (whose failable `init(rawValue:)` rejects unknown values, as for a `select` in
/// RFC 9420) refuse unknown values with ``TLSDecodingError/invalidValue(type:detail:)``; registry
/// structs (whose `init(rawValue:)` always succeeds) accept every value, as GREASE requires.
@_spi(Engine) public protocol TLSRawValueCodable: RawRepresentable, TLSCodable where RawValue: TLSCodable & FixedWidthInteger {}

extension TLSRawValueCodable {
    public func encode(to writer: inout TLSWriter) { rawValue.encode(to: &writer) }

    public init(from reader: inout TLSReader) throws {
        let raw = try RawValue(from: &reader)
        guard let value = Self(rawValue: raw) else {
            throw TLSDecodingError.invalidValue(type: String(describing: Self.self), detail: "value \(raw)")
        }
        self = value
    }
}
