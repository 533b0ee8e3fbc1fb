@_spi(Engine) import MLSCodec
@_spi(Engine) import MLS

/// The decoder oracle: a value decoded from `input` must re-encode to exactly `input` (the
/// reader refuses non-minimal varints and trailing bytes, so the wire form is canonical), and
/// decoding the re-encoding must give an equal value. Either mismatch traps: it is a bug.
package func checkRoundtrip<T: TLSCodable & Equatable>(_ value: T, input: [UInt8], _ what: String, exactBytes: Bool = true) {
    let encoded = value.tlsSerialized
    let again: T
    do {
        again = try T(tlsSerialized: encoded)
    } catch {
        fatalError("\(what): re-encoding does not decode: \(error); input \(hexPrefix(input))")
    }
    guard again == value else {
        fatalError("\(what): decode(encode(decode(x))) != decode(x); input \(hexPrefix(input))")
    }
    guard again.tlsSerialized == encoded else {
        fatalError("\(what): encoding is not stable; input \(hexPrefix(input))")
    }
    if exactBytes, encoded != input {
        fatalError("\(what): accepted a non-canonical encoding (re-encoding differs from the input); input \(hexPrefix(input)) re-encoded \(hexPrefix(encoded))")
    }
}

package func hexPrefix(_ bytes: [UInt8], limit: Int = 256) -> String {
    let digits = Array("0123456789abcdef")
    var s = ""
    for b in bytes.prefix(limit) { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 15)]) }
    if bytes.count > limit { s += "…(\(bytes.count) bytes)" }
    return s
}

/// Copies libFuzzer's buffer.
package func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Decodes `bytes` as a bare `T` or as an MLSMessage whose body `extract` unwraps, applying the
/// roundtrip oracle to whichever decoded; `nil` when neither did. Returns the message too when
/// the input was framed.
package func decodeBareOrFramed<T: TLSCodable & Equatable>(
    _ bytes: [UInt8], _ what: String, extract: (MLSMessage.Body) -> T?
) -> (value: T, framed: MLSMessage?)? {
    if let v = try? T(tlsSerialized: bytes) {
        checkRoundtrip(v, input: bytes, what)
        return (v, nil)
    }
    if let m = try? MLSMessage(tlsSerialized: bytes), let v = extract(m.body) {
        checkRoundtrip(m, input: bytes, "MLSMessage(\(what))")
        return (v, m)
    }
    return nil
}
