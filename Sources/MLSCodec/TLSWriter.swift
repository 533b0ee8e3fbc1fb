/// Serializes values in the TLS presentation language as profiled by RFC 9420 §2.1.
///
/// Vectors carry the RFC's variable-length integer header (§2.1.2), so no vector can be longer
/// than 2^30 − 1 bytes. What is written may have been grown by other parties (a tree whose
/// members added large leaves), so an over-long vector does not trap: it is written empty and
/// ``exceededVarintRange`` is set, and ``TLSEncodable/tlsSerializedChecked()`` turns that into
/// an error for the callers that encode such aggregates.
@_spi(Engine) public struct TLSWriter: Sendable {
    @usableFromInline var buffer: [UInt8]

    /// Whether some vector or varint was beyond the RFC 9420 varint range; the bytes are then
    /// not a valid encoding.
    public private(set) var exceededVarintRange = false

    /// The bytes written so far.
    public var bytes: [UInt8] { buffer }

    /// Moves the written bytes out, leaving the writer empty. The caller then holds the only
    /// reference to the buffer, so it can zeroize it in place when the bytes are secret.
    public mutating func takeBytes() -> [UInt8] {
        var out: [UInt8] = []
        swap(&out, &buffer)
        return out
    }

    /// Creates an empty writer, optionally reserving room for `capacity` bytes.
    public init(capacity: Int = 0) {
        buffer = []
        if capacity > 0 { buffer.reserveCapacity(capacity) }
    }

    /// Writes one byte.
    @inlinable public mutating func writeUInt8(_ v: UInt8) { buffer.append(v) }

    /// Writes a big-endian `uint16`.
    @inlinable public mutating func writeUInt16(_ v: UInt16) {
        buffer.append(UInt8(truncatingIfNeeded: v >> 8))
        buffer.append(UInt8(truncatingIfNeeded: v))
    }

    /// Writes a big-endian `uint32`.
    @inlinable public mutating func writeUInt32(_ v: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { buffer.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }

    /// Writes a big-endian `uint64`.
    @inlinable public mutating func writeUInt64(_ v: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { buffer.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    /// Writes `value` as a minimal RFC 9420 §2.1.2 variable-length integer (at most 2^30 - 1).
    public mutating func writeVarint(_ value: Int) {
        guard value >= 0, value <= TLSVarint.max else {
            exceededVarintRange = true
            buffer.append(0)
            return
        }
        switch value {
        case 0..<0x40:
            buffer.append(UInt8(value))
        case 0x40..<0x4000:
            writeUInt16(UInt16(value) | 0x4000)
        default:
            writeUInt32(UInt32(value) | 0x8000_0000)
        }
    }

    /// Writes bytes with no length header (a fixed-size `opaque x[N]` field).
    @inlinable public mutating func writeRaw(_ raw: some Collection<UInt8>) { buffer.append(contentsOf: raw) }

    /// Writes `opaque x<V>`: a varint length followed by the bytes.
    public mutating func writeOpaque(_ raw: some Collection<UInt8>) {
        writeVarint(raw.count)
        buffer.append(contentsOf: raw)
    }

    /// Writes a length-prefixed vector whose content `body` produces.
    ///
    /// The content is written in place after a one-byte header that is widened afterwards if
    /// the content needs a longer varint, so nested vectors cost no temporary buffers.
    public mutating func writeVector(_ body: (inout TLSWriter) -> Void) {
        let start = buffer.count
        buffer.append(0)
        body(&self)
        let length = buffer.count - start - 1
        guard length <= TLSVarint.max else {
            exceededVarintRange = true
            buffer.removeSubrange((start + 1)...)
            buffer[start] = 0
            return
        }
        switch length {
        case 0..<0x40:
            buffer[start] = UInt8(length)
        case 0x40..<0x4000:
            buffer[start] = UInt8(0x40 | (length >> 8))
            buffer.insert(UInt8(truncatingIfNeeded: length), at: start + 1)
        default:
            buffer[start] = UInt8(0x80 | (length >> 24))
            buffer.insert(contentsOf: [UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8),
                                       UInt8(truncatingIfNeeded: length)], at: start + 1)
        }
    }

    /// Writes `T items<V>`.
    public mutating func writeVector<T: TLSEncodable>(_ items: [T]) {
        writeVector { w in for item in items { item.encode(to: &w) } }
    }

    /// Writes `optional<T>` (RFC 9420 §2.1.1).
    public mutating func writeOptional<T: TLSEncodable>(_ value: T?) {
        if let value {
            writeUInt8(1)
            value.encode(to: &self)
        } else {
            writeUInt8(0)
        }
    }

    /// Writes an `optional<opaque x<V>>`.
    public mutating func writeOptionalOpaque(_ value: [UInt8]?) {
        if let value {
            writeUInt8(1)
            writeOpaque(value)
        } else {
            writeUInt8(0)
        }
    }

    /// Writes any encodable value.
    @inlinable public mutating func write<T: TLSEncodable>(_ value: T) { value.encode(to: &self) }
}

/// Limits of the RFC 9420 §2.1.2 variable-length integer.
@_spi(Engine) public enum TLSVarint {
    /// The largest value a varint can carry: 2^30 - 1.
    public static let max = (1 << 30) - 1
}
