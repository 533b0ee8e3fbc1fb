@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLS
@testable import MLSVectors

/// Corrupted versions of valid messages must give typed errors — never a trap — and leave a
/// group exactly as it was (RFC 9420 §2.1 strict decoding; the project's bad-input rule).
@Suite struct HostileInputTests {
    /// Deterministic corruptions of `bytes`: bit flips, truncations, insertions, length-byte
    /// overwrites.
    static func mutations(of bytes: [UInt8], count: Int, seed: UInt64) -> [[UInt8]] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            var m = bytes
            guard !m.isEmpty else { return m }
            let at = Int(rng.next() % UInt64(m.count))
            switch rng.next() % 5 {
            case 0: m[at] ^= UInt8(1 << (rng.next() % 8))
            case 1: m.removeSubrange(at...)
            case 2: m.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
            case 3: m[at] = [0x3f, 0x7f, 0xbf, 0xff, 0x40][Int(rng.next() % 5)]
            default: m.removeSubrange(at..<min(m.count, at + 1 + Int(rng.next() % 8)))
            }
            return m
        }
    }

    struct Setup {
        var alice: MLSGroup
        var bob: MLSGroup
        let samples: [MLSMessage]
    }

    static func setup() throws -> Setup {
        let suite = CipherSuite(id: 1)!
        func bundle(_ name: String) throws -> KeyPackageBundle {
            try MLSClient.basic(identity: Array(name.utf8), suite: suite).makeKeyPackage()
        }
        var alice = try MLSGroup.create(suite: suite, groupID: [1, 2, 3], creator: try bundle("alice"))
        let b = try bundle("bob"), c = try bundle("carol")
        let add = try alice.commit(CommitOptions(proposals: [.add(b.keyPackage)]))
        try alice.merge(add.pending)
        let bob = try MLSGroup.join(welcome: try #require(add.welcome), keyPackage: b)
        var sender = alice
        let app = try sender.encrypt(Array("a notice".utf8))
        let proposal = try sender.proposeAdd(c.keyPackage)
        let commit = try sender.commit()
        let groupInfo = try alice.groupInfo()
        return Setup(alice: alice, bob: bob, samples: [app, proposal, commit.commit, try #require(commit.welcome), groupInfo,
                                                       MLSMessage(body: .keyPackage(c.keyPackage))])
    }

    @Test func corruptedEncodingsNeverTrap() throws {
        let s = try Self.setup()
        var decoded = 0, refused = 0
        for (k, sample) in s.samples.enumerated() {
            for m in Self.mutations(of: sample.tlsSerialized, count: 400, seed: UInt64(k + 1)) {
                do {
                    _ = try MLSMessage(tlsSerialized: m)
                    decoded += 1
                } catch is TLSDecodingError {
                    refused += 1
                }
            }
        }
        // Most corruptions must be caught by the strict decoder itself.
        #expect(refused > decoded)
        var tree = RatchetTreeNodes(nodes: [])
        tree = s.alice.tree.exported
        for m in Self.mutations(of: tree.tlsSerialized, count: 400, seed: 99) {
            guard let nodes = try? RatchetTreeNodes(tlsSerialized: m) else { continue }
            _ = try? RatchetTree(suite: s.alice.suite, nodes: nodes)
        }
    }

    @Test func corruptedMessagesLeaveTheGroupUnchanged() throws {
        let s = try Self.setup()
        var refusedByGroup = 0
        for (k, sample) in s.samples.prefix(3).enumerated() {
            for m in Self.mutations(of: sample.tlsSerialized, count: 150, seed: UInt64(100 + k)) {
                guard let message = try? MLSMessage(tlsSerialized: m), message.tlsSerialized != sample.tlsSerialized else { continue }
                var bob = s.bob
                do {
                    _ = try bob.process(message)
                } catch {  // process() throws only GroupError (typed throws)
                    refusedByGroup += 1
                    #expect(bob.epoch == s.bob.epoch)
                    #expect(bob.epochAuthenticator == s.bob.epochAuthenticator)
                    #expect(bob.tree.exported == s.bob.tree.exported)
                    #expect(bob.pendingProposals.count == s.bob.pendingProposals.count)
                }
            }
        }
        // Corruptions the decoder lets through must reach the group's checks and be refused there.
        #expect(refusedByGroup > 50)
        // The genuine messages still work afterwards.
        var bob = s.bob
        #expect(try bob.process(s.samples[0]).content == .application(Array("a notice".utf8)))
    }
}
