import CSodium

/// Randomness from the operating system's CSPRNG (through libsodium's `randombytes_buf`).
@_spi(Engine) public enum SystemRandom {
    /// `count` random bytes for public values (nonces, reuse guards, group IDs).
    public static func bytes(_ count: Int) -> [UInt8] {
        _ = Sodium.ready
        var out = [UInt8](repeating: 0, count: count)
        if count > 0 { out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) } }
        return out
    }
}
