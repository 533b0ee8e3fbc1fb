/// JSON written by hand rather than by JSONSerialization, so that the target can send what a
/// hostile homeserver sends and JSONSerialization never writes: duplicate keys, integers beyond
/// 64 bits, exponents, deep nesting. The client parses the text with its own parser.
indirect enum J {
    case object([(String, J)])
    case array([J])
    case string(String)
    /// A number literal, written as given.
    case number(String)
    case bool(Bool)
    case null

    static func int(_ value: Int) -> J { .number(String(value)) }
    static func uint(_ value: UInt64) -> J { .number(String(value)) }

    /// The UTF-8 text. Written as bytes: this runs for every input, under ASan.
    var bytes: [UInt8] {
        var out: [UInt8] = []
        write(to: &out)
        return out
    }

    func write(to out: inout [UInt8]) {
        switch self {
        case let .object(fields):
            out.append(UInt8(ascii: "{"))
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                J.quote(key, to: &out)
                out.append(UInt8(ascii: ":"))
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case let .array(items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case let .string(s): J.quote(s, to: &out)
        case let .number(n): out += n.utf8
        case let .bool(b): out += (b ? "true" : "false").utf8
        case .null: out += "null".utf8
        }
    }

    static func quote(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), b]
            case ..<0x20: out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `[[[…]]]` nested `depth` deep (parsers that recurse per level overflow the stack).
    static func nested(_ depth: Int) -> J {
        .number(String(repeating: "[", count: depth) + String(repeating: "]", count: depth))
    }
}

extension Array where Element == (String, J) {
    /// Replaces the value of `key` (all of them, if it is duplicated), or appends it.
    mutating func set(_ key: String, _ value: J) {
        var found = false
        for i in indices where self[i].0 == key {
            self[i].1 = value
            found = true
        }
        if !found { append((key, value)) }
    }

    mutating func remove(_ key: String) { removeAll { $0.0 == key } }
}
