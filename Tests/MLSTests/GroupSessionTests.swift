#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLS

/// Helpers shared by ``GroupSessionTests`` and ``GroupValidationTests``.
enum GroupTestKit {
    /// SplitMix64 (Steele, Lea and Flood, 2014): a tiny deterministic generator, so every
    /// randomized session replays from its seed. (Key material still comes from the system
    /// RNG; the seed fixes the sequence of operations, which is what a failure depends on.)
    struct RNG: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
        mutating func index(_ count: Int) -> Int { Int.random(in: 0..<count, using: &self) }
        mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
        mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) } }
    }

    /// A client: a name (its basic credential) and an in-memory signer it keeps across
    /// KeyPackages, bound by ``MLSClient``.
    struct Client: Sendable {
        let name: String
        let suite: CipherSuite
        let signer: InMemorySigner

        init(_ name: String, suite: CipherSuite = CipherSuite(id: 1)!) {
            self.name = name
            self.suite = suite
            signer = InMemorySigner.generate(suite.signature)
        }

        var credential: Credential { .basic(identity: Array(name.utf8)) }
        /// The signature key pair, for tests that forge signatures by hand.
        var signature: (privateKey: SecretBytes, publicKey: [UInt8]) { (signer.privateKey, signer.publicKey) }

        /// The client as the library binds it.
        func mls(capabilities: Capabilities? = nil) throws -> MLSClient {
            try MLSClient(credential: credential, signer: signer, suite: suite, capabilities: capabilities)
        }

        /// A fresh KeyPackage (new init and encryption keys, the client's signature key).
        func bundle(capabilities: Capabilities? = nil, lifetime: Lifetime? = nil, leafExtensions: [Extension] = []) throws -> KeyPackageBundle {
            try mls(capabilities: capabilities).makeKeyPackage(lifetime: lifetime, leafExtensions: leafExtensions)
        }
    }

    /// The `GroupError` `body` throws, `nil` if it returns. Other errors map to `.decoding` so
    /// that a comparison against the expected case fails visibly.
    static func error<T>(_ body: () throws -> T) -> GroupError? {
        do {
            _ = try body()
            return nil
        } catch let e as GroupError {
            return e
        } catch {
            return .internalError("not a GroupError: \(error)")
        }
    }

    /// What must not change when a member refuses a message.
    struct Snapshot: Equatable {
        let context: GroupContext
        let epochAuthenticator: [UInt8]
        let members: [LeafIndex]
        let pendingProposals: [Proposal]
        let isActive: Bool
        let myLeafNode: LeafNode?

        init(_ g: MLSGroup) {
            context = g.context
            epochAuthenticator = g.epochAuthenticator
            members = g.members
            pendingProposals = g.pendingProposals
            isActive = g.isActive
            myLeafNode = g.myLeafNode
        }
    }
}

/// Randomized group sessions (RFC 9420 §12): long random sequences of adds (Welcome joins and
/// external joins), removes, self-updates, Update proposals committed by others, proposals
/// committed later by reference, and application messages, among 2 to 20 members. After every
/// step all members must agree on the GroupContext (epoch, tree hash, transcript hash,
/// extensions), the epoch authenticator and an exported secret.
@Suite struct GroupSessionTests {
    /// How a session's members frame their handshake messages.
    enum FramingMode: Sendable { case publicOnly, privateOnly, mixed }

    struct SessionFailure: Error, CustomStringConvertible {
        let seed: UInt64
        let step: Int
        let trace: [String]
        let underlying: any Error
        var description: String {
            "seed \(seed), step \(step): \(underlying)\n  last steps:\n    " + trace.suffix(10).joined(separator: "\n    ")
        }
    }

    /// One randomized session: a model of who is in the group, and every member's state.
    struct Session {
        struct Member {
            let client: GroupTestKit.Client
            var group: MLSGroup
        }

        typealias Joiner = (client: GroupTestKit.Client, bundle: KeyPackageBundle, configuration: GroupConfiguration)

        static let maxMembers = 20
        static let pskIDs: [[UInt8]] = [Array("psk-a".utf8), Array("psk-b".utf8)]

        let seed: UInt64
        let suite: CipherSuite
        let framing: FramingMode
        var rng: GroupTestKit.RNG
        var members: [Member] = []
        var trace: [String] = []
        var clientCount = 0
        var maxSeen = 0
        let pskStore: InMemoryPSKStore

        init(seed: UInt64, suite: CipherSuite, framing: FramingMode) throws {
            self.seed = seed
            self.suite = suite
            self.framing = framing
            rng = GroupTestKit.RNG(seed: seed)
            var external: [[UInt8]: SecretBytes] = [:]
            for id in Self.pskIDs { external[id] = SecretBytes(Array(id.reversed()) + [UInt8](repeating: 7, count: 16)) }
            pskStore = InMemoryPSKStore(external: external)
            let creator = newClient()
            let group = try MLSGroup.create(suite: suite, groupID: Array("session-\(seed)".utf8), creator: try creator.bundle(),
                                            configuration: configuration())
            members = [Member(client: creator, group: group)]
            trace.append("create by \(creator.name)")
            try addByValue(committer: 0, count: rng.int(1...5))
        }

        mutating func newClient() -> GroupTestKit.Client {
            clientCount += 1
            return GroupTestKit.Client("c\(clientCount)", suite: suite)
        }

        mutating func configuration() -> GroupConfiguration {
            var c = GroupConfiguration()
            switch framing {
            case .publicOnly: c.encryptsHandshakes = false
            case .privateOnly: c.encryptsHandshakes = true
            case .mixed: c.encryptsHandshakes = rng.chance(0.5)
            }
            c.ratchetTreeInWelcome = rng.chance(0.75)
            c.psks = pskStore
            return c
        }

        mutating func newJoiner() throws -> Joiner {
            let client = newClient()
            return (client, try client.bundle(), configuration())
        }

        func index(of name: String) -> Int? { members.firstIndex { $0.client.name == name } }

        func check(_ condition: Bool, _ what: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            try #require(condition, "seed \(seed): \(what()) — after: \(trace.last ?? "")", sourceLocation: sourceLocation)
        }

        // MARK: Running

        mutating func run(steps: Int) throws {
            for n in 0..<steps {
                do {
                    try step()
                } catch {
                    throw SessionFailure(seed: seed, step: n, trace: trace, underlying: error)
                }
            }
        }

        enum Kind { case add, remove, selfUpdate, updateThenCommit, byReference, application, lateApplication, externalJoin }

        mutating func step() throws {
            let n = members.count
            let room = Self.maxMembers - n
            let weights: [(Kind, Int)] = [
                (.add, room > 0 ? (n < 6 ? 5 : 2) : 0),
                (.remove, n > 2 ? (n > 12 ? 4 : 2) : 0),
                (.selfUpdate, 1),
                (.updateThenCommit, 2),
                (.byReference, 3),
                (.application, 3),
                (.lateApplication, 1),
                (.externalJoin, room > 0 ? 1 : 0),
            ]
            var pick = rng.index(weights.map(\.1).reduce(0, +))
            var kind = Kind.selfUpdate
            for (k, w) in weights {
                if pick < w { kind = k; break }
                pick -= w
            }
            switch kind {
            case .add: try addByValue(committer: rng.index(n), count: rng.int(1...min(3, room)))
            case .remove:
                let r = rng.index(n)
                var t = rng.index(n - 1)
                if t >= r { t += 1 }
                try removeByValue(committer: r, target: t)
            case .selfUpdate: try selfUpdate(committer: rng.index(n))
            case .updateThenCommit: try updateThenCommit()
            case .byReference: try proposalsByReference()
            case .application: try application(sender: rng.index(n), count: rng.int(1...4))
            case .lateApplication: try lateApplication()
            case .externalJoin: try externalJoin()
            }
            try checkAgreement()
        }

        // MARK: Steps

        mutating func addByValue(committer c: Int, count: Int) throws {
            let joiners = try (0..<count).map { _ in try newJoiner() }
            let withPath = rng.chance(0.6)
            trace.append("\(members[c].client.name) adds \(joiners.map(\.client.name)) by value\(withPath ? "" : " without path")")
            let out = try members[c].group.commit(CommitOptions(proposals: joiners.map { .add($0.bundle.keyPackage) },
                                                                alwaysIncludePath: withPath))
            try deliverCommit(out, from: c, removed: [], joiners: joiners)
        }

        mutating func removeByValue(committer c: Int, target t: Int) throws {
            trace.append("\(members[c].client.name) removes \(members[t].client.name)")
            let out = try members[c].group.commit(CommitOptions(proposals: [.remove(members[t].group.myLeaf)]))
            try deliverCommit(out, from: c, removed: [members[t].client.name], joiners: [])
        }

        mutating func selfUpdate(committer c: Int) throws {
            trace.append("\(members[c].client.name) commits an empty commit")
            let before = members[c].group.myLeafNode?.encryptionKey
            let out = try members[c].group.commit()
            let name = members[c].client.name
            try deliverCommit(out, from: c, removed: [], joiners: [])
            let i = try #require(index(of: name))
            try check(members[i].group.myLeafNode?.encryptionKey != before, "the committer's leaf key changed")
        }

        mutating func updateThenCommit() throws {
            let n = members.count
            let u = rng.index(n)
            var c = rng.index(max(1, n - 1))
            if n > 1, c >= u { c += 1 }
            if n == 1 { c = u }
            trace.append("\(members[u].client.name) proposes Update; \(members[c].client.name) commits")
            let message = try members[u].group.proposeUpdate()
            guard case let .update(update) = try #require(members[u].group.pendingProposals.last) else {
                Issue.record("proposeUpdate cached something else")
                return
            }
            try deliverProposal(message, from: u)
            let updater = members[u].client.name
            let out = try members[c].group.commit()
            try deliverCommit(out, from: c, removed: [], joiners: [])
            let i = try #require(index(of: updater))
            // The committer's own Update is not committed (§12.2); anyone else's is applied.
            if c != u {
                try check(members[i].group.myLeafNode == update.leafNode, "\(updater)'s Update was applied")
                for m in members { try check(m.group.tree.leaf(members[i].group.myLeaf) == update.leafNode, "\(m.client.name) sees the Update") }
            }
        }

        /// Several members propose (Add, Remove, Update, external and resumption PSKs,
        /// GroupContextExtensions), everyone receives the proposals, then a random member
        /// commits them all by reference.
        mutating func proposalsByReference() throws {
            var joiners: [Joiner] = []
            var removed: Set<String> = []
            var updates: [String: LeafNode] = [:]
            var resumption = false
            var extensionsProposed = false
            var described: [String] = []
            for _ in 0..<rng.int(1...4) {
                let p = rng.index(members.count)
                let proposer = members[p].client.name
                let message: MLSMessage
                switch rng.int(0...5) {
                case 0 where members.count + joiners.count - removed.count < Self.maxMembers && !resumption:
                    let j = try newJoiner()
                    joiners.append(j)
                    message = try members[p].group.proposeAdd(j.bundle.keyPackage)
                    described.append("\(proposer)+\(j.client.name)")
                case 1 where members.count - removed.count > 2 || members.count > 2 && rng.chance(0.3):
                    // Sometimes a second Remove of an already targeted member (§12.2: duplicates are dropped by the committer).
                    var t = rng.index(members.count - 1)
                    if t >= p { t += 1 }
                    if members.count - removed.count <= 2, !removed.contains(members[t].client.name) { continue }
                    removed.insert(members[t].client.name)
                    message = try members[p].group.proposeRemove(members[t].group.myLeaf)
                    described.append("\(proposer)-\(members[t].client.name)")
                case 2, 1, 0:
                    message = try members[p].group.proposeUpdate()
                    guard case let .update(u) = members[p].group.pendingProposals.last else { Issue.record("no Update cached"); return }
                    updates[proposer] = u.leafNode
                    described.append("\(proposer)~update")
                case 3:
                    message = try members[p].group.proposeExternalPSK(id: Self.pskIDs[rng.index(Self.pskIDs.count)])
                    described.append("\(proposer)~psk")
                case 5:
                    // At most one GroupContextExtensions per commit (§12.2).
                    guard !extensionsProposed else { continue }
                    extensionsProposed = true
                    let ext = Extension(extensionType: .applicationID, extensionData: rng.bytes(rng.int(1...8)))
                    message = try members[p].group.proposeGroupContextExtensions(rng.chance(0.8) ? [ext] : [])
                    described.append("\(proposer)~extensions")
                case 4:
                    // A resumption PSK of the current epoch, which every member holds; joiners
                    // would not, so no Adds in this round afterwards.
                    guard joiners.isEmpty else { continue }
                    resumption = true
                    message = try members[p].group.proposeResumptionPSK(epoch: members[p].group.epoch)
                    described.append("\(proposer)~resumption")
                default:
                    continue
                }
                try deliverProposal(message, from: p)
            }
            let c = rng.index(members.count)
            let committer = members[c].client.name
            trace.append("proposals [\(described.joined(separator: ", "))] committed by \(committer)")
            // The committer drops a Remove of itself and its own Update (§12.2).
            removed.remove(committer)
            updates[committer] = nil
            for name in removed { updates[name] = nil }
            let out = try members[c].group.commit()
            try deliverCommit(out, from: c, removed: removed, joiners: joiners)
            for (name, leaf) in updates {
                let i = try #require(index(of: name))
                try check(members[i].group.myLeafNode == leaf, "\(name)'s latest Update was applied")
            }
        }

        /// `count` application messages from `s`; every other member reads them in its own
        /// random order, and sometimes a replay is refused.
        mutating func application(sender s: Int, count: Int) throws {
            trace.append("\(members[s].client.name) sends \(count) application messages")
            var sent: [(message: MLSMessage, plaintext: [UInt8], aad: [UInt8])] = []
            for _ in 0..<count {
                let plaintext = rng.bytes(rng.int(0...80))
                let aad = rng.chance(0.3) ? rng.bytes(rng.int(1...16)) : []
                sent.append((try members[s].group.encrypt(plaintext, authenticatedData: aad), plaintext, aad))
            }
            let leaf = members[s].group.myLeaf
            let epoch = members[s].group.epoch
            for i in members.indices where i != s {
                for j in sent.indices.shuffled(using: &rng) {
                    let r = try members[i].group.process(sent[j].message)
                    try check(r.content == .application(sent[j].plaintext), "\(members[i].client.name) decrypts message \(j)")
                    try check(r.sender == .member(leaf) && r.epoch == epoch && r.authenticatedData == sent[j].aad, "sender, epoch and AAD")
                }
                if rng.chance(0.2) {
                    let j = rng.index(sent.count)
                    let e = GroupTestKit.error { try members[i].group.process(sent[j].message) }
                    guard case .framing(.generationConsumed) = e else {
                        try check(false, "replay refused, got \(String(describing: e))")
                        return
                    }
                }
            }
        }

        /// Application messages sent in one epoch and delivered after one or two commits.
        mutating func lateApplication() throws {
            let s = rng.index(members.count)
            let leaf = members[s].group.myLeaf
            let epoch = members[s].group.epoch
            let sender = members[s].client.name
            var sent: [(MLSMessage, [UInt8])] = []
            for _ in 0..<rng.int(1...3) {
                let plaintext = rng.bytes(rng.int(1...40))
                sent.append((try members[s].group.encrypt(plaintext), plaintext))
            }
            let commits = rng.int(1...2)
            trace.append("\(sender) sends \(sent.count) messages delivered after \(commits) commit(s)")
            for _ in 0..<commits { try selfUpdate(committer: rng.index(members.count)) }
            for i in members.indices where members[i].client.name != sender {
                for (message, plaintext) in sent.shuffled(using: &rng) {
                    let r = try members[i].group.process(message)
                    try check(r.content == .application(plaintext) && r.epoch == epoch && r.sender == .member(leaf), "late message decrypts")
                }
            }
        }

        mutating func externalJoin() throws {
            let r = rng.index(members.count)
            let withTree = rng.chance(0.7)
            let info = try members[r].group.groupInfo(withTree: withTree)
            let tree = withTree ? nil : members[r].group.tree.exported
            // Resync (§12.4.3.2): an existing client rejoins, removing its old leaf.
            var resynced: Int?
            if members.count > 2, rng.chance(0.3) { resynced = rng.index(members.count) }
            let client = resynced.map { members[$0].client } ?? newClient()
            let config = configuration()
            let (joined, commit) = try MLSGroup.externalJoin(
                groupInfo: info, ratchetTree: tree, keyPackage: try client.bundle(), removing: resynced.map { members[$0].group.myLeaf },
                configuration: config)
            trace.append("\(client.name) joins externally from \(members[r].client.name)'s GroupInfo\(resynced == nil ? "" : " (resync)")")
            let epoch = members[r].group.epoch
            for i in members.indices {
                let p = try members[i].group.process(commit)
                try check(p.content.commit?.removedSelf == (i == resynced) && p.sender == .newMemberCommit && p.epoch == epoch,
                          "\(members[i].client.name) accepts the external commit")
            }
            if let t = resynced {
                try checkInactive(members[t].group, commit)
                members.remove(at: t)
            }
            members.append(Member(client: client, group: joined))
        }

        // MARK: Delivery

        mutating func deliverProposal(_ message: MLSMessage, from p: Int) throws {
            let proposal = try #require(members[p].group.pendingProposals.last)
            let leaf = members[p].group.myLeaf
            for i in members.indices where i != p {
                let r = try members[i].group.process(message)
                try check(r.content == .proposal(proposal) && r.sender == .member(leaf), "\(members[i].client.name) caches the proposal")
            }
            if rng.chance(0.5) {
                // The proposer's own copy comes back from the delivery service.
                let r = try members[p].group.process(message)
                try check(r.content == .proposal(proposal) && r.sender == .member(leaf), "the proposer recognises its proposal")
            }
        }

        /// Delivers a commit of `members[c]` to every member, merges it at the committer (by
        /// processing its own commit with the pending one or by `merge`), retires the removed members
        /// and lets the joiners in from the Welcome.
        mutating func deliverCommit(_ out: CommitOutput, from c: Int, removed: Set<String>, joiners: [Joiner]) throws {
            let committer = members[c].client.name
            let leaf = members[c].group.myLeaf
            let epoch = members[c].group.epoch
            try check(out.pending.epoch == epoch && out.pending.description.epoch == epoch + 1, "the committer holds its commit pending, in its epoch")
            for i in members.indices where i != c {
                let r = try members[i].group.process(out.commit)
                let isRemoved = removed.contains(members[i].client.name)
                try check(r.content.commit?.removedSelf == isRemoved, "\(members[i].client.name) processes the commit (removed: \(isRemoved))")
                try check(r.sender == .member(leaf) && r.epoch == epoch, "commit sender and epoch")
            }
            if rng.chance(0.5) {
                let r = try members[c].group.process(out.commit, pending: out.pending)
                try check(r.content.commit?.removedSelf == false, "the committer merges by processing its own commit")
            } else {
                try members[c].group.merge(out.pending)
            }
            for m in members where removed.contains(m.client.name) { try checkInactive(m.group, out.commit) }
            members.removeAll { removed.contains($0.client.name) }
            let committerGroup = try #require(members.first { $0.client.name == committer }).group
            if joiners.isEmpty {
                try check(out.welcome == nil, "no Welcome without Adds")
                return
            }
            let welcome = try #require(out.welcome)
            let outOfBand = committerGroup.configuration.ratchetTreeInWelcome ? nil : committerGroup.tree.exported
            for j in joiners {
                let g = try MLSGroup.join(welcome: welcome, keyPackage: j.bundle, ratchetTree: outOfBand, configuration: j.configuration)
                members.append(Member(client: j.client, group: g))
            }
        }

        /// A removed member can neither read nor send (§12.4.2).
        func checkInactive(_ group: MLSGroup, _ message: MLSMessage) throws {
            var g = group
            try check(!g.isActive, "a removed member is inactive")
            try check(GroupTestKit.error { try g.process(message) } == .inactive, "process after removal throws .inactive")
            try check(GroupTestKit.error { try g.encrypt([1, 2, 3]) } == .inactive, "encrypt after removal throws .inactive")
            try check(GroupTestKit.error { try g.commit() } == .inactive, "commit after removal throws .inactive")
        }

        /// Every member has the same GroupContext (epoch, tree hash, transcript, extensions),
        /// epoch authenticator and exporter output; the tree hashes to the context's value; the
        /// model's membership matches the tree's.
        mutating func checkAgreement() throws {
            maxSeen = max(maxSeen, members.count)
            let first = members[0].group
            let exported = try first.exportSecret(label: "session", context: [1], length: 16)
            var names = Set<[UInt8]>()
            for m in members {
                let g = m.group
                try check(g.isActive && g.pendingProposals.isEmpty, "\(m.client.name) is settled")
                try check(g.context == first.context, "\(m.client.name) agrees on the GroupContext (epoch \(g.epoch) vs \(first.epoch))")
                try check(g.epochAuthenticator == first.epochAuthenticator, "\(m.client.name) agrees on epoch_authenticator")
                try check(try g.exportSecret(label: "session", context: [1], length: 16) == exported, "\(m.client.name) agrees on the exporter")
                var tree = g.tree
                try check(tree.treeHash() == g.context.treeHash, "\(m.client.name)'s tree hashes to the context's tree_hash")
                try check(g.members.count == members.count, "\(m.client.name) sees \(g.members.count) members, model has \(members.count)")
                try check(g.myLeafNode?.signatureKey == m.client.signature.publicKey, "\(m.client.name) holds its own leaf")
                if case let .basic(id) = g.myLeafNode?.credential { names.insert(id) }
            }
            let inTree = Set(first.members.compactMap { leaf -> [UInt8]? in
                if case let .basic(id) = first.tree.leaf(leaf)?.credential { return id }
                return nil
            })
            try check(inTree == names, "the tree's members are the model's")
        }
    }

    // MARK: Randomized suites

    /// `count` seeds split into `chunks` parallel test cases.
    static func seeds(base: UInt64, count: Int, chunks: Int, chunk: Int) -> [UInt64] {
        stride(from: chunk, to: count, by: chunks).map { base &+ UInt64($0) }
    }

    static func run(seeds: [UInt64], suite: (UInt64) -> CipherSuite, framing: FramingMode) throws {
        for seed in seeds {
            var rng = GroupTestKit.RNG(seed: seed ^ 0xA5A5_A5A5)
            let steps = rng.int(10...25)
            var session = try Session(seed: seed, suite: suite(seed), framing: framing)
            try session.run(steps: steps)
            if getenv("GROUP_SESSION_TRACE") != nil {
                print("seed \(seed) suite \(session.suite.id): max \(session.maxSeen) members; " + session.trace.joined(separator: " | "))
            }
        }
    }

    /// Suite 1: 150 sessions with PublicMessage handshakes, cipher suite 1.
    @Test("Random sessions, PublicMessage handshakes", arguments: 0..<10)
    func randomSessionsPublic(chunk: Int) throws {
        try Self.run(seeds: Self.seeds(base: 1_000, count: 150, chunks: 10, chunk: chunk), suite: { _ in CipherSuite(id: 1)! }, framing: .publicOnly)
    }

    /// Suite 2: 30 sessions with PrivateMessage handshakes.
    @Test("Random sessions, PrivateMessage handshakes", arguments: 0..<3)
    func randomSessionsPrivate(chunk: Int) throws {
        try Self.run(seeds: Self.seeds(base: 2_000, count: 30, chunks: 3, chunk: chunk), suite: { _ in CipherSuite(id: 1)! }, framing: .privateOnly)
    }

    /// Suite 3: 50 sessions where each member picks its own handshake framing, over cipher
    /// suites 3 (ChaCha20-Poly1305) and 2 (P-256).
    @Test("Random sessions, mixed framing, suites 2 and 3", arguments: 0..<5)
    func randomSessionsMixed(chunk: Int) throws {
        try Self.run(seeds: Self.seeds(base: 3_000, count: 50, chunks: 5, chunk: chunk),
                     suite: { CipherSuite(id: $0 % 3 == 0 ? 2 : 3)! }, framing: .mixed)
    }

    // MARK: Focused sessions

    /// Members, in order of their leaves, after one commit adding them all.
    static func group(_ count: Int, configuration: GroupConfiguration = GroupConfiguration()) throws -> [MLSGroup] {
        let clients = (0..<count).map { GroupTestKit.Client("m\($0)") }
        var creator = try MLSGroup.create(suite: clients[0].suite, groupID: Array("focused".utf8), creator: try clients[0].bundle(),
                                          configuration: configuration)
        let bundles = try clients.dropFirst().map { try $0.bundle() }
        let out = try creator.commit(CommitOptions(proposals: bundles.map { .add($0.keyPackage) }))
        try creator.merge(out.pending)
        let welcome = try #require(out.welcome)
        return [creator] + (try bundles.map { try MLSGroup.join(welcome: welcome, keyPackage: $0, configuration: configuration) })
    }

    /// A handshake-private session end to end: proposals, commits and application data are all
    /// PrivateMessages.
    @Test func privateHandshakeSession() throws {
        var config = GroupConfiguration()
        config.encryptsHandshakes = true
        var g = try Self.group(3, configuration: config)
        let update = try g[1].proposeUpdate()
        #expect(update.wireFormat == .privateMessage)
        for i in [0, 2] { _ = try g[i].process(update) }
        let bundle = try GroupTestKit.Client("late").bundle()
        let add = try g[2].proposeAdd(bundle.keyPackage)
        for i in [0, 1] { _ = try g[i].process(add) }
        let out = try g[0].commit()
        #expect(out.commit.wireFormat == .privateMessage)
        for i in [1, 2] { #expect(try g[i].process(out.commit).content.commit?.removedSelf == false) }
        _ = try g[0].process(out.commit, pending: out.pending)
        g.append(try MLSGroup.join(welcome: try #require(out.welcome), keyPackage: bundle, configuration: config))
        for x in g {
            #expect(x.context == g[0].context)
            #expect(x.epochAuthenticator == g[0].epochAuthenticator)
        }
        let m = try g[3].encrypt(Array("from the newcomer".utf8))
        for i in 0..<3 { #expect(try g[i].process(m).content == .application(Array("from the newcomer".utf8))) }
    }

    /// Within an epoch, application messages decrypt in any order; each decrypts exactly once.
    @Test func outOfOrderApplicationMessagesAndReplays() throws {
        var g = try Self.group(3)
        let plaintexts = (0..<8).map { Array("message \($0)".utf8) }
        let messages = try plaintexts.map { try g[0].encrypt($0) }
        for j in [5, 0, 7, 2, 1, 6, 3, 4] {
            #expect(try g[1].process(messages[j]).content == .application(plaintexts[j]))
        }
        for j in [7, 6, 5, 4, 3, 2, 1, 0] {
            #expect(try g[2].process(messages[j]).content == .application(plaintexts[j]))
        }
        for j in [0, 4, 7] {
            let before = GroupTestKit.Snapshot(g[1])
            #expect(GroupTestKit.error { try g[1].process(messages[j]) } == .framing(.generationConsumed(UInt32(j))))
            #expect(GroupTestKit.Snapshot(g[1]) == before)
        }
        // Replay protection survives an interleaved message from another sender.
        let other = try g[2].encrypt([9])
        #expect(try g[1].process(other).content == .application([9]))
        #expect(GroupTestKit.error { try g[1].process(other) } == .framing(.generationConsumed(0)))
    }

    /// A message of the previous epoch still decrypts after a commit (§9.2, `pastEpochsRetained`
    /// = 2), once; beyond the retained epochs it is refused as a wrong epoch.
    @Test func lateApplicationMessagesFromPreviousEpochs() throws {
        var g = try Self.group(3)
        let epoch0 = g[0].epoch
        let early = try g[1].encrypt(Array("early".utf8))
        let early2 = try g[1].encrypt(Array("early 2".utf8))
        let tooLate = try g[2].encrypt(Array("too late".utf8))
        for round in 0..<3 {
            let out = try g[0].commit()
            _ = try g[0].process(out.commit, pending: out.pending)
            for i in [1, 2] { _ = try g[i].process(out.commit) }
            if round == 0 {
                let r = try g[2].process(early)
                #expect(r.content == .application(Array("early".utf8)))
                #expect(r.epoch == epoch0)
                #expect(GroupTestKit.error { try g[2].process(early) } == .framing(.generationConsumed(0)))
                // The committer reads late messages too.
                #expect(try g[0].process(early).content == .application(Array("early".utf8)))
            }
            if round == 1 {
                // Two epochs later: still retained.
                #expect(try g[0].process(early2).content == .application(Array("early 2".utf8)))
            }
        }
        // Three epochs later the epoch's keys are gone.
        #expect(GroupTestKit.error { try g[1].process(tooLate) } == .wrongEpoch(epoch0))
    }

    /// A removed member learns it was removed, then can neither process, encrypt, propose nor
    /// commit; the remaining members carry on.
    @Test func removedMemberIsInactive() throws {
        var g = try Self.group(4)
        let late = try g[3].encrypt(Array("sent before removal".utf8))
        let out = try g[0].commit(CommitOptions(proposals: [.remove(LeafIndex(3))]))
        #expect(try g[3].process(out.commit).content.commit?.removedSelf == true)
        #expect(!g[3].isActive)
        #expect(GroupTestKit.error { try g[3].process(out.commit) } == .inactive)
        #expect(GroupTestKit.error { try g[3].process(late) } == .inactive)
        #expect(GroupTestKit.error { try g[3].encrypt([1]) } == .inactive)
        #expect(GroupTestKit.error { try g[3].proposeUpdate() } == .inactive)
        #expect(GroupTestKit.error { try g[3].commit() } == .inactive)
        for i in [1, 2] { #expect(try g[i].process(out.commit).content.commit?.removedSelf == false) }
        try g[0].merge(out.pending)
        // Merged once, it is of a past epoch.
        #expect(GroupTestKit.error { try g[0].merge(out.pending) } == .stalePendingCommit)
        // The remaining members still read the removed member's last message of the old epoch.
        #expect(try g[1].process(late).content == .application(Array("sent before removal".utf8)))
        let m = try g[2].encrypt([7])
        for i in [0, 1] { #expect(try g[i].process(m).content == .application([7])) }
        #expect(g[0].members.count == 3)
    }

    /// A proposer that sends two proposals gets each one back, not just the last cached (§12.1).
    @Test func ownProposalsEchoBackAsSent() throws {
        var g = try Self.group(2)
        let bundle = try GroupTestKit.Client("x").bundle()
        let add = try g[0].proposeAdd(bundle.keyPackage)
        let remove = try g[1].proposeRemove(LeafIndex(1))  // bob proposes his own removal
        _ = try g[0].process(remove)
        let update = try g[0].proposeUpdate()
        #expect(try g[0].process(add).content == .proposal(.add(bundle.keyPackage)))
        #expect(try g[0].process(add).sender == .member(LeafIndex(0)))
        if case .proposal(.update) = try g[0].process(update).content {} else { Issue.record("own Update echoed as something else") }
    }

    /// A commit's own echo and `merge` lead to the same state; after a competing commit of the
    /// same epoch the pending one can no longer be merged (§14).
    @Test func pendingCommitIsMergedOrDiscarded() throws {
        var g = try Self.group(3)
        var viaEcho = g[0]
        let out = try viaEcho.commit()
        var viaMerge = viaEcho
        _ = try viaEcho.process(out.commit, pending: out.pending)
        try viaMerge.merge(out.pending)
        #expect(viaEcho.context == viaMerge.context)
        #expect(viaEcho.epochAuthenticator == viaMerge.epochAuthenticator)

        // Member 0 and member 1 commit concurrently; the delivery service orders member 1's first.
        let mine = try g[0].commit()
        let theirs = try g[1].commit()
        #expect(try g[0].process(theirs.commit, pending: mine.pending).content.commit?.removedSelf == false)
        #expect(GroupTestKit.error { try g[0].merge(mine.pending) } == .stalePendingCommit)
        _ = try g[1].process(theirs.commit, pending: theirs.pending)
        _ = try g[2].process(theirs.commit)
        #expect(g[0].epochAuthenticator == g[1].epochAuthenticator)
        #expect(g[2].epochAuthenticator == g[1].epochAuthenticator)
        // The losing commit is now of a past epoch.
        #expect(GroupTestKit.error { try g[2].process(mine.commit) } == .wrongEpoch(theirs.commit.epochForTests))
    }
}

extension MLSMessage {
    /// The epoch a Public- or PrivateMessage belongs to.
    var epochForTests: UInt64 {
        switch body {
        case let .publicMessage(m): m.content.epoch
        case let .privateMessage(m): m.epoch
        default: UInt64.max
        }
    }
}
