import Testing
@_spi(Engine) @testable import MLSCodec

struct Pair: TLSCodable, Equatable {
    var a: UInt16
    var b: [UInt8]
    func encode(to w: inout TLSWriter) {
        w.writeUInt16(a)
        w.writeOpaque(b)
    }
    init(a: UInt16, b: [UInt8]) { self.a = a; self.b = b }
    init(from r: inout TLSReader) throws {
        a = try r.readUInt16()
        b = try r.readOpaque()
    }
}

@Suite struct VarintTests {
    @Test(arguments: [0, 1, 63, 64, 16383, 16384, 1 << 29, TLSVarint.max])
    func roundTrip(_ n: Int) throws {
        var w = TLSWriter()
        w.writeVarint(n)
        var r = TLSReader(w.bytes)
        #expect(try r.readVarint() == n)
        try r.finish()
        // Minimal widths (RFC 9420 §2.1.2): 1 byte below 64, 2 below 16384, else 4.
        #expect(w.bytes.count == (n < 64 ? 1 : n < 16384 ? 2 : 4))
    }

    @Test(arguments: [[0x40, 0x3f] as [UInt8], [0x80, 0x00, 0x3f, 0xff], [0x80, 0x00, 0x00, 0x01]])
    func nonMinimalIsRefused(_ bytes: [UInt8]) {
        var r = TLSReader(bytes)
        #expect(throws: TLSDecodingError.nonMinimalVarint) { try r.readVarint() }
    }

    @Test func reservedPrefixIsRefused() {
        var r = TLSReader([0xc0, 0, 0, 0, 0, 0, 0, 1])
        #expect(throws: TLSDecodingError.invalidVarintPrefix) { try r.readVarint() }
    }

    @Test func truncatedVarint() {
        var r = TLSReader([0x80, 0x01])
        #expect(throws: TLSDecodingError.truncated(needed: 3, remaining: 1)) { try r.readVarint() }
    }
}

@Suite struct StrictDecodingTests {
    @Test func structRoundTrip() throws {
        let p = Pair(a: 0xbeef, b: [1, 2, 3])
        #expect(try Pair(tlsSerialized: p.tlsSerialized) == p)
        #expect(p.tlsSerialized == [0xbe, 0xef, 3, 1, 2, 3])
    }

    @Test func trailingBytesAreRefused() {
        #expect(throws: TLSDecodingError.trailingBytes(count: 1)) { try Pair(tlsSerialized: [0, 1, 0, 9]) }
    }

    @Test func truncatedInputIsRefused() {
        #expect(throws: TLSDecodingError.truncated(needed: 3, remaining: 2)) { try Pair(tlsSerialized: [0, 1, 3, 1, 2]) }
        #expect(throws: TLSDecodingError.truncated(needed: 2, remaining: 1)) { try Pair(tlsSerialized: [0]) }
    }

    @Test func hostileLengthDoesNotAllocate() {
        // A 4-byte header declaring 2^30 - 1 bytes followed by three bytes: refused before any
        // allocation of the declared size.
        #expect(throws: TLSDecodingError.truncated(needed: TLSVarint.max, remaining: 3)) {
            var r = TLSReader([0xbf, 0xff, 0xff, 0xff, 1, 2, 3])
            _ = try r.readOpaque()
        }
    }

    @Test func vectorOfStructs() throws {
        let items = [Pair(a: 1, b: []), Pair(a: 2, b: [9])]
        var w = TLSWriter()
        w.writeVector(items)
        var r = TLSReader(w.bytes)
        #expect(try r.readVector(of: Pair.self) == items)
        try r.finish()
    }

    @Test func vectorElementOverrunningItsVectorIsRefused() {
        // The vector claims 3 bytes but its element needs 4: the element read must fail inside
        // the vector's bounds rather than read the following byte.
        var r = TLSReader([0x03, 0x00, 0x01, 0x01, 0xaa])
        #expect(throws: TLSDecodingError.self) { try r.readVector(of: Pair.self) }
    }

    @Test func optionalPresenceByte() throws {
        var w = TLSWriter()
        w.writeOptional(UInt16(7))
        w.writeOptional(UInt16?.none)
        var r = TLSReader(w.bytes)
        #expect(try r.readOptional(of: UInt16.self) == 7)
        #expect(try r.readOptional(of: UInt16.self) == nil)
        var bad = TLSReader([2, 0, 7])
        #expect(throws: TLSDecodingError.self) { try bad.readOptional(of: UInt16.self) }
    }

    @Test func randomBytesNeverTrap() {
        // Every prefix of a valid encoding, and arbitrary garbage, must give a typed error or a value.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let n = Int.random(in: 0..<24, using: &generator)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var r = TLSReader(bytes)
            _ = try? r.readVector(of: Pair.self)
            _ = try? Pair(tlsSerialized: bytes)
        }
    }

    @Test func hex() {
        #expect(Hex.decode("00ff10") == [0, 255, 16])
        #expect(Hex.decode("0") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect([0xab, 0x01].hex == "ab01")
    }
}

/// The 2^30 − 1 limit of RFC 9420's varints on re-encoding: a vector grown beyond it by other
/// parties' data is an error for the caller, never a trap.
@Suite struct EncodingLimitTests {
    struct Big: TLSEncodable {
        let count: Int
        func encode(to writer: inout TLSWriter) {
            // An array, so the append is one copy (a lazy collection is element by element in debug).
            writer.writeVector { $0.writeRaw([UInt8](repeating: 0, count: count)) }
        }
    }

    @Test func overLongVectorIsFlaggedNotTrapped() throws {
        #expect(throws: TLSEncodingError.vectorTooLong) { try Big(count: TLSVarint.max + 1).tlsSerializedChecked() }
        let fits = try Big(count: 100).tlsSerializedChecked()
        #expect(fits.count == 102)
        var w = TLSWriter()
        w.writeVarint(-1)
        #expect(w.exceededVarintRange)
        var v = TLSWriter()
        v.writeVarint(TLSVarint.max)
        #expect(!v.exceededVarintRange)
        v.writeVarint(TLSVarint.max + 1)
        #expect(v.exceededVarintRange)
    }
}
