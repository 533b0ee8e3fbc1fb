@_spi(Engine) import MLS
@_spi(Engine) import MLSCrypto
import Testing

/// Staged transitions and commit descriptions (RFC 9420 §12.4): what a commit did, in members,
/// before it is applied; the application's rules over the whole commit.
@Suite struct TransitionTests {
    typealias Fixture = GroupValidationTests.Fixture

    static func identity(_ name: String) -> [UInt8] { Array(name.utf8) }

    /// A commit that adds, removes and updates describes each change in members with identities,
    /// the same for the committer, for every receiver and for the removed member.
    @Test func commitDescribesMembers() throws {
        var f = try Fixture(4)
        // bob proposes an Update, carol is removed by value, and "erin" is added by value.
        let update = try f.groups[1].proposeUpdate()
        for i in [0, 2, 3] { _ = try f.groups[i].process(update) }
        let erin = try GroupTestKit.Client("erin").bundle()
        let out = try f.groups[0].commit(CommitOptions(proposals: [.remove(LeafIndex(2)), .add(erin.keyPackage)]))

        func check(_ d: CommitDescription, removedSelf: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(d.epoch == 2, sourceLocation: sourceLocation)
            #expect(d.committer.identity == Self.identity("alice") && d.committer.leaf == LeafIndex(0), sourceLocation: sourceLocation)
            #expect(!d.isExternal && d.hasPath, sourceLocation: sourceLocation)
            #expect(d.added.map(\.identity) == [Self.identity("erin")], sourceLocation: sourceLocation)
            #expect(d.removed.map(\.identity) == [Self.identity("carol")] && d.removed.map(\.leaf) == [LeafIndex(2)], sourceLocation: sourceLocation)
            #expect(d.updated.map(\.before.identity) == [Self.identity("bob")], sourceLocation: sourceLocation)
            #expect(d.updated.first.map { $0.before.leaf == $0.after.leaf } == true, sourceLocation: sourceLocation)
            #expect(d.proposals.count == 3, sourceLocation: sourceLocation)
            #expect(d.proposals.filter(\.byReference).map(\.proposer.member?.identity) == [Self.identity("bob")], sourceLocation: sourceLocation)
            #expect(d.proposals.filter { !$0.byReference }.allSatisfy { $0.proposer.member?.identity == Self.identity("alice") },
                    sourceLocation: sourceLocation)
            #expect(d.removedSelf == removedSelf, sourceLocation: sourceLocation)
        }
        check(out.description, removedSelf: false)
        for i in [1, 3] {
            let r = try f.groups[i].process(out.commit)
            #expect(r.author.member?.identity == Self.identity("alice"))
            check(try #require(r.content.commit), removedSelf: false)
        }
        let removed = try f.groups[2].process(out.commit)
        check(try #require(removed.content.commit), removedSelf: true)
        #expect(!f.groups[2].isActive)
        // The committer's own commit, echoed back, carries the same description.
        let own = try f.groups[0].process(out.commit, pending: out.pending)
        check(try #require(own.content.commit), removedSelf: false)
    }

    /// A staged message changes nothing until applied; applying it equals processing; a value
    /// staged from an older state is refused without touching the group.
    @Test func stagingIsSideEffectFree() throws {
        var f = try Fixture(3)
        let out = try f.groups[0].commit()
        let before = GroupTestKit.Snapshot(f.groups[1])
        let staged = try f.groups[1].stage(out.commit)
        #expect(GroupTestKit.Snapshot(f.groups[1]) == before, "staging leaves the group as it was")
        #expect(staged.commit?.committer.identity == Self.identity("alice"))
        var copy = f.groups[1]
        let applied = copy.apply(staged)
        #expect(applied)
        #expect(copy.epoch == 2 && copy.epochAuthenticator != f.groups[1].epochAuthenticator)
        _ = try f.groups[2].process(out.commit)
        #expect(copy.epochAuthenticator == f.groups[2].epochAuthenticator)

        // Application data: the key is consumed only when applied, so a dropped stage can be
        // redone, and a stale one (the group received meanwhile) is refused.
        _ = try f.groups[0].process(out.commit, pending: out.pending)
        f.groups[1] = copy
        let m1 = try f.groups[0].encrypt([1]), m2 = try f.groups[0].encrypt([2])
        _ = try f.groups[1].stage(m1)
        let s1 = try f.groups[1].stage(m1)
        let s2 = try f.groups[1].stage(m2)
        let applied1 = f.groups[1].apply(s1)
        #expect(applied1)
        let snapshot = GroupTestKit.Snapshot(f.groups[1])
        let applied2 = f.groups[1].apply(s2)
        #expect(!applied2, "staged before s1 was applied: stale")
        #expect(GroupTestKit.Snapshot(f.groups[1]) == snapshot)
        #expect(try f.groups[1].process(m2).content == .application([2]))
        #expect(GroupTestKit.error { try f.groups[1].process(m1) } != nil, "the key of m1 was consumed when s1 was applied")
    }

    /// Rules over the whole commit: here, only alice may remove members. A receiver refuses a
    /// violating commit before anything is applied; a committer cannot build one.
    struct OnlyAliceRemoves: GroupRules {
        static let code = RuleViolation.Code(rawValue: "onlyAliceRemoves")
        func check(proposal: Proposal, from proposer: MessageAuthor, in group: MLSGroup) throws(RuleViolation) {}
        func check(commit: CommitDescription, direction: TransitionDirection, in group: MLSGroup) throws(RuleViolation) {
            guard commit.removed.isEmpty || commit.committer.identity == Array("alice".utf8) else {
                throw RuleViolation(Self.code, detail: "\(commit.committer) removed \(commit.removed)")
            }
        }
    }

    @Test func commitRulesSeeTheWholeCommit() throws {
        var f = try Fixture(4, configure: { i, c in if i != 1 { c.rules = OnlyAliceRemoves() } })
        // bob has no such rule, so he can build the commit; everyone else refuses it.
        let out = try f.groups[1].commit(CommitOptions(proposals: [.remove(LeafIndex(3))]))
        for i in [0, 2, 3] {
            let before = GroupTestKit.Snapshot(f.groups[i])
            guard case let .rejectedByRules(v)? = GroupTestKit.error({ try f.groups[i].process(out.commit) }) else {
                Issue.record("member \(i) did not refuse by rule")
                continue
            }
            #expect(v.code == OnlyAliceRemoves.code)
            #expect(GroupTestKit.Snapshot(f.groups[i]) == before)
        }
        // carol, under the rule, cannot build it (outgoing direction).
        let carolBefore = GroupTestKit.Snapshot(f.groups[2])
        guard case .rejectedByRules? = GroupTestKit.error({ try f.groups[2].commit(CommitOptions(proposals: [.remove(LeafIndex(3))])) }) else {
            Issue.record("carol built a commit her rules forbid")
            return
        }
        #expect(GroupTestKit.Snapshot(f.groups[2]) == carolBefore)
        // alice may.
        let ok = try f.groups[0].commit(CommitOptions(proposals: [.remove(LeafIndex(3))]))
        for i in [1, 2] { #expect(try f.groups[i].process(ok.commit).content.commit?.removed.map(\.identity) == [Self.identity("dave")]) }
    }

    /// The roster and authors name members with their identities.
    @Test func rosterAndAuthors() throws {
        var f = try Fixture(3)
        #expect(f.groups[2].roster.map(\.identity) == ["alice", "bob", "carol"].map(Self.identity))
        let m = try f.groups[1].encrypt([7])
        let r = try f.groups[0].process(m)
        #expect(r.author == .member(try #require(f.groups[0].member(at: LeafIndex(1)))))
        #expect(r.author.member?.description == "bob (leaf 1)")
    }
}
