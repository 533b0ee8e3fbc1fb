import CSodiumGate

/// Makes every random byte MLSKit draws (all of it comes from libsodium's `randombytes_buf`)
/// a fixed function of the call sequence.
///
/// Counts of instructions depend on data as well as on code: the probe lengths of hash tables
/// keyed by public keys, and the shapes of hash tries, change with the keys. With fresh keys
/// each run, a group operation's count moves by a few percent, as much as the regressions the
/// gate must catch. With this source (and `SWIFT_DETERMINISTIC_HASHING=1`, and one core), two
/// runs of the same binary count the same. For the gate binary only: such keys are not secret.
enum DeterministicRandom {
    nonisolated(unsafe) static var counter: UInt64 = 0

    static func install() {
        let implementation = randombytes_implementation(
            implementation_name: { UnsafeRawPointer(("mlskit-gate-deterministic" as StaticString).utf8Start).assumingMemoryBound(to: CChar.self) },
            random: {
                var value: UInt32 = 0
                withUnsafeMutableBytes(of: &value) { DeterministicRandom.fill($0.baseAddress, $0.count) }
                return value
            },
            stir: nil,
            uniform: nil,
            buf: { DeterministicRandom.fill($0, $1) },
            close: nil
        )
        // libsodium keeps the pointer: the structure must outlive the process's use of it.
        let stored = UnsafeMutablePointer<randombytes_implementation>.allocate(capacity: 1)
        stored.initialize(to: implementation)
        precondition(randombytes_set_implementation(stored) == 0, "randombytes_set_implementation failed")
    }

    /// ChaCha20 output under a key that encodes the call number (`randombytes_buf_deterministic`).
    static func fill(_ pointer: UnsafeMutableRawPointer?, _ count: Int) {
        guard let pointer, count > 0 else { return }
        counter &+= 1
        var seed = [UInt8](repeating: 0x5a, count: Int(randombytes_SEEDBYTES))
        withUnsafeBytes(of: counter.littleEndian) { for (i, b) in $0.enumerated() { seed[i] = b } }
        randombytes_buf_deterministic(pointer, count, seed)
    }
}
