@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLS

@Suite struct SecretTreeTests {
    let suite = CipherSuite(id: 1)!

    func tree(_ leaves: UInt32 = 4, window: UInt32 = 1000) -> SecretTree {
        SecretTree(suite: suite, encryptionSecret: SecretBytes(zeros: 32), leafCount: leaves, maxForwardDistance: window)
    }

    @Test func senderAndReceiverAgree() throws {
        var sender = tree(), receiver = tree()
        for _ in 0..<5 {
            let k = try sender.nextKey(leaf: LeafIndex(2), type: .application)
            let r = try receiver.key(leaf: LeafIndex(2), type: .application, generation: k.generation)
            #expect(k.key == r.key && k.nonce == r.nonce)
        }
    }

    @Test func eachKeyCanBeObtainedOnce() throws {
        // Forward secrecy and replay protection (§9.2): a consumed key is gone.
        var t = tree()
        _ = try t.key(leaf: LeafIndex(0), type: .application, generation: 0)
        #expect(throws: SecretTreeError.generationConsumed(0)) { try t.key(leaf: LeafIndex(0), type: .application, generation: 0) }
    }

    @Test func outOfOrderWithinWindow() throws {
        var t = tree()
        let late = try t.key(leaf: LeafIndex(1), type: .handshake, generation: 5)
        let early = try t.key(leaf: LeafIndex(1), type: .handshake, generation: 2)
        #expect(late.generation == 5 && early.generation == 2)
        #expect(throws: SecretTreeError.generationConsumed(2)) { try t.key(leaf: LeafIndex(1), type: .handshake, generation: 2) }
    }

    @Test func tooFarAheadIsRefusedAndConsumesNothing() throws {
        var t = tree(window: 10)
        #expect(throws: SecretTreeError.generationTooFarAhead(requested: 11, current: 0, limit: 10)) {
            try t.key(leaf: LeafIndex(1), type: .application, generation: 11)
        }
        _ = try t.key(leaf: LeafIndex(1), type: .application, generation: 10)
    }

    @Test func skippedKeysBeyondTheWindowAreDeleted() throws {
        var t = tree(window: 3)
        _ = try t.key(leaf: LeafIndex(0), type: .application, generation: 3)  // skips 0, 1, 2
        _ = try t.key(leaf: LeafIndex(0), type: .application, generation: 6)  // window now starts at 4
        #expect(throws: SecretTreeError.generationConsumed(1)) { try t.key(leaf: LeafIndex(0), type: .application, generation: 1) }
        _ = try t.key(leaf: LeafIndex(0), type: .application, generation: 5)
    }

    @Test func leafOutsideTheTree() {
        var t = tree(4)
        #expect(throws: SecretTreeError.leafOutOfRange(4)) { try t.nextKey(leaf: LeafIndex(4), type: .application) }
    }

    @Test func ratchetsAreIndependent() throws {
        var t = tree()
        let a = try t.key(leaf: LeafIndex(3), type: .application, generation: 0)
        let h = try t.key(leaf: LeafIndex(3), type: .handshake, generation: 0)
        #expect(a.key != h.key)
    }
}
