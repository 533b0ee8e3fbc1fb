import COpenSSL
import CSodium

// Shared plumbing for the libsodium and OpenSSL backends: pointer helpers that keep empty
// buffers from turning into NULL arguments, and OpenSSL error reporting.

/// One readable byte whose address stands in for empty buffers: several OpenSSL and libsodium
/// entry points treat a NULL pointer as "no argument" (e.g. `EVP_MAC_init` reuses the previous key)
/// even when the length is zero, and Swift does not promise a non-nil base address for empty arrays.
nonisolated(unsafe) private let emptyBufferByte: UnsafeMutableRawPointer = {
    let p = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 16)
    p.storeBytes(of: 0, as: UInt8.self)
    return p
}()

extension UnsafeRawBufferPointer {
    /// The base address, or a valid dummy address when the buffer is empty.
    var nonNullBase: UnsafeRawPointer { baseAddress ?? UnsafeRawPointer(emptyBufferByte) }

    /// The base address typed as bytes, never nil.
    var nonNullBytes: UnsafePointer<UInt8> { nonNullBase.assumingMemoryBound(to: UInt8.self) }
}

extension UnsafeMutableRawBufferPointer {
    /// The base address, or a valid dummy address when the buffer is empty.
    var nonNullBase: UnsafeMutableRawPointer { baseAddress ?? emptyBufferByte }

    /// The base address typed as bytes, never nil.
    var nonNullBytes: UnsafeMutablePointer<UInt8> { nonNullBase.assumingMemoryBound(to: UInt8.self) }
}

/// Overwrites `buffer` with zeros in a way the optimiser cannot drop.
func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
    if let base = buffer.baseAddress, buffer.count > 0 { sodium_memzero(base, buffer.count) }
}

/// Overwrites a temporary array holding secret bytes with zeros.
func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { wipe($0) }
}

/// A ``CryptoError/backend(_:)`` naming the failed call and OpenSSL's first queued reason.
///
/// The thread's OpenSSL error queue is emptied so that a stale entry cannot be misattributed to a
/// later, unrelated call.
func openSSLError(_ call: String) -> CryptoError {
    let code = ERR_get_error()
    ERR_clear_error()
    guard code != 0 else { return .backend(call) }
    var buffer = [CChar](repeating: 0, count: 256)
    ERR_error_string_n(code, &buffer, buffer.count)
    let reason = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return .backend("\(call): \(reason)")
}

/// `OSSL_KEYMGMT_SELECT_*` combinations for `EVP_PKEY_fromdata`; the C macros are composite
/// expressions that Swift does not import.
enum KeySelection {
    /// `EVP_PKEY_PUBLIC_KEY`: all parameters and the public key.
    static let publicKey: Int32 = 0x04 | 0x80 | 0x02
    /// `EVP_PKEY_KEYPAIR`: all parameters, the public and the private key.
    static let keyPair: Int32 = publicKey | 0x01
}

/// `I2OSP(value, 2)` (RFC 8017 §4.1), the two-byte big-endian encoding RFC 9180 uses for ids and
/// lengths.
func bigEndian16(_ value: UInt16) -> [UInt8] {
    [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
}

/// Whether every byte of `buffer` is zero, in time independent of the contents.
func isAllZero(_ buffer: UnsafeRawBufferPointer) -> Bool {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return true }
    _ = Sodium.ready
    return sodium_is_zero(base.assumingMemoryBound(to: UInt8.self), buffer.count) == 1
}

extension SecretBytes {
    /// Zeroizing storage of `count` bytes written by `body`, for constructions that cannot fail
    /// (concatenations, masking); the non-failing counterpart of ``SecretBytes/fill(count:_:)``.
    static func build(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void) -> SecretBytes {
        let secret = SecretBytes(zeros: count)
        // The storage is not shared yet, so writing into it keeps SecretBytes' immutability contract.
        body(UnsafeMutableRawBufferPointer(rebasing: secret.storage.pointer[0..<count]))
        return secret
    }
}

/// A NUL-terminated C string with static lifetime.
///
/// OpenSSL keeps some `const char *` arguments instead of copying them (`OSSL_PARAM` keys,
/// `OSSL_PARAM_BLD` string values until `OSSL_PARAM_BLD_to_param`, the key type of
/// `EVP_PKEY_CTX_new_from_name`), so the temporary buffer Swift makes for a `String` argument
/// would dangle. String literals compiled into the binary do not.
func staticCString(_ literal: StaticString) -> UnsafePointer<CChar> {
    precondition(literal.hasPointerRepresentation, "a C string needs a literal of UTF-8 code units")
    return UnsafeRawPointer(literal.utf8Start).assumingMemoryBound(to: CChar.self)
}
