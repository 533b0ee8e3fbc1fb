import Testing
@_spi(Engine) @testable import MLSCrypto

@Suite struct SecretBytesTests {
    @Test func descriptionIsRedacted() {
        let secret = SecretBytes([0xDE, 0xAD, 0xBE, 0xEF])
        for text in ["\(secret)", String(describing: secret), String(reflecting: secret), secret.debugDescription] {
            #expect(text == "SecretBytes(redacted, 4 bytes)")
            #expect(!text.lowercased().contains("dead"))
            #expect(!text.contains("222"))  // 0xDE in decimal
        }
    }

    @Test func equality() {
        let a = SecretBytes([1, 2, 3])
        #expect(a == SecretBytes([1, 2, 3]))
        #expect(a != SecretBytes([1, 2, 4]))
        #expect(a != SecretBytes([1, 2]))
        #expect(a != SecretBytes([1, 2, 3, 0]))
        #expect(SecretBytes(zeros: 0) == SecretBytes([UInt8]()))
        #expect(SecretBytes(zeros: 2) == SecretBytes([0, 0]))
    }

    @Test func constantTimeEquals() {
        let a = SecretBytes([9, 8, 7])
        #expect(a.constantTimeEquals([9, 8, 7]))
        #expect(!a.constantTimeEquals([9, 8, 6]))
        #expect(!a.constantTimeEquals([9, 8]))
        #expect(!a.constantTimeEquals([]))
        #expect(SecretBytes(zeros: 0).constantTimeEquals([]))
        let same = constantTimeEqual([1, 2], [1, 2])
        let swapped = constantTimeEqual([1, 2], [2, 1])
        #expect(same)
        #expect(!swapped)
    }

    @Test func zeroizingInitWipesSource() {
        var source: [UInt8] = [5, 6, 7]
        let secret = SecretBytes(zeroizing: &source)
        #expect(source.isEmpty)
        #expect(secret.unsafeCopiedBytes() == [5, 6, 7])
    }

    @Test func fillAndRandom() {
        #expect(SecretBytes.fill(count: 4) { _ in false } == nil)
        let filled = SecretBytes.fill(count: 2) { buffer in
            buffer[0] = 1
            buffer[1] = 2
            return true
        }
        #expect(filled?.unsafeCopiedBytes() == [1, 2])
        let r1 = SecretBytes(randomCount: 32)
        let r2 = SecretBytes(randomCount: 32)
        #expect(r1.count == 32)
        #expect(r1 != r2)
    }
}
