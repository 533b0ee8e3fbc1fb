import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
@_spi(Engine) import MLSStore
import Testing
@_spi(Engine) @testable import MLSMatrix

/// A homeserver-free setup: a client (the citizen) and, beside it, the authority's group state
/// driven directly through MLS, so tests can craft exactly the events a hostile homeserver sends.
struct Fixture {
    static let suite = CipherSuite(id: 1)!
    let client: MatrixMLSClient
    let store: GroupStore
    let keys: InMemorySigner
    static let citizenID = "@citizen:localhost"
    static let authorityID = "@authority:localhost"

    init(server: String = "http://127.0.0.1:9") throws {
        store = try GroupStore(backend: InMemoryStorage())
        keys = InMemorySigner.generate(Self.suite.signature)
        client = try MatrixMLSClient(api: MatrixAPI(baseURL: server), session: MatrixSession(userID: Self.citizenID, deviceID: "CITIZEN", accessToken: "t"),
                                 store: store, suite: Self.suite, signer: keys)
    }

    /// A KeyPackage of the citizen whose private keys are in the citizen's store.
    func storedKeyPackage() throws -> KeyPackageBundle {
        let bundle = try KeyPackageBundle.generate(suite: Self.suite, credential: .basic(identity: Array(Self.citizenID.utf8)),
                                                   signer: keys)
        var batch = StorageBatch()
        batch.putKeyPackages.append(try store.keyPackageWrite(bundle))
        try store.backend.write(batch)
        return bundle
    }

    /// The authority's group for `room` with the citizen added, and the Welcome for the citizen.
    static func authorityGroup(room: String, adding keyPackage: KeyPackage) throws -> (group: MLSGroup, welcome: MLSMessage) {
        let sig = suite.signature.generateKeyPair()
        let bundle = try KeyPackageBundle.generate(suite: suite, credential: .basic(identity: Array(authorityID.utf8)),
                                                   signer: try InMemorySigner(scheme: suite.signature, privateKey: sig.privateKey))
        var group = try MLSGroup.create(suite: suite, groupID: Array(room.utf8), creator: bundle)
        let out = try group.commit(CommitOptions(proposals: [.add(keyPackage)]))
        _ = try group.process(out.commit, pending: out.pending)
        return (group, try #require(out.welcome))
    }

    /// A room the citizen is in together with the authority; returns the authority's group.
    func joinedRoom(_ room: String) async throws -> MLSGroup {
        let bundle = try storedKeyPackage()
        let (authority, welcome) = try Self.authorityGroup(room: room, adding: bundle.keyPackage)
        let mine = try MLSGroup.join(welcome: welcome, keyPackage: bundle)
        await client.install(room: room, group: try store.create(mine))
        return authority
    }
}

func syncResponse(next: String, toDevice: [Any] = [], rooms: [String: [Any]] = [:]) -> JSONDocument {
    var join: JSONObject = [:]
    for (room, events) in rooms { join[room] = ["timeline": ["events": events, "limited": false]] }
    return JSONDocument(object: ["next_batch": next, "to_device": ["events": toDevice], "rooms": ["join": join]])
}

func applicationEvent(_ id: String, sender: String, _ message: MLSMessage) -> JSONObject {
    ["event_id": id, "type": MatrixMLSClient.applicationType, "sender": sender,
     "content": ["algorithm": "x", "ciphertext": Base64.encode(message.tlsSerialized)]]
}

@Suite struct HostileSyncTests {
    @Test("a failing event is recorded with its reason and skipped; the rest of the batch applies and next_batch advances")
    func failuresAreRecordedAndSyncAdvances() async throws {
        let f = try Fixture()
        let room = "!mailbox:localhost"
        var authority = try await f.joinedRoom(room)
        let hello = try authority.encrypt(Array("hallo".utf8))
        let timeline: [Any] = [
            "not an object",
            ["type": MatrixMLSClient.applicationType, "content": ["ciphertext": "AAAA"]],  // no event_id
            ["event_id": "$bad", "type": MatrixMLSClient.applicationType, "content": ["ciphertext": "AAAA"]],
            ["event_id": "$nocontent", "type": MatrixMLSClient.commitType, "content": 5],
            ["event_id": "$epoch", "type": MatrixMLSClient.commitType, "content": ["epoch": -1, "ciphertext": "AAAA"]],
            applicationEvent("$ok", sender: Fixture.authorityID, hello),
        ]
        let toDevice: [Any] = [17, ["type": MatrixMLSClient.welcomeType, "content": [String: Any]()],
                               ["type": MatrixMLSClient.welcomeType, "content": ["room_id": room, "welcome": "@@@"]]]
        let got = try await f.client.apply(syncResponse: syncResponse(next: "s1", toDevice: toDevice, rooms: [room: timeline]))
        #expect(got.map(\.plaintext) == [Array("hallo".utf8)])
        #expect(await f.client.nextBatch == "s1")
        #expect(try f.store.value(namespace: MatrixMLSClient.accountNS, key: Array("next_batch".utf8)) == Array("s1".utf8))
        let failures = await f.client.takeFailures()
        #expect(failures.count == 8)
        #expect(failures.allSatisfy { if case .malformed = $0.reason { true } else { false } })
        #expect(failures.first { $0.eventID == "$bad" }?.roomID == room)

        // The same batch again (a replay after a crash): the recorded events are seen, nothing
        // repeats, and the token still advances.
        let again = try await f.client.apply(syncResponse: syncResponse(next: "s2", rooms: [room: timeline]))
        #expect(again.isEmpty)
        #expect(await f.client.nextBatch == "s2")
        #expect(await f.client.takeFailures().count == 2)  // only the two without an event ID
    }

    @Test("a message's author is the MLS-authenticated member; a different Matrix sender is flagged, never taken as author")
    func authorComesFromMLS() async throws {
        let f = try Fixture()
        let room = "!mailbox:localhost"
        var authority = try await f.joinedRoom(room)
        let one = try authority.encrypt(Array("eins".utf8))
        let two = try authority.encrypt(Array("zwei".utf8))
        let got = try await f.client.apply(syncResponse: syncResponse(next: "s1", rooms: [room: [
            applicationEvent("$1", sender: Fixture.authorityID, one),
            applicationEvent("$2", sender: "@mallory:localhost", two),
        ]]))
        #expect(got.count == 2)
        for m in got {
            #expect(m.author.identity == Array(Fixture.authorityID.utf8))
            #expect(m.author.leaf == authority.myLeaf)
            #expect(m.expectedSender == Fixture.authorityID)
        }
        #expect(got[0].sender == Fixture.authorityID && !got[0].senderMismatch)
        #expect(got[1].sender == "@mallory:localhost" && got[1].senderMismatch)

        // An application mapping that knows no Matrix user for the author: unconfirmed, flagged.
        await f.client.setMatrixUserMapping { _ in nil }
        let three = try authority.encrypt(Array("drei".utf8))
        let more = try await f.client.apply(syncResponse: syncResponse(next: "s2", rooms: [room: [applicationEvent("$3", sender: Fixture.authorityID, three)]]))
        #expect(more.first?.senderMismatch == true)
    }

    @Test("a Welcome is opened and verified, then offered to the policy, and only then is the room joined")
    func welcomeValidatedBeforeJoin() async throws {
        let server = try FakeHomeserver { method, path in
            path.hasPrefix("/_matrix/client/v3/join/") ? .json(["room_id": "joined"]) : .json(["errcode": "M_UNRECOGNIZED"], status: 404)
        }
        defer { server.stop() }
        let f = try Fixture(server: server.url)
        await f.client.setRetryPolicy(RetryPolicy(initial: .milliseconds(1), maximum: .milliseconds(5), maxAttempts: 2))
        let room = "!mailbox:localhost"
        let bundle = try f.storedKeyPackage()
        let (_, welcome) = try Fixture.authorityGroup(room: room, adding: bundle.keyPackage)
        let foreign = try KeyPackageBundle.generate(suite: Fixture.suite, credential: .basic(identity: Array("@other:localhost".utf8)),
                                                    signer: f.keys)
        let (_, notOurs) = try Fixture.authorityGroup(room: room, adding: foreign.keyPackage)
        func event(_ w: MLSMessage, room: String) -> JSONObject {
            ["type": MatrixMLSClient.welcomeType, "sender": Fixture.authorityID,
             "content": ["room_id": room, "welcome": Base64.encode(w.tlsSerialized)]]
        }
        let seenOrigins = OriginLog()
        await f.client.setWelcomePolicy { origin in
            seenOrigins.append(origin)
            return false
        }
        _ = try await f.client.apply(syncResponse: syncResponse(next: "s1", toDevice: [
            event(welcome, room: "!elsewhere:localhost"),  // valid, but names another room
            event(notOurs, room: room),
            event(welcome, room: room),  // valid; refused by the policy
        ]))
        #expect(await f.client.takeFailures().map(\.reason) == [.welcomeRoomMismatch, .welcomeNotForThisDevice, .welcomeRefused])
        #expect(server.requests.isEmpty)
        #expect(await f.client.welcomeJoinAttempts == 0)
        #expect(await f.client.epoch(of: room) == nil)
        let origin = try #require(seenOrigins.all.first)
        #expect(origin.matrixSender == Fixture.authorityID && origin.roomID == room && origin.epoch == 1)
        #expect(origin.signerIdentity == Array(Fixture.authorityID.utf8))
        // The refused Welcome's one-time KeyPackage is gone.
        #expect(try f.store.keyPackage(ref: bundle.keyPackage.ref(suite: Fixture.suite)) == nil)

        // Accepted: the room is joined and the group stored.
        await f.client.setWelcomePolicy { $0.signerIdentity == Array(Fixture.authorityID.utf8) }
        let second = try f.storedKeyPackage()
        let room2 = "!second:localhost"
        let (_, welcome2) = try Fixture.authorityGroup(room: room2, adding: second.keyPackage)
        _ = try await f.client.apply(syncResponse: syncResponse(next: "s2", toDevice: [event(welcome2, room: room2)]))
        #expect(await f.client.takeFailures().isEmpty)
        #expect(server.requests == ["POST /_matrix/client/v3/join/\(MatrixHTTP.segment(room2))"])
        #expect(await f.client.epoch(of: room2) == 1)
    }

    @Test("media: capped while reading, a per-sync budget, bounded attempts, and no download for events that do not need it",
          .timeLimit(.minutes(2)))
    func mediaIsBounded() async throws {
        let payload = [UInt8](repeating: 7, count: 1 << 20)
        let server = try FakeHomeserver { _, path in
            switch path {
            case "/_matrix/client/v1/media/download/fake/endless": FakeHomeserver.Response(status: 200, endless: 512 << 20)
            case "/_matrix/client/v1/media/download/fake/declared":
                FakeHomeserver.Response(status: 200, headers: [("Content-Length", String(100 << 20))])
            case "/_matrix/client/v1/media/download/fake/flaky": .json(["errcode": "M_UNKNOWN"], status: 502)
            case "/_matrix/client/v1/media/download/fake/one-mib": FakeHomeserver.Response(status: 200, body: payload)
            default: .json(["errcode": "M_NOT_FOUND"], status: 404)
            }
        }
        defer { server.stop() }
        let f = try Fixture(server: server.url)
        let room = "!mailbox:localhost"
        _ = try await f.joinedRoom(room)
        let retry = RetryPolicy(initial: .milliseconds(1), maximum: .milliseconds(5), maxAttempts: 3)
        await f.client.setMediaLimits(MediaLimits(maxBytesPerMedia: 1 << 20, maxBytesPerSync: 64 << 20, retry: retry))
        func event(_ id: String, _ media: String, type: String = MatrixMLSClient.applicationType, epoch: Int? = nil) -> JSONObject {
            var content: JSONObject = ["ciphertext_url": "mxc://fake/\(media)", "ciphertext_sha256": Hex.encode(Fixture.suite.digest(payload))]
            if let epoch { content["epoch"] = epoch }
            return ["event_id": id, "type": type, "sender": Fixture.authorityID, "content": content]
        }
        _ = try await f.client.apply(syncResponse: syncResponse(next: "s1", rooms: [room: [
            event("$other-type", "never", type: "m.room.message"),
            event("$stale-commit", "never", type: MatrixMLSClient.commitType, epoch: 7),
            event("$endless", "endless"),
            event("$declared", "declared"),
            event("$flaky", "flaky"),
        ]]))
        let failures = await f.client.takeFailures()
        #expect(failures.map(\.eventID) == ["$endless", "$declared", "$flaky"])
        #expect(failures.map(\.reason) == [.mediaTooLarge(limit: 1 << 20), .mediaTooLarge(limit: 1 << 20), failures[2].reason])
        if case .mediaUnavailable = failures[2].reason {} else { Issue.record("flaky media: \(failures[2].reason)") }
        #expect(server.requests.filter { $0.hasSuffix("/never") }.isEmpty)
        #expect(server.requests.filter { $0.hasSuffix("/flaky") }.count == 3)
        // The endless body was abandoned near the cap, not read to its 512 MiB.
        #expect(server.streamedBytes < 64 << 20)
        #expect(await f.client.nextBatch == "s1")

        // Budget of 1.5 MiB per round: the first MiB is read (and is no MLS message), the second
        // exceeds what is left, the third is not even requested.
        await f.client.setMediaLimits(MediaLimits(maxBytesPerMedia: 1 << 20, maxBytesPerSync: 3 << 19, retry: retry))
        _ = try await f.client.apply(syncResponse: syncResponse(next: "s2", rooms: [room: [
            event("$a", "one-mib"), event("$b", "one-mib"), event("$c", "one-mib"),
        ]]))
        let budget = await f.client.takeFailures()
        #expect(budget.map(\.reason) == [.malformed("ciphertext is not an MLSMessage"), .mediaBudgetExhausted, .mediaBudgetExhausted])
        #expect(server.requests.filter { $0.hasSuffix("/one-mib") }.count == 2)
        // The next round has a fresh budget.
        _ = try await f.client.apply(syncResponse: syncResponse(next: "s3", rooms: [room: [event("$d", "one-mib")]]))
        #expect(await f.client.takeFailures().map(\.reason) == [.malformed("ciphertext is not an MLSMessage")])
    }

    // A hint of 10^16 s that was not clamped would hang the test: the time limit turns that into
    // a failure (a hang guard on a shared machine, not a performance assertion).
    @Test("Retry-After and retry_after_ms never trap and are clamped to the policy's maximum", .timeLimit(.minutes(2)))
    func backOffIsClamped() async throws {
        #expect(MatrixHTTP.retryAfterMilliseconds(body: nil, header: "10000000000000000") == Int.max)
        #expect(MatrixHTTP.retryAfterMilliseconds(body: nil, header: String(Int.max)) == Int.max)
        #expect(MatrixHTTP.retryAfterMilliseconds(body: nil, header: "-3") == 0)
        #expect(MatrixHTTP.retryAfterMilliseconds(body: nil, header: "soon") == nil)
        #expect(MatrixHTTP.retryAfterMilliseconds(body: nil, header: "2") == 2000)
        #expect(MatrixHTTP.retryAfterMilliseconds(body: ["retry_after_ms": Int.max], header: nil) == Int.max)
        #expect(MatrixHTTP.retryAfterMilliseconds(body: ["retry_after_ms": -9], header: "5") == 0)
        let policy = RetryPolicy(initial: .milliseconds(10), maximum: .milliseconds(50))
        func limited(_ ms: Int?) -> MatrixError { .server(status: 429, errcode: "M_LIMIT_EXCEEDED", message: nil, retryAfterMilliseconds: ms) }
        #expect(policy.wait(after: limited(Int.max), backoff: .milliseconds(10)) == .milliseconds(50))
        #expect(policy.wait(after: limited(20), backoff: .milliseconds(10)) == .milliseconds(20))
        #expect(policy.wait(after: limited(0), backoff: .milliseconds(10)) == .milliseconds(10))
        #expect(policy.wait(after: limited(nil), backoff: .milliseconds(40)) == .milliseconds(40))
        #expect(policy.wait(after: .network("x"), backoff: .seconds(9)) == .milliseconds(50))

        // Through a real answer: a 429 asking for 10^16 seconds costs the policy's maximum.
        let server = try FakeHomeserver { _, _ in
            FakeHomeserver.Response(status: 429, headers: [("Retry-After", "10000000000000000")], body: Array(#"{"errcode":"M_LIMIT_EXCEEDED"}"#.utf8))
        }
        defer { server.stop() }
        let api = MatrixAPI(baseURL: server.url)
        await #expect(throws: MatrixError.self) {
            _ = try await RetryPolicy(initial: .milliseconds(10), maximum: .milliseconds(50), maxAttempts: 2).run { try await api.downloadMedia("mxc://fake/x") }
        }
        #expect(server.requests.count == 2)
    }

    @Test("an MLS message applies only under its own event type (found by FuzzMatrix)")
    func contentTypeMustMatchEventType() async throws {
        let f = try Fixture()
        let room = "!mailbox:localhost"
        var authority = try await f.joinedRoom(room)
        let before = await f.client.epochAuthenticator(of: room)
        let citizen = try #require(authority.members.first { authority.tree.leaf($0)?.credential == .basic(identity: Array(Fixture.citizenID.utf8)) })
        var committer = authority
        let removal = try committer.commit(CommitOptions(proposals: [.remove(citizen)])).commit
        let hello = try authority.encrypt(Array("hallo".utf8))
        let proposal = try authority.proposeUpdate()
        func event(_ id: String, _ type: String, _ m: MLSMessage) -> JSONObject {
            ["event_id": id, "type": type, "sender": Fixture.authorityID, "content": ["ciphertext": Base64.encode(m.tlsSerialized), "epoch": 1, "parent": ""]]
        }
        // A commit under another type used to be processed all the same: outside the commit
        // order, and (removing us) leaving a stored group that no longer loaded. Anything else
        // under the commit type used to become the epoch's commit.
        let got = try await f.client.apply(syncResponse: syncResponse(next: "s1", rooms: [room: [
            event("$removal-as-proposal", MatrixMLSClient.proposalType, removal),
            event("$removal-as-message", MatrixMLSClient.applicationType, removal),
            event("$message-as-commit", MatrixMLSClient.commitType, hello),
            event("$proposal-as-commit", MatrixMLSClient.commitType, proposal),
        ]]))
        #expect(got.isEmpty)
        let failures = await f.client.takeFailures()
        #expect(failures.map(\.eventID) == ["$removal-as-proposal", "$removal-as-message", "$message-as-commit", "$proposal-as-commit"])
        #expect(failures.allSatisfy { if case .malformed = $0.reason { true } else { false } })
        #expect(await f.client.epochAuthenticator(of: room) == before)
        #expect(await f.client.rooms[room]?.epochParent == "")
        // The stored group still loads, unchanged (the removal used to leave one that did not).
        #expect(try f.store.loadGroup(Array(room.utf8), configuration: GroupConfiguration())?.epochAuthenticator == before)

        // Under their own types they apply: the message's key was not used up, and the removal removes.
        let applied = try await f.client.apply(syncResponse: syncResponse(next: "s2", rooms: [room: [
            applicationEvent("$message", sender: Fixture.authorityID, hello),
            event("$removal", MatrixMLSClient.commitType, removal),
        ]]))
        #expect(applied.map(\.plaintext) == [Array("hallo".utf8)])
        #expect(await f.client.takeFailures().isEmpty)
        #expect(await f.client.epoch(of: room) == nil)
        #expect(await f.client.rooms[room]?.removed == true)
        #expect(try f.store.loadGroup(Array(room.utf8), configuration: GroupConfiguration()) == nil)
    }

    @Test("values from a Welcome or the store that do not fit are typed errors, not traps")
    func noIntegerTraps() async throws {
        #expect(throws: MatrixClientError.epochOutOfRange(UInt64.max)) { try MatrixMLSClient.eventEpoch(UInt64.max) }
        #expect(try MatrixMLSClient.eventEpoch(5) == 5)

        // A queue key at UInt64.max: restoring refuses instead of overflowing.
        let f = try Fixture()
        try f.store.putValue(namespace: MatrixMLSClient.outboxNS, key: UInt64.max.tlsSerialized, value: [])
        await #expect(throws: MatrixClientError.self) { try await f.client.loadState() }

        // A queue at UInt64.max - 1: one more entry fits, the next is refused.
        let g = try Fixture()
        let room = "!mailbox:localhost"
        _ = try await g.joinedRoom(room)
        try g.store.putValue(namespace: MatrixMLSClient.outboxNS, key: (UInt64.max - 1).tlsSerialized, value: [])
        try await g.client.loadState()
        await #expect(throws: MatrixClientError.corruptState("outgoing queue sequence exhausted")) {
            try await g.client.enqueueMessage([1], to: room)
        }

        // Stored room state whose recipients are not [user, device] pairs.
        let h = try Fixture()
        let bad = #"{"epochParent":"","pendingIntent":[],"pendingRecipients":[["only-a-user"]],"removed":false}"#
        try h.store.putValue(namespace: MatrixMLSClient.roomNS, key: Array("!r".utf8), value: Array(bad.utf8))
        await #expect(throws: MatrixClientError.self) { try await h.client.loadState() }
        let good = #"{"epochParent":"","pendingIntent":[],"pendingRecipients":[["@u:x","DEV"]],"removed":false}"#
        let state = try JSONDecoder().decode(MatrixMLSClient.RoomState.self, from: Data(good.utf8))
        #expect(state.pendingRecipients == [MatrixMLSClient.Recipient(user: "@u:x", device: "DEV")])
    }
}

/// Collects what a `@Sendable` policy saw.
final class OriginLog: @unchecked Sendable {
    private let lock = NSLock()
    private var origins: [WelcomeOrigin] = []
    func append(_ o: WelcomeOrigin) { lock.withLock { origins.append(o) } }
    var all: [WelcomeOrigin] { lock.withLock { origins } }
}
