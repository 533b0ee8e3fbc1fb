/// The fuzzer's bytes as a stream of choices. An exhausted stream yields zeros, and every
/// generator treats 0 as "keep the valid value", so a short input is a mostly valid message.
package struct FuzzInput {
    package let bytes: [UInt8]
    package private(set) var position = 0

    package init(_ bytes: [UInt8]) { self.bytes = bytes }

    package var isExhausted: Bool { position >= bytes.count }

    package mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    package mutating func bool() -> Bool { byte() & 1 == 1 }

    /// A value in `0..<upper` (0 when `upper` ≤ 1).
    package mutating func int(_ upper: Int) -> Int {
        guard upper > 1 else { return 0 }
        if upper <= 256 { return Int(byte()) % upper }
        return Int(u32() % UInt32(min(upper, Int(UInt32.max))))
    }

    package mutating func u16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }
    package mutating func u32() -> UInt32 { UInt32(u16()) << 16 | UInt32(u16()) }
    package mutating func u64() -> UInt64 { UInt64(u32()) << 32 | UInt64(u32()) }

    /// Up to `max` raw bytes (length first).
    package mutating func bytes(max: Int) -> [UInt8] {
        let n = int(max + 1)
        var out: [UInt8] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(byte()) }
        return out
    }

    /// An integer near a boundary, or `keep`.
    package mutating func interestingU64(keep: UInt64) -> UInt64 {
        switch int(12) {
        case 0: keep
        case 1: 0
        case 2: 1
        case 3: UInt64.max
        case 4: UInt64.max - 1
        case 5: UInt64(Int64.max)
        case 6: UInt64(Int64.max) + 1
        case 7: UInt64(UInt32.max)
        case 8: UInt64(UInt32.max) + 1
        case 9: keep &+ 1
        case 10: keep &- 1
        default: u64()
        }
    }

    package mutating func interestingU32(keep: UInt32, near: UInt32 = 0) -> UInt32 {
        switch int(12) {
        case 0: keep
        case 1: 0
        case 2: 1
        case 3: UInt32.max
        case 4: UInt32.max - 1
        case 5: UInt32(Int32.max)
        case 6: UInt32(Int32.max) + 1
        case 7: near
        case 8: near &+ 1
        case 9: near &- 1
        case 10: keep &+ 1
        default: u32()
        }
    }

    package mutating func pick<T>(_ items: [T]) -> T? {
        items.isEmpty ? nil : items[int(items.count)]
    }
}
