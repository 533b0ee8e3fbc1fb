@_spi(Engine) @testable import MLS
import Testing

/// The own pending commit as a value (RFC 9420 §12.4, §14): `commit` returns it and leaves the
/// group in its epoch; `merge` and the echo through `process(_:pending:)` move the group on;
/// anything that ends the epoch first makes it stale.
@Suite struct PendingCommitTests {
    static func group(_ count: Int, framing: WireFormat = .publicMessage) throws -> [MLSGroup] {
        var configuration = GroupConfiguration()
        configuration.encryptsHandshakes = framing == .privateMessage
        return try GroupSessionTests.group(count, configuration: configuration)
    }

    @Test("commit leaves the group in its epoch; the pending commit names the epoch it leaves and the one it creates")
    func commitDoesNotMoveTheGroup() throws {
        var g = try Self.group(3)
        let before = GroupTestKit.Snapshot(g[0])
        let out = try g[0].commit(CommitOptions(proposals: [.remove(LeafIndex(2))]))
        #expect(GroupTestKit.Snapshot(g[0]) == before)
        #expect(out.pending.epoch == before.context.epoch && out.pending.groupID == g[0].groupID)
        #expect(out.pending.description.epoch == before.context.epoch + 1)
        #expect(out.pending.description.removed.map(\.leaf) == [LeafIndex(2)])
        #expect(out.description == out.pending.description)
    }

    @Test("the own echo with its pending commit merges into the epoch the other members reach", arguments: [WireFormat.publicMessage, .privateMessage])
    func echoMerges(framing: WireFormat) throws {
        var g = try Self.group(3, framing: framing)
        let out = try g[0].commit()
        let processed = try g[0].process(out.commit, pending: out.pending)
        #expect(processed.sender == .member(g[0].myLeaf) && processed.content == .commit(out.description))
        for i in [1, 2] { _ = try g[i].process(out.commit) }
        #expect(g[0].epoch == out.pending.description.epoch)
        for i in [1, 2] {
            #expect(g[i].context == g[0].context)
            #expect(g[i].epochAuthenticator == g[0].epochAuthenticator)
        }
        // The state works on: a message of the new epoch reads everywhere.
        let m = try g[0].encrypt([42])
        for i in [1, 2] { #expect(try g[i].process(m).content == .application([42])) }
    }

    @Test("the own echo without its pending commit, or with another one, is refused and changes nothing")
    func echoWithoutPending() throws {
        var g = try Self.group(3)
        let first = try g[0].commit()
        let second = try g[0].commit()
        let before = GroupTestKit.Snapshot(g[0])
        #expect(GroupTestKit.error { try g[0].process(first.commit) } == .framing(.ownCommitNotPending))
        #expect(GroupTestKit.error { try g[0].process(first.commit, pending: second.pending) } == .framing(.ownCommitNotPending))
        #expect(GroupTestKit.Snapshot(g[0]) == before)
        // Either commit of the epoch can still be the one the delivery service accepts.
        _ = try g[0].process(second.commit, pending: second.pending)
        for i in [1, 2] { _ = try g[i].process(second.commit) }
        #expect(g[1].epochAuthenticator == g[0].epochAuthenticator)
    }

    @Test("a pending commit survives the group value being copied and dropped")
    func survivesCopies() throws {
        var g = try Self.group(3)
        var scratch = g[0]
        let out = try scratch.commit()
        scratch = g[1]  // the value the commit was made on is gone
        var copy = g[0]
        try g[0].merge(out.pending)
        // The pending commit is a value: merging it in one copy leaves it intact for another.
        try copy.merge(out.pending)
        for i in [1, 2] { _ = try g[i].process(out.commit) }
        #expect(g[0].epochAuthenticator == g[1].epochAuthenticator)
        #expect(copy.epochAuthenticator == g[1].epochAuthenticator)
        #expect(scratch.epoch == out.pending.epoch)
    }

    @Test("after another member's commit of the same epoch, merge fails as stale and changes nothing")
    func mergeAfterCompetingCommit() throws {
        var g = try Self.group(3)
        let mine = try g[0].commit()
        let theirs = try g[1].commit(CommitOptions(proposals: [.remove(LeafIndex(2))]))
        // The winner is processed as usual; the pending commit is no echo of it.
        #expect(try g[0].process(theirs.commit, pending: mine.pending).content.commit?.removed.map(\.leaf) == [LeafIndex(2)])
        let after = GroupTestKit.Snapshot(g[0])
        #expect(GroupTestKit.error { try g[0].merge(mine.pending) } == .stalePendingCommit)
        #expect(GroupTestKit.Snapshot(g[0]) == after)
        // Its echo is recognised, and refused for the same reason; without the pending commit it
        // is just a message of a past epoch.
        #expect(GroupTestKit.error { try g[0].process(mine.commit, pending: mine.pending) } == .stalePendingCommit)
        #expect(GroupTestKit.error { try g[0].process(mine.commit) } == .wrongEpoch(mine.pending.epoch))
        #expect(GroupTestKit.Snapshot(g[0]) == after)
        _ = try g[1].process(theirs.commit, pending: theirs.pending)
        #expect(g[0].epochAuthenticator == g[1].epochAuthenticator)
    }

    @Test("a removed member's pending commit, or one of another group, cannot be merged")
    func mergeRefusedWhenNotTheBase() throws {
        var g = try Self.group(3)
        let doomed = try g[2].commit()
        let removal = try g[0].commit(CommitOptions(proposals: [.remove(LeafIndex(2))]))
        #expect(try g[2].process(removal.commit).content.commit?.removedSelf == true)
        // Still in the epoch the commit leaves, but no longer a member.
        #expect(g[2].epoch == doomed.pending.epoch)
        #expect(GroupTestKit.error { try g[2].merge(doomed.pending) } == .stalePendingCommit)

        var other = try GroupSessionTests.group(2)
        let foreign = try other[0].commit()
        #expect(foreign.pending.epoch == g[0].epoch)
        let before = GroupTestKit.Snapshot(g[0])
        #expect(GroupTestKit.error { try g[0].merge(foreign.pending) } == .stalePendingCommit)
        #expect(GroupTestKit.Snapshot(g[0]) == before)
    }

    @Test("messages processed between sending and merging stay processed: their keys stay consumed")
    func messagesBeforeTheMerge() throws {
        var g = try Self.group(3)
        let out = try g[0].commit()
        let m = try g[1].encrypt(Array("meanwhile".utf8))
        #expect(try g[0].process(m).content == .application(Array("meanwhile".utf8)))
        try g[0].merge(out.pending)
        // The old epoch is kept for late messages (§9.2), with the key already used.
        #expect(GroupTestKit.error { try g[0].process(m) } == .framing(.generationConsumed(0)))
        for i in [1, 2] { _ = try g[i].process(out.commit) }
        #expect(g[0].epochAuthenticator == g[2].epochAuthenticator)
    }
}
