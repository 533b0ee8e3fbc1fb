import Foundation
@_spi(Engine) import MLSCodec

/// `deserialization.json`: variable-length integer headers (RFC 9420 §2.1.2).
enum DeserializationVectors {
    struct Case: Codable {
        var vlbytes_header: HexBytes
        var length: Int
    }

    static let kind = VectorFileKind(name: "deserialization", verify: verify, generate: generate)

    static func verify(_ data: Data) throws -> VectorTally {
        var tally = VectorTally()
        for (i, c) in try OfficialVectors.cases(Case.self, from: data).enumerated() {
            tally.run("case \(i) (length \(c.length))") {
                var r = TLSReader(c.vlbytes_header.bytes)
                try check("decoded length", try r.readVarint(), c.length)
                try r.finish()
                var w = TLSWriter()
                w.writeVarint(c.length)
                try check("re-encoded header", w.bytes, c.vlbytes_header.bytes)
            }
        }
        return tally
    }

    static func generate() throws -> Data {
        // Boundary values of each varint width, plus a few values inside each range.
        let lengths = [0, 1, 37, 63, 64, 65, 255, 1000, 16383, 16384, 65535, 1 << 20, TLSVarint.max]
        let cases = lengths.map { n -> Case in
            var w = TLSWriter()
            w.writeVarint(n)
            return Case(vlbytes_header: HexBytes(w.bytes), length: n)
        }
        return try OfficialVectors.encode(cases)
    }
}
