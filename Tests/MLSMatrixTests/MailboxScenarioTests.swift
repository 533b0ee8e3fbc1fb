import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
@_spi(Engine) import MLSStore
import Testing
@_spi(Engine) @testable import MLSMatrix

/// Scenarios against a real homeserver, run when `MATRIX_HOMESERVER` names one (`.ci/run` starts
/// Synapse with Scripts/synapse.sh and sets it). Without it they are skipped, and say so.
let homeserver = ProcessInfo.processInfo.environment["MATRIX_HOMESERVER"]

func tempStore(_ name: String) throws -> GroupStore {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("mlskit-matrix-\(name)-\(UUID().uuidString).sqlite").path
    return try GroupStore(backend: try SQLiteStorage(path: path), encryptionKey: SecretBytes(randomCount: 32))
}

/// A fresh user name per run, so repeated runs against one server do not collide.
func uniqueName(_ role: String) -> String { "\(role)-\(Hex.encode(SecretBytes(randomCount: 4).unsafeCopiedBytes()))" }

func connect(_ role: String) async throws -> MatrixMLSClient {
    let client = try await MatrixMLSClient.connect(homeserver: homeserver!, username: uniqueName(role), password: "pw-\(role)-mlskit",
                                                   deviceID: role.uppercased(), store: try tempStore(role))
    return client
}

/// Syncs everyone until no commit is pending, nothing is queued and all members of `room`
/// agree on the epoch.
func settle(_ clients: [MatrixMLSClient], room: String) async throws {
    if try await MatrixMLSClient.settle(clients, room: room, rounds: 40) { return }
    var report: [String] = []
    for c in clients {
        report.append("\(c.session.userID): epoch \(String(describing: await c.epoch(of: room))) pending \(await c.hasPendingCommit(in: room)) queued \(try await c.pendingOutgoing()) parent \(await c.rooms[room]?.epochParent ?? "-")")
    }
    Issue.record("clients did not settle: \(report.joined(separator: "; "))")
}

@Suite(.enabled(if: homeserver != nil, "MATRIX_HOMESERVER is not set: Matrix scenarios skipped"), .serialized)
struct MailboxScenarioTests {
    @Test("an authority adds a citizen and a clerk; messages flow every way; keys update; the removed clerk cannot read")
    func mailboxLifecycle() async throws {
        let authority = try await connect("authority")
        let citizen = try await connect("citizen")
        let clerk = try await connect("clerk")
        try await citizen.publishKeyPackages(count: 3)
        try await clerk.publishKeyPackages(count: 3)
        let room = try await authority.createMailbox(name: "Bauantrag 2026/17")
        try await authority.add([citizen.session.userID, clerk.session.userID], to: room)
        let everyone = [authority, citizen, clerk]
        try await settle(everyone, room: room)
        for c in everyone { #expect(await c.epoch(of: room) == 1) }

        // Messages in every direction, each received exactly once by each other member.
        for (i, sender) in everyone.enumerated() {
            let text = "message \(i) from \(sender.session.userID)"
            try await sender.send(text, to: room)
            try await settle(everyone, room: room)
            for (j, c) in everyone.enumerated() where j != i {
                let got = await c.takeMessages()
                #expect(got.map { String(decoding: $0.plaintext, as: UTF8.self) } == [text])
                #expect(got.first?.sender == sender.session.userID)
                // The author is the member MLS authenticated, and the homeserver's claim agrees.
                #expect(got.first?.author.identity == Array(sender.session.userID.utf8))
                #expect(got.first?.senderMismatch == false)
            }
        }

        // The clerk proposes an update of its leaf as a standalone proposal; the authority's next
        // commit includes it by reference.
        try await clerk.propose(in: room) { try $0.proposeUpdate() }
        try await settle(everyone, room: room)
        let clerkKeyBefore = await clerk.groups[room]?.group.myLeafNode?.encryptionKey
        #expect(await authority.groups[room]?.group.pendingProposals.count == 1)
        try await authority.updateKeys(in: room)
        try await settle(everyone, room: room)
        #expect(await clerk.epoch(of: room) == 2)
        #expect(await clerk.groups[room]?.group.myLeafNode?.encryptionKey != clerkKeyBefore)
        #expect(await clerk.epochAuthenticator(of: room) == authority.epochAuthenticator(of: room))

        // Each member updates its keys.
        for c in everyone {
            try await c.updateKeys(in: room)
            try await settle(everyone, room: room)
        }
        let auths = await everyone.asyncMap { await $0.epochAuthenticator(of: room) }
        #expect(Set(auths).count == 1 && auths[0] != nil)
        #expect(await authority.epoch(of: room) == 5)

        // The clerk is removed and can no longer read.
        try await authority.remove(clerk.session.userID, from: room)
        try await settle(everyone, room: room)
        #expect(await clerk.epoch(of: room) == nil)
        try await authority.send("nur für die Bürgerin", to: room)
        try await settle([authority, citizen], room: room)
        try await clerk.syncOnce()
        #expect(await citizen.takeMessages().map(\.plaintext) == [Array("nur für die Bürgerin".utf8)])
        #expect(await clerk.takeMessages().isEmpty)
        #expect(await citizen.members(of: room).sorted() == [authority.session.userID, citizen.session.userID].sorted())
    }
}

extension Array where Element: Sendable {
    func asyncMap<T>(_ f: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await f(e)) }
        return out
    }
}

@Suite(.enabled(if: homeserver != nil, "MATRIX_HOMESERVER is not set: Matrix scenarios skipped"), .serialized)
struct ConcurrentCommitTests {
    @Test("two members commit in the same epoch: everyone converges on the winner, and the loser's add lands in a later epoch")
    func competingCommits() async throws {
        let authority = try await connect("authority")
        let citizen = try await connect("citizen")
        let clerk = try await connect("clerk")
        try await citizen.publishKeyPackages(count: 2)
        try await clerk.publishKeyPackages(count: 2)
        let room = try await authority.createMailbox()
        try await authority.add([citizen.session.userID], to: room)
        try await settle([authority, citizen], room: room)
        #expect(await citizen.epoch(of: room) == 1)

        // Both commit on epoch 1 before either sees the other's commit: the citizen updates its
        // keys, the authority adds the clerk. Sending order decides the winner.
        let clerkPackage = try #require(try await authority.claimKeyPackages(of: clerk.session.userID).first)
        try await citizen.commit(room, proposals: [], welcomeTo: [])
        try await authority.commit(room, proposals: [.add(clerkPackage.keyPackage)],
                                   welcomeTo: [(clerk.session.userID, clerkPackage.deviceID)])
        try await citizen.flush()
        try await authority.flush()
        let api = MatrixAPI(baseURL: homeserver!, accessToken: authority.session.accessToken)
        try await api.invite(roomID: room, userID: clerk.session.userID)

        try await settle([authority, citizen, clerk], room: room)
        // Epoch 2 is the citizen's update; the authority's add was re-proposed as epoch 3.
        for c in [authority, citizen, clerk] { #expect(await c.epoch(of: room) == 3) }
        let auths = await [authority, citizen, clerk].asyncMap { await $0.epochAuthenticator(of: room) }
        #expect(Set(auths).count == 1 && auths[0] != nil)
        #expect(await authority.members(of: room).count == 3)
        try await clerk.send("angekommen", to: room)
        try await settle([authority, citizen, clerk], room: room)
        #expect(await authority.takeMessages().map(\.plaintext) == [Array("angekommen".utf8)])
    }
}

/// A homeserver started with Synapse's default rate limits (`Scripts/synapse.sh start --default-limits`).
let limitedHomeserver = ProcessInfo.processInfo.environment["MATRIX_HOMESERVER_DEFAULT_LIMITS"]

@Suite(.enabled(if: limitedHomeserver != nil, "MATRIX_HOMESERVER_DEFAULT_LIMITS is not set: rate-limit scenario skipped"))
struct RateLimitTests {
    @Test("with Synapse's default rate limits, a burst of 20 messages arrives completely and in order")
    func burstOfTwenty() async throws {
        func connectLimited(_ role: String) async throws -> MatrixMLSClient {
            try await MatrixMLSClient.connect(homeserver: limitedHomeserver!, username: uniqueName(role), password: "pw-\(role)-mlskit",
                                              deviceID: role.uppercased(), store: try tempStore(role))
        }
        let authority = try await connectLimited("authority")
        let citizen = try await connectLimited("citizen")
        try await citizen.publishKeyPackages(count: 1)
        let room = try await authority.createMailbox()
        try await authority.add([citizen.session.userID], to: room)
        try await settle([authority, citizen], room: room)
        // Queue all 20 first (each persisted with its ratchet state), then send: the homeserver
        // answers 429 after its burst, and the queue waits as told and resumes in order.
        let texts = (1...20).map { "Nachricht \($0)" }
        for t in texts { try await authority.enqueueMessage(Array(t.utf8), to: room) }
        try await authority.flush()
        var received: [String] = []
        for _ in 0..<60 where received.count < texts.count {
            try await citizen.syncOnce(timeout: 1000)
            received += await citizen.takeMessages().map { String(decoding: $0.plaintext, as: UTF8.self) }
        }
        #expect(received == texts)
    }
}

/// `Scripts/synapse.sh`, for scenarios that kill and restart the homeserver.
let synapseScript = ProcessInfo.processInfo.environment["MATRIX_SYNAPSE_SCRIPT"]

func synapse(_ arguments: [String]) async throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: synapseScript!)
    p.arguments = arguments
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    // Polled rather than `waitUntilExit()`, which would block a thread of the (2-thread)
    // cooperative pool that the client's tasks need meanwhile.
    while p.isRunning { try await Task.sleep(for: .milliseconds(100)) }
    guard p.terminationStatus == 0 else { throw MatrixError.network("synapse.sh \(arguments) failed") }
}

@Suite(.enabled(if: homeserver != nil, "MATRIX_HOMESERVER is not set: Matrix scenarios skipped"), .serialized)
struct DeliveryTests {
    @Test("a Welcome (and commit) too large for one event (a group of 300 members) travel through the media repository")
    func largeWelcomeThroughMedia() async throws {
        let authority = try await connect("authority")
        let citizen = try await connect("citizen")
        try await citizen.publishKeyPackages(count: 1)
        let room = try await authority.createMailbox()
        let claimed = try #require(try await authority.claimKeyPackages(of: citizen.session.userID).first)
        // 299 members without Matrix accounts make the tree (in the Welcome's GroupInfo) large.
        let suite = CipherSuite(id: 1)!
        var proposals: [Proposal] = try (0..<299).map { i in
            let sig = suite.signature.generateKeyPair()
            let kp = try KeyPackageBundle.generate(suite: suite, credential: .basic(identity: Array("offline-\(i)".utf8)),
                                                   signer: try InMemorySigner(scheme: suite.signature, privateKey: sig.privateKey))
            return .add(kp.keyPackage)
        }
        proposals.append(.add(claimed.keyPackage))
        let api = MatrixAPI(baseURL: homeserver!, accessToken: authority.session.accessToken)
        try await api.invite(roomID: room, userID: citizen.session.userID)
        try await authority.commit(room, proposals: proposals, welcomeTo: [(citizen.session.userID, claimed.deviceID)])
        try await authority.flush()
        try await settle([authority, citizen], room: room)
        // The commit (300 KeyPackages by value) and the Welcome are both too large for an event.
        #expect(await authority.mediaUploads == 2)
        #expect(await citizen.epoch(of: room) == 1)
        #expect(await citizen.members(of: room).count == 301)
        #expect(await citizen.epochAuthenticator(of: room) == authority.epochAuthenticator(of: room))
        try await citizen.send("Hallo", to: room)
        try await settle([authority, citizen], room: room)
        #expect(await authority.takeMessages().map(\.plaintext) == [Array("Hallo".utf8)])
    }

    @Test("a gap larger than the sync timeline (a `limited` timeline) is filled from /messages: all 130 messages, in order, once")
    func limitedTimelineBackfill() async throws {
        let authority = try await connect("authority")
        let citizen = try await connect("citizen")
        try await citizen.publishKeyPackages(count: 1)
        let room = try await authority.createMailbox()
        try await authority.add([citizen.session.userID], to: room)
        try await settle([authority, citizen], room: room)
        // More events than the filter's timeline limit (100) while the citizen is not syncing.
        let texts = (1...130).map { "Akte \($0)" }
        for t in texts { try await authority.enqueueMessage(Array(t.utf8), to: room) }
        try await authority.flush()
        var received: [String] = []
        for _ in 0..<5 where received.count < texts.count {
            try await citizen.syncOnce(timeout: 500)
            received += await citizen.takeMessages().map { String(decoding: $0.plaintext, as: UTF8.self) }
        }
        #expect(received == texts)
        #expect(await citizen.backfilledEvents >= 30)
    }

    @Test("one-time KeyPackages are replenished from the counts /sync reports")
    func keyPackagesReplenished() async throws {
        let authority = try await connect("authority")
        let citizen = try await connect("citizen")
        let citizenAPI = MatrixAPI(baseURL: homeserver!, accessToken: citizen.session.accessToken)
        let algorithm = "\(MatrixMLSClient.namespace).key_package.1"
        try await citizen.publishKeyPackages(count: 1)
        #expect(try await citizenAPI.uploadKeys([:])[algorithm] == 1)
        #expect(try await authority.claimKeyPackages(of: citizen.session.userID).count == 1)
        #expect(try await citizenAPI.uploadKeys([:])[algorithm] ?? 0 == 0)
        try await citizen.syncOnce()
        #expect(try await citizenAPI.uploadKeys([:])[algorithm] == 5)
    }

    @Test("a client killed before or during a send and restarted delivers every message exactly once")
    func clientRestart() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mlskit-restart-\(UUID().uuidString).sqlite").path
        let key = SecretBytes(randomCount: 32)
        func authorityStore() throws -> GroupStore { try GroupStore(backend: try SQLiteStorage(path: path), encryptionKey: key) }
        var authority = try await MatrixMLSClient.connect(homeserver: homeserver!, username: uniqueName("authority"), password: "pw-restart",
                                                          deviceID: "AUTHORITY", store: try authorityStore())
        let citizen = try await connect("citizen")
        try await citizen.publishKeyPackages(count: 1)
        let room = try await authority.createMailbox()
        try await authority.add([citizen.session.userID], to: room)
        try await settle([authority, citizen], room: room)

        // Killed after the message was encrypted and queued, before anything was sent.
        try await authority.enqueueMessage(Array("eins".utf8), to: room)
        authority = try #require(try await MatrixMLSClient.restore(homeserver: homeserver!, store: try authorityStore()))
        #expect(try await authority.pendingOutgoing() == 1)
        // Killed after the homeserver accepted the event, before the queue entry was deleted:
        // the restarted client sends it again with the same transaction ID.
        try await authority.enqueueMessage(Array("zwei".utf8), to: room)
        let queued = try await authority.store.values(namespace: MatrixMLSClient.outboxNS)
        for (_, value) in queued {
            let item = try OutboxItem(decoding: value)
            _ = try await MatrixAPI(baseURL: homeserver!, accessToken: authority.session.accessToken)
                .send(roomID: item.roomID, type: item.type, transactionID: item.transactionID, content: item.content)
        }
        authority = try #require(try await MatrixMLSClient.restore(homeserver: homeserver!, store: try authorityStore()))
        try await authority.flush()
        try await settle([authority, citizen], room: room)
        #expect(await citizen.takeMessages().map { String(decoding: $0.plaintext, as: UTF8.self) } == ["eins", "zwei"])
    }

    @Test("Synapse killed and restarted mid-conversation: every message arrives exactly once, members converge",
          .enabled(if: synapseScript != nil, "MATRIX_SYNAPSE_SCRIPT is not set: homeserver restart skipped"))
    func homeserverRestart() async throws {
        let authority = try await connect("authority")
        let citizen = try await connect("citizen")
        try await citizen.publishKeyPackages(count: 2)
        let room = try await authority.createMailbox()
        try await authority.add([citizen.session.userID], to: room)
        try await settle([authority, citizen], room: room)
        for i in 1...3 { try await authority.enqueueMessage(Array("vorher \(i)".utf8), to: room) }
        try await authority.flush()
        try await synapse(["kill"])
        // Queued while the homeserver is down; the flush retries until it is back.
        for i in 1...3 { try await authority.enqueueMessage(Array("nachher \(i)".utf8), to: room) }
        let sending = Task { try await authority.flush() }
        try await Task.sleep(for: .seconds(2))
        let port = URL(string: homeserver!)?.port ?? 8008
        try await synapse(["start", "--keep-data", "--port", String(port)])
        try await sending.value
        try await authority.updateKeys(in: room)
        try await settle([authority, citizen], room: room)
        let got = await citizen.takeMessages().map { String(decoding: $0.plaintext, as: UTF8.self) }
        #expect(got == (1...3).map { "vorher \($0)" } + (1...3).map { "nachher \($0)" })
        #expect(await citizen.epochAuthenticator(of: room) == authority.epochAuthenticator(of: room))
        #expect(await citizen.epoch(of: room) == 2)
    }
}
