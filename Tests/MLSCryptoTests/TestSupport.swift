import Testing
@_spi(Engine) @testable import MLSCrypto

/// Decodes a hex string of a known-answer test; whitespace is ignored so long values can wrap.
func hex(_ string: String) -> [UInt8] {
    let digits = Array(string.utf8.filter { !$0.isWhitespace })
    precondition(digits.count % 2 == 0, "odd-length hex literal")
    func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: preconditionFailure("not a hex digit")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
}

extension UInt8 {
    fileprivate var isWhitespace: Bool { self == 0x20 || self == 0x0A || self == 0x09 || self == 0x0D }
}

/// `bytes` with bit `bit` of byte `index` inverted (negative indices count from the end).
func flippingBit(_ bytes: [UInt8], at index: Int, bit: Int = 0) -> [UInt8] {
    var copy = bytes
    let i = index >= 0 ? index : copy.count + index
    copy[i] ^= UInt8(1) << UInt8(bit)
    return copy
}

extension CryptoError {
    var isInvalidPublicKey: Bool { if case .invalidPublicKey = self { true } else { false } }
    var isInvalidPrivateKey: Bool { if case .invalidPrivateKey = self { true } else { false } }
    var isInvalidLength: Bool { if case .invalidLength = self { true } else { false } }
}

/// Expects `body` to throw a `CryptoError` for which `matches` holds.
func expectCryptoError(
    _ matches: (CryptoError) -> Bool,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    let error = #expect(throws: CryptoError.self, sourceLocation: sourceLocation) { try body() }
    if let error {
        #expect(matches(error), "unexpected error \(error)", sourceLocation: sourceLocation)
    }
}
