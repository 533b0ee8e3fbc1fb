/// Why a byte string was refused by the TLS presentation-language decoder (RFC 9420 §2.1).
///
/// Every decoding failure is one of these cases; the decoder never traps, whatever the input.
public enum TLSDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended before a field was complete.
    case truncated(needed: Int, remaining: Int)
    /// A variable-length integer used more bytes than its value needs (RFC 9420 §2.1.2).
    case nonMinimalVarint
    /// A variable-length integer started with the reserved prefix `0b11` (RFC 9420 §2.1.2).
    case invalidVarintPrefix
    /// Bytes remained after the outermost structure was decoded.
    case trailingBytes(count: Int)
    /// A field held a value its type does not allow (an `optional` presence byte other than 0 or
    /// 1, an unknown enum value where the RFC forbids one, …).
    case invalidValue(type: String, detail: String)
    /// A vector element consumed no bytes, which would let a length prefix describe unbounded work.
    case emptyElement(type: String)
    /// A declared length is larger than the decoder will accept for that field.
    case lengthTooLarge(Int)
    /// A vector holds more elements than the caller's limit allows.
    case tooManyElements(type: String, limit: Int)

    public var description: String {
        switch self {
        case let .truncated(needed, remaining): "truncated input: needed \(needed) bytes, \(remaining) remain"
        case .nonMinimalVarint: "variable-length integer is not minimally encoded"
        case .invalidVarintPrefix: "variable-length integer uses the reserved 0b11 prefix"
        case let .trailingBytes(count): "\(count) trailing bytes after the structure"
        case let .invalidValue(type, detail): "invalid \(type): \(detail)"
        case let .emptyElement(type): "vector element of type \(type) consumed no bytes"
        case let .lengthTooLarge(n): "declared length \(n) is too large"
        case let .tooManyElements(type, limit): "more than \(limit) elements of type \(type)"
        }
    }
}
