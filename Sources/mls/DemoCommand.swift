import ArgumentParser
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `mls demo`: the life of one case-file mailbox, told step by step. An authority, a clerk and
/// two citizens share an MLS group over an in-memory delivery service; they exchange notices,
/// update keys and remove the clerk, and every step checks what it claims, so the command is
/// also a smoke test of the group API end to end.
struct Demo: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        abstract: "Walk through a case-file mailbox: an authority, a clerk and two citizens in one MLS group.",
        discussion: """
            Everything runs in memory over an ordered broadcast delivery service. Each step checks its \
            expectations; the exit status is non-zero if any fails.
            """)

    /// How proposals and commits are framed on the wire (RFC 9420 §6), as chosen on the command line.
    enum Handshake: String, ExpressibleByArgument, CaseIterable {
        /// PublicMessage: the delivery service can read (but not forge) handshake messages,
        /// e.g. to enforce an ordering or membership policy.
        case `public`
        /// PrivateMessage: handshake messages are encrypted like application data.
        case `private`
    }

    /// The cipher suite code point.
    @Option(help: "Cipher suite code point, 1-7 (RFC 9420 §17.1).")
    var suite: UInt16 = 1

    /// How the members frame their proposals and commits.
    @Option(help: "Frame proposals and commits as public or private messages.")
    var handshake: Handshake = .public

    /// A Matrix homeserver to run the story through instead of the in-memory delivery service.
    @Option(help: "Run the story through this Matrix homeserver (e.g. http://127.0.0.1:8008 from Scripts/synapse.sh start).")
    var homeserver: String?

    /// Rejects suites the library does not implement before anything runs.
    func validate() throws {
        guard CipherSuite(id: suite) != nil else { throw ValidationError("unknown cipher suite \(suite): choose 1-7") }
    }

    /// Runs the story; any failed expectation or unexpected error ends it with a non-zero status.
    func run() async throws {
        if let homeserver {
            var story = MatrixMailboxStory(homeserver: homeserver)
            do {
                try await story.run()
            } catch let failure as DemoFailure {
                print("FAILED: \(failure.expectation)")
                throw ExitCode.failure
            }
            return
        }
        guard let cipherSuite = CipherSuite(id: suite) else { throw ExitCode.validationFailure }
        var configuration = GroupConfiguration()
        configuration.encryptsHandshakes = handshake != .public
        var story = MailboxStory(suite: cipherSuite, configuration: configuration)
        do {
            try story.run()
        } catch let failure as DemoFailure {
            print("FAILED: \(failure.expectation)")
            throw ExitCode.failure
        } catch {
            print("FAILED: unexpected error: \(error)")
            throw ExitCode.failure
        }
    }
}

/// An expectation of the demo that did not hold.
struct DemoFailure: Error {
    /// What was expected, in the words of the story.
    let expectation: String
}

/// Throws a ``DemoFailure`` unless `condition` holds. The demo stops at the first failure:
/// later steps build on earlier ones, so their output would only mislead.
func expect(_ condition: Bool, _ expectation: @autoclosure () -> String) throws {
    if !condition { throw DemoFailure(expectation: expectation()) }
}

/// One person of the story: an MLS client (their long-term identity and signature key), the KeyPackage
/// they published, and their view of the mailbox group once they are in it.
struct Participant {
    /// The display name, also the basic credential's identity and the delivery-service inbox.
    let name: String
    /// The person's MLS client: the basic credential naming them and their signature key.
    let client: MLSClient
    /// The published KeyPackage and its private keys, kept until a Welcome uses it.
    var keyPackage: KeyPackageBundle?
    /// This participant's state of the group, once created or joined.
    var group: MLSGroup?
    /// The participant's commit sent and not yet seen come back (§14), held beside the group.
    var pending: PendingCommit?
}

/// What became of one delivery at one recipient.
enum Outcome {
    /// `process` accepted the message.
    case processed(ProcessedMessage)
    /// `process` refused it.
    case refused(GroupError)
    /// The recipient's own application message, echoed by the broadcast. Its sender cannot
    /// decrypt it (the key was used and deleted, §9.2) and needs not to.
    case ownMessage
    /// An application message for other recipients, left unopened.
    case notAddressed
    /// A Welcome, handled by the joiner itself.
    case welcome(MLSMessage)
}

/// The story of `mls demo`, one method per step.
struct MailboxStory {
    /// The group's cipher suite.
    let suite: CipherSuite
    /// Every member's group configuration; only the handshake framing differs from the defaults.
    let configuration: GroupConfiguration
    /// The mailbox's delivery service.
    var service = InMemoryDeliveryService()
    /// Everyone in the story, by name.
    var people: [String: Participant] = [:]

    /// The cast, in the order they join (and so in leaf order).
    static let authority = "authority", clerk = "clerk", citizenA = "citizen A", citizenB = "citizen B"
    /// Everyone, in leaf order; output lists people in this order.
    static let cast = [authority, clerk, citizenA, citizenB]
    /// The case file; the group ID names it so that the mailbox can route by it.
    static let caseFile = "case-file/2024-0815/building-permit"

    /// A story with fresh signature keys for the whole cast.
    init(suite: CipherSuite, configuration: GroupConfiguration) {
        self.suite = suite
        self.configuration = configuration
        for name in Self.cast { people[name] = Participant(name: name, client: MLSClient.basic(identity: Array(name.utf8), suite: suite)) }
    }

    /// Tells the whole story.
    mutating func run() throws {
        let framing = configuration.encryptsHandshakes ? "PrivateMessage" : "PublicMessage"
        print("MLSKit demo: a case-file mailbox over MLS (RFC 9420)")
        print("suite \(suite.id) \(suite.name), handshake messages as \(framing)")
        try createGroup()
        try addMembers()
        try exchangeMessages()
        try updateKeys()
        try removeClerk()
        try noticeAfterRemoval()
        try finalCheck()
    }

    // MARK: The steps

    /// 1. The authority creates the group for the case file.
    mutating func createGroup() throws {
        print("\n1. The authority opens a mailbox group for case file \"\(Self.caseFile)\".")
        let bundle = try keyPackage(for: Self.authority)
        let group = try MLSGroup.create(suite: suite, groupID: Array(Self.caseFile.utf8), creator: bundle, configuration: configuration)
        people[Self.authority]?.group = group
        service.subscribe(Self.authority)
        try expect(group.epoch == 0 && group.members == [LeafIndex(0)], "a new group is at epoch 0 with only its creator")
        print("   epoch \(group.epoch), members: \(names(in: group))")
    }

    /// 2. The authority adds the clerk and both citizens in one commit; they join from the Welcome.
    mutating func addMembers() throws {
        let joiners = [Self.clerk, Self.citizenA, Self.citizenB]
        var keyPackages: [KeyPackage] = []
        for name in joiners {
            let bundle = try keyPackage(for: name)
            people[name]?.keyPackage = bundle
            keyPackages.append(bundle.keyPackage)
        }
        let sizes = keyPackages.map { String(MLSMessage(body: .keyPackage($0)).tlsSerialized.count) }
        print("\n2. The clerk and both citizens publish KeyPackages (\(sizes.joined(separator: ", ")) bytes);")
        print("   the authority adds all three in one commit.")

        var authority = try group(of: Self.authority)
        let output = try authority.commit(CommitOptions(proposals: keyPackages.map { .add($0) }))
        people[Self.authority]?.group = authority
        people[Self.authority]?.pending = output.pending
        guard let welcome = output.welcome else { throw DemoFailure(expectation: "a commit adding members comes with a Welcome") }
        service.broadcast(output.commit, from: Self.authority)
        // The joiners open their inboxes only now: the add commit is for epoch 0, which they never see.
        for name in joiners { service.subscribe(name) }
        service.send(welcome, from: Self.authority, to: joiners)
        print("   authority sent the commit (\(output.commit.tlsSerialized.count) bytes) to the group,"
              + " the Welcome (\(welcome.tlsSerialized.count) bytes) to the three")
        try expect(output.pending.epoch == 0 && authority.epoch == 0, "a committer stays in its epoch until the commit is confirmed")

        for (name, outcome) in try deliverAll() {
            switch outcome {
            case let .processed(result):
                // The broadcast echoed the authority's commit: process() recognises the pending
                // commit by its bytes and merges it instead of decrypting it.
                let mine = try group(of: name)
                try expect(name == Self.authority && result.sender == .member(mine.myLeaf) && result.content.commit?.removedSelf == false
                           && people[name]?.pending == nil && mine.epoch == 1, "the authority merges its own commit when it comes back")
                print("   authority: its commit came back; process() recognised it as its pending commit and merged it")
            case let .welcome(message):
                guard let bundle = people[name]?.keyPackage else { throw DemoFailure(expectation: "\(name) kept its KeyPackage") }
                let joined = try MLSGroup.join(welcome: message, keyPackage: bundle, configuration: configuration)
                people[name]?.group = joined
                people[name]?.keyPackage = nil  // a KeyPackage is used once (§10)
            default:
                throw DemoFailure(expectation: "only the commit echo and the Welcome are delivered in step 2 (\(name): \(outcome))")
            }
        }
        let leaves = try joiners.map { "\($0) at leaf \(try group(of: $0).myLeaf.rawValue)" }
        print("   joined from the Welcome: \(leaves.joined(separator: ", "))")
        try agree(Self.cast)
    }

    /// 3. Messages in every direction; each addressee prints what it decrypted.
    mutating func exchangeMessages() throws {
        print("\n3. Messages in every direction. Every member could open every message (MLS protects the")
        print("   group as a whole); the authenticated \"to:\" field tells the mailbox whom each is for.")
        try send(from: Self.authority, to: ["all"], "Your building permit application is complete and under review.")
        try send(from: Self.citizenA, to: [Self.authority], "Attached is the signed site plan you asked for.")
        try send(from: Self.clerk, to: [Self.citizenA, Self.citizenB], "The site inspection is on 14 May at 10:00.")
        try send(from: Self.citizenB, to: ["all"], "As the neighbour, I have no objection to the extension.")
    }

    /// 4. Citizen A commits a self-update; everyone processes it.
    mutating func updateKeys() throws {
        print("\n4. Citizen A refreshes its keys: a commit with a new UpdatePath and no proposals,")
        print("   so a key that leaked before now no longer opens anything sent after it.")
        var citizen = try group(of: Self.citizenA)
        let oldKey = citizen.myLeafNode?.encryptionKey ?? []
        let output = try citizen.commit(CommitOptions())
        people[Self.citizenA]?.group = citizen
        people[Self.citizenA]?.pending = output.pending
        service.broadcast(output.commit, from: Self.citizenA)
        print("   citizen A sent the commit (\(output.commit.tlsSerialized.count) bytes)")
        try processCommit(by: Self.citizenA, epoch: 2)
        let newKey = try group(of: Self.citizenA).myLeafNode?.encryptionKey ?? []
        let leaf = try group(of: Self.citizenA).myLeaf
        try expect(newKey != oldKey, "the self-update replaces citizen A's leaf key")
        for name in Self.cast {
            try expect(try group(of: name).tree.leaf(leaf)?.encryptionKey == newKey, "\(name) sees citizen A's new leaf key")
        }
        print("   citizen A's leaf key \(short(oldKey)) is now \(short(newKey)) in every member's tree")
        try agree(Self.cast)
    }

    /// 5. The authority removes the clerk; everyone processes the removal.
    mutating func removeClerk() throws {
        let clerkLeaf = try group(of: Self.clerk).myLeaf
        print("\n5. The authority removes the clerk (leaf \(clerkLeaf.rawValue)) from the case file.")
        var authority = try group(of: Self.authority)
        let output = try authority.commit(CommitOptions(proposals: [.remove(clerkLeaf)]))
        people[Self.authority]?.group = authority
        people[Self.authority]?.pending = output.pending
        service.broadcast(output.commit, from: Self.authority)
        print("   authority sent the commit (\(output.commit.tlsSerialized.count) bytes)")
        try processCommit(by: Self.authority, epoch: 3, removed: Self.clerk)
        let remaining = [Self.authority, Self.citizenA, Self.citizenB]
        for name in remaining {
            try expect(!(try group(of: name).members.contains(clerkLeaf)), "\(name) no longer lists the clerk")
        }
        try agree(remaining)
    }

    /// 6. A notice after the removal: the citizens read it, the clerk can neither read nor send.
    mutating func noticeAfterRemoval() throws {
        print("\n6. The authority sends a new notice. The delivery service is a plain broadcast and still")
        print("   hands the clerk a copy.")
        // Keep the clerk's state from before it processed the removal: even a client that
        // ignores the removal commit must not be able to read what follows.
        guard let clerkBeforeRemoval = clerkSnapshot else { throw DemoFailure(expectation: "step 5 kept the clerk's state") }
        let notice = try send(from: Self.authority, to: ["all"], "Decision: the building permit is granted. You may appeal within one month.",
                              refused: [Self.clerk: .inactive])
        var stale = clerkBeforeRemoval
        do {
            _ = try stale.process(notice)
            throw DemoFailure(expectation: "the clerk's state from before the removal cannot read the notice")
        } catch let error as GroupError {
            try expect(error == .wrongEpoch(3), "a stale clerk fails for want of the new epoch's keys, not \(typed(error))")
            print("     clerk, with its state from before the removal: \(typed(error))")
        }
        var clerk = try group(of: Self.clerk)
        do {
            _ = try clerk.encrypt(Array("Please disregard the decision.".utf8))
            throw DemoFailure(expectation: "the removed clerk cannot send")
        } catch let error as GroupError {
            try expect(error == .inactive, "encrypt refuses a removed member, not \(typed(error))")
            print("     clerk, trying to reply: encrypt() throws \(typed(error))")
        }
    }

    /// 7. All remaining members agree on epoch and epoch authenticator.
    mutating func finalCheck() throws {
        print("\n7. Final check.")
        let remaining = [Self.authority, Self.citizenA, Self.citizenB]
        try agree(remaining)
        try expect(!(try group(of: Self.clerk).isActive), "the clerk stays removed")
        print("   delivery service carried \(service.log.count) messages, \(service.log.reduce(0) { $0 + $1.bytes.count }) bytes")
        print("all members agree")
    }

    // MARK: Helpers

    /// The clerk's group state just before it processed its removal, kept by step 5: the group
    /// is a value, so a copy is a complete, independent client state.
    var clerkSnapshot: MLSGroup?

    /// A fresh KeyPackage for `name`, with a basic credential naming them.
    func keyPackage(for name: String) throws -> KeyPackageBundle {
        guard let person = people[name] else { throw DemoFailure(expectation: "\(name) is in the cast") }
        return try person.client.makeKeyPackage()
    }

    /// `name`'s state of the group.
    func group(of name: String) throws -> MLSGroup {
        guard let group = people[name]?.group else { throw DemoFailure(expectation: "\(name) is in the group") }
        return group
    }

    /// The members of `group`, named by their credentials, i.e. as the group itself knows them.
    func names(in group: MLSGroup) -> String {
        group.members.map { leaf -> String in
            guard case let .basic(identity)? = group.tree.leaf(leaf)?.credential else { return "leaf \(leaf.rawValue)" }
            return String(decoding: identity, as: UTF8.self)
        }.joined(separator: ", ")
    }

    /// The first four bytes of `bytes` in hex: enough for a reader to compare values by eye.
    func short(_ bytes: [UInt8]) -> String { Hex.encode(bytes.prefix(4)) + "…" }

    /// A typed error as code would match it, with its description.
    func typed(_ error: GroupError) -> String {
        let name: String
        switch error {
        case .inactive: name = "GroupError.inactive"
        case let .wrongEpoch(epoch): name = "GroupError.wrongEpoch(\(epoch))"
        default: name = "GroupError"
        }
        return "\(name) (\"\(error)\")"
    }

    /// Checks that `who` share one view of the group: epoch, epoch authenticator, and the
    /// whole GroupContext (tree hash and transcript hash included); prints the shared facts.
    func agree(_ who: [String]) throws {
        let groups = try who.map { try group(of: $0) }
        let first = groups[0]
        for (name, group) in zip(who, groups) {
            try expect(group.isActive, "\(name) is still in the group")
            try expect(group.epoch == first.epoch, "\(name) is at epoch \(first.epoch), not \(group.epoch)")
            try expect(group.epochAuthenticator == first.epochAuthenticator, "\(name) has the same epoch authenticator")
            try expect(group.context == first.context, "\(name) has the same group context")
        }
        try expect(first.members.count == who.count, "the group has exactly \(who.count) members")
        print("   epoch \(first.epoch), members: \(names(in: first)); epoch authenticator \(short(first.epochAuthenticator)) on all \(who.count)")
    }

    /// Drains every inbox in cast order and processes what it holds, as each member's client
    /// would: Welcomes go to the joiner, echoes of one's own application messages and messages
    /// for others are skipped, everything else goes to `process`.
    mutating func deliverAll() throws -> [(String, Outcome)] {
        var outcomes: [(String, Outcome)] = []
        for name in Self.cast where service.subscribers.contains(name) {
            for delivery in service.receive(name) {
                let message = try delivery.message()
                if case .welcome = message.body {
                    outcomes.append((name, .welcome(message)))
                    continue
                }
                if case let .privateMessage(pm) = message.body, pm.contentType == .application {
                    if delivery.from == name {
                        outcomes.append((name, .ownMessage))
                        continue
                    }
                    let to = addressees(pm.authenticatedData)
                    if !to.contains("all") && !to.contains(name) {
                        outcomes.append((name, .notAddressed))
                        continue
                    }
                }
                var group = try group(of: name)
                do {
                    let pending = people[name]?.pending
                    let result = try group.process(message, pending: pending)
                    people[name]?.group = group
                    // Merged by its echo, or beaten by another commit: either way it is done.
                    if let pending, group.epoch != pending.epoch { people[name]?.pending = nil }
                    outcomes.append((name, .processed(result)))
                } catch {
                    // process() throws only GroupError.
                    outcomes.append((name, .refused(error)))
                }
            }
        }
        return outcomes
    }

    /// The recipients named in an application message's `authenticated_data` ("to: a, b").
    func addressees(_ authenticatedData: [UInt8]) -> [String] {
        let text = String(decoding: authenticatedData, as: UTF8.self)
        guard text.hasPrefix("to: ") else { return [] }
        return text.dropFirst(4).components(separatedBy: ", ")
    }

    /// Sends an application message, delivers it, and checks that exactly the addressees (minus
    /// the sender) read it, except those expected to refuse it with the given error.
    @discardableResult
    mutating func send(from sender: String, to recipients: [String], _ text: String,
                       refused: [String: GroupError] = [:]) throws -> MLSMessage {
        var group = try group(of: sender)
        let message = try group.encrypt(Array(text.utf8), authenticatedData: Array("to: \(recipients.joined(separator: ", "))".utf8))
        people[sender]?.group = group
        service.broadcast(message, from: sender)
        let label = recipients == [Self.citizenA, Self.citizenB] ? "citizens" : recipients.joined(separator: ", ")
        print("   \(sender) → \(label) (\(message.tlsSerialized.count) bytes): \"\(text)\"")
        let senderLeaf = group.myLeaf
        var readers: Set<String> = []
        var refusals: [String] = []  // printed after the readers, so the story reads "who can, then who cannot"
        for (name, outcome) in try deliverAll() {
            switch outcome {
            case let .processed(result):
                guard case let .application(data) = result.content else {
                    throw DemoFailure(expectation: "\(name) receives application data, not \(result.content)")
                }
                try expect(result.sender == .member(senderLeaf), "\(name) authenticates the sender as \(sender)")
                try expect(data == Array(text.utf8), "\(name) decrypts exactly what \(sender) sent")
                print("     \(name) read: \"\(String(decoding: data, as: UTF8.self))\"")
                readers.insert(name)
            case let .refused(error):
                try expect(refused[name] == error, "\(name) reads the message (it refused: \(error))")
                refusals.append("     \(name) could not read it: process() throws \(typed(error))")
            case .ownMessage, .notAddressed:
                continue
            case .welcome:
                throw DemoFailure(expectation: "no Welcome while messages are exchanged")
            }
        }
        for line in refusals { print(line) }
        let expected = Set(recipients.contains("all") ? Self.cast : recipients).subtracting([sender]).subtracting(refused.keys)
        let active = Set(Self.cast.filter { people[$0]?.group?.isActive == true })
        try expect(readers == expected.intersection(active), "exactly the addressees read the message")
        return message
    }

    /// Delivers a broadcast commit and checks its outcome everywhere: the committer merges it
    /// on the echo, everyone else moves to `epoch`, and `removed` (if any) learns it is out.
    mutating func processCommit(by committer: String, epoch: UInt64, removed: String? = nil) throws {
        if let removed { clerkSnapshot = try group(of: removed) }
        var others: [String] = []
        for (name, outcome) in try deliverAll() {
            guard case let .processed(result) = outcome else {
                throw DemoFailure(expectation: "\(name) processes the commit (got \(outcome))")
            }
            let group = try group(of: name)
            if name == committer {
                try expect(result.sender == .member(group.myLeaf) && people[name]?.pending == nil && group.epoch == epoch,
                           "\(committer) merges its own commit when it comes back")
            } else if name == removed {
                guard let d = result.content.commit, d.removedSelf, !group.isActive else { throw DemoFailure(expectation: "\(name) learns it was removed") }
                print("   \(name): process() describes the commit: removed by \(d.committer); isActive is now false")
            } else {
                guard let d = result.content.commit, !d.removedSelf, group.epoch == epoch else { throw DemoFailure(expectation: "\(name) moves to epoch \(epoch)") }
                if others.isEmpty {
                    // The audit trail a mailbox keeps: who changed the membership, in members, not leaf numbers.
                    print("   \(name) audits epoch \(d.epoch): committer \(d.committer); added \(d.added.map(\.description)); removed \(d.removed.map(\.description))")
                }
                others.append(name)
            }
        }
        print("   \(committer) merged its own commit via process(); \(others.joined(separator: ", ")) processed it")
    }
}
