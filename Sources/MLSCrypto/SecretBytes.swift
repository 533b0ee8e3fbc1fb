import CSodium

/// Key material: zeroized when the last copy is released, redacted when printed, compared in
/// constant time.
///
/// The bytes live in one heap allocation owned by an immutable storage object, so copies of a
/// `SecretBytes` share it and nothing else ever holds the bytes unless a caller explicitly asks for
/// them with ``unsafeCopiedBytes()``.
public struct SecretBytes: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    final class Storage: @unchecked Sendable {
        // Written only during initialisation; immutable afterwards, which makes sharing safe.
        let pointer: UnsafeMutableRawBufferPointer

        init(count: Int) {
            pointer = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(count, 1), alignment: 16)
            pointer.initializeMemory(as: UInt8.self, repeating: 0)
            self.count = count
        }

        let count: Int

        deinit {
            sodium_memzero(pointer.baseAddress, pointer.count)
            pointer.deallocate()
        }
    }

    let storage: Storage

    /// Copies `bytes` into zeroizing storage. The caller's array is not touched; prefer
    /// ``init(zeroizing:)`` when the source is a temporary that should be wiped too.
    public init(_ bytes: some Collection<UInt8>) {
        storage = Storage(count: bytes.count)
        UnsafeMutableRawBufferPointer(rebasing: storage.pointer[0..<bytes.count]).copyBytes(from: bytes)
    }

    /// Moves `bytes` into zeroizing storage and overwrites the source array with zeros.
    public init(zeroizing bytes: inout [UInt8]) {
        self.init(bytes)
        bytes.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
        bytes.removeAll()
    }

    /// Overwrites a temporary buffer that held secret bytes (a decoded record, say) with zeros.
    public static func zeroize(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
    }

    /// `count` zero bytes (the RFC's `0` vector of a given length, e.g. the initial PSK secret).
    public init(zeros count: Int) {
        storage = Storage(count: count)
    }

    /// Fills `count` bytes from the operating system's CSPRNG, produced straight into the storage.
    public init(randomCount count: Int) {
        storage = Storage(count: count)
        if count > 0 { randombytes_buf(storage.pointer.baseAddress!, count) }
    }

    /// Builds secret bytes by letting `body` write into zeroizing storage of `count` bytes.
    /// `body` returns `false` to signal failure, in which case the storage is wiped and `nil` returned.
    public static func fill(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Bool) -> SecretBytes? {
        let s = SecretBytes(zeros: count)
        let ok = body(UnsafeMutableRawBufferPointer(rebasing: s.storage.pointer[0..<count]))
        return ok ? s : nil
    }

    /// The number of bytes.
    public var count: Int { storage.count }

    /// Whether there are no bytes.
    public var isEmpty: Bool { storage.count == 0 }

    /// Gives `body` read access to the bytes without copying them.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage.pointer[0..<storage.count]))
    }

    /// A plain copy of the bytes. The copy is not zeroized: use it only where an API needs an
    /// array (serialization into a message that is itself encrypted, test vectors).
    public func unsafeCopiedBytes() -> [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// Constant-time equality with another secret (different lengths compare unequal).
    public static func == (lhs: SecretBytes, rhs: SecretBytes) -> Bool {
        lhs.withUnsafeBytes { l in rhs.withUnsafeBytes { r in constantTimeEqual(l, r) } }
    }

    /// Constant-time equality with plain bytes (different lengths compare unequal).
    public func constantTimeEquals(_ other: [UInt8]) -> Bool {
        withUnsafeBytes { l in other.withUnsafeBytes { r in constantTimeEqual(l, r) } }
    }

    public var description: String { "SecretBytes(redacted, \(count) bytes)" }
    public var debugDescription: String { description }
}

/// Compares two buffers in time that depends only on their lengths.
@_spi(Engine) public func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    if a.count == 0 { return true }
    _ = Sodium.ready
    return sodium_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
}

/// Compares two byte arrays in time that depends only on their lengths (MAC tags, confirmation tags).
@_spi(Engine) public func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.withUnsafeBytes { x in b.withUnsafeBytes { y in constantTimeEqual(x, y) } }
}

/// One-time libsodium initialisation; Swift globals are initialised lazily and thread-safely.
enum Sodium {
    static let ready: Bool = sodium_init() >= 0
}
