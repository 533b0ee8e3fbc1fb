/// Parses the TLS presentation language as profiled by RFC 9420 §2.1, strictly.
///
/// The reader refuses non-minimal varints and the reserved `0b11` prefix (§2.1.2), lengths that run
/// past the input, and (through ``finish()``) trailing bytes. It never allocates more than the
/// bytes that remain in the input can justify, so hostile length fields cost nothing.
@_spi(Engine) public struct TLSReader: Sendable {
    @usableFromInline let storage: [UInt8]
    @usableFromInline var position: Int
    @usableFromInline let end: Int

    /// Creates a reader over `bytes`.
    public init(_ bytes: [UInt8]) {
        storage = bytes
        position = 0
        end = bytes.count
    }

    @usableFromInline init(storage: [UInt8], position: Int, end: Int) {
        self.storage = storage
        self.position = position
        self.end = end
    }

    /// The number of unread bytes.
    @inlinable public var remaining: Int { end - position }

    /// Whether every byte has been read.
    @inlinable public var isAtEnd: Bool { position == end }

    /// Throws ``TLSDecodingError/trailingBytes(count:)`` unless every byte was consumed.
    public func finish() throws(TLSDecodingError) {
        if position != end { throw .trailingBytes(count: end - position) }
    }

    @inlinable mutating func need(_ n: Int) throws(TLSDecodingError) {
        if n < 0 || n > end - position { throw .truncated(needed: n, remaining: end - position) }
    }

    /// Reads one byte.
    @inlinable public mutating func readUInt8() throws(TLSDecodingError) -> UInt8 {
        try need(1)
        defer { position += 1 }
        return storage[position]
    }

    /// Reads a big-endian `uint16`.
    @inlinable public mutating func readUInt16() throws(TLSDecodingError) -> UInt16 {
        try need(2)
        defer { position += 2 }
        return UInt16(storage[position]) << 8 | UInt16(storage[position + 1])
    }

    /// Reads a big-endian `uint32`.
    @inlinable public mutating func readUInt32() throws(TLSDecodingError) -> UInt32 {
        try need(4)
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(storage[position + i]) }
        position += 4
        return v
    }

    /// Reads a big-endian `uint64`.
    @inlinable public mutating func readUInt64() throws(TLSDecodingError) -> UInt64 {
        try need(8)
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(storage[position + i]) }
        position += 8
        return v
    }

    /// Reads an RFC 9420 §2.1.2 variable-length integer, refusing non-minimal encodings.
    public mutating func readVarint() throws(TLSDecodingError) -> Int {
        let first = try readUInt8()
        switch first >> 6 {
        case 0:
            return Int(first)
        case 1:
            let v = Int(first & 0x3f) << 8 | Int(try readUInt8())
            if v < 0x40 { throw .nonMinimalVarint }
            return v
        case 2:
            try need(3)
            var v = Int(first & 0x3f)
            for i in 0..<3 { v = v << 8 | Int(storage[position + i]) }
            position += 3
            if v < 0x4000 { throw .nonMinimalVarint }
            return v
        default:
            throw .invalidVarintPrefix
        }
    }

    /// Reads `count` bytes with no length header (a fixed-size `opaque x[N]` field).
    public mutating func readBytes(_ count: Int) throws(TLSDecodingError) -> [UInt8] {
        try need(count)
        defer { position += count }
        return Array(storage[position..<position + count])
    }

    /// Reads `opaque x<V>`.
    public mutating func readOpaque() throws(TLSDecodingError) -> [UInt8] {
        let n = try readVarint()
        return try readBytes(n)
    }

    /// Reads an `optional<opaque x<V>>`.
    public mutating func readOptionalOpaque() throws(TLSDecodingError) -> [UInt8]? {
        try readPresence("optional<opaque>") ? try readOpaque() : nil
    }

    /// Reads a varint length and returns a reader confined to that many bytes, advancing past them.
    public mutating func readVectorReader() throws(TLSDecodingError) -> TLSReader {
        let n = try readVarint()
        try need(n)
        let sub = TLSReader(storage: storage, position: position, end: position + n)
        position += n
        return sub
    }

    /// Reads `T items<V>`, decoding elements with `element` until the vector's bytes are used up.
    ///
    /// An element that consumes no bytes is refused, so the element count is bounded by the input.
    public mutating func readVector<T>(
        maxCount: Int = .max, _ element: (inout TLSReader) throws -> T
    ) throws -> [T] {
        var sub = try readVectorReader()
        var items: [T] = []
        while !sub.isAtEnd {
            // The limit is checked before the element is decoded: nothing is built past it.
            guard items.count < maxCount else { throw TLSDecodingError.tooManyElements(type: String(describing: T.self), limit: maxCount) }
            let before = sub.position
            items.append(try element(&sub))
            if sub.position == before { throw TLSDecodingError.emptyElement(type: String(describing: T.self)) }
        }
        return items
    }

    /// Reads `T items<V>` for a decodable `T`.
    public mutating func readVector<T: TLSDecodable>(of _: T.Type = T.self) throws -> [T] {
        try readVector { try T(from: &$0) }
    }

    /// Reads an `optional<T>` (RFC 9420 §2.1.1).
    public mutating func readOptional<T: TLSDecodable>(of _: T.Type = T.self) throws -> T? {
        try readPresence(String(describing: T.self)) ? try T(from: &self) : nil
    }

    /// Reads any decodable value.
    @inlinable public mutating func read<T: TLSDecodable>(_: T.Type = T.self) throws -> T {
        try T(from: &self)
    }

    /// Reads the presence byte of an `optional<T>`: only 0 and 1 are valid.
    public mutating func readPresence(_ type: String) throws(TLSDecodingError) -> Bool {
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        case let other: throw .invalidValue(type: "optional<\(type)>", detail: "presence byte \(other)")
        }
    }
}
