import Dispatch
import Foundation
import FuzzSupport
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
@_spi(Engine) @_spi(Fuzzing) import MLSMatrix
@_spi(Engine) import MLSStore

let suite = fuzzSuite
let citizenID = "@citizen:fuzz"
let authorityID = "@authority:fuzz"
let thirdID = "@third:fuzz"
/// R1 and R2 are joined (epoch 2); R3 is the room the pending Welcomes are for.
let roomIDs = ["!one:fuzz", "!two:fuzz", "!three:fuzz"]
let elsewhereID = "!elsewhere:fuzz"
let commitType = MatrixMLSClient.namespace + ".commit"
let proposalType = MatrixMLSClient.namespace + ".proposal"
let welcomeType = MatrixMLSClient.namespace + ".welcome"
let applicationType = "m.room.encrypted"
let algorithm = "\(MatrixMLSClient.namespace).\(suite.id)"

/// One room as the client holds it, with the other member's state in the same epoch.
struct RoomFixture: Sendable {
    let id: String
    /// The authority (the other member) in the epoch the client is in; for R3, the epoch its
    /// Welcome joins.
    let authority: MLSGroup
    /// The event ID that started that epoch (the client's `epochParent`).
    let parent: String
    let clientLeaf: LeafIndex
    /// An application message of the epoch before, never delivered, and its plaintext.
    let oldMessage: [UInt8]?
    let oldPlaintext: [UInt8]
}

struct Fixture: Sendable {
    /// The client after the set-up below; every input starts from it.
    let snapshot: MatrixClientSnapshot
    let rooms: [RoomFixture]
    /// The client's own commit in R2 (adding @third), sent but not yet confirmed by `/sync`.
    let ownCommit: [UInt8]
    let ownTransaction: String
    /// Welcomes: R3 (one-time KeyPackage), R3 from another group (last-resort KeyPackage), a
    /// group that is not the room it will be named for, one for another device, R1's again.
    let welcomes: [[UInt8]]
    let third: KeyPackage
}

func b64(_ bytes: [UInt8]) -> String {
    var s = Data(bytes).base64EncodedString()
    while s.hasSuffix("=") { s.removeLast() }
    return s
}

func unb64(_ text: String) -> [UInt8]? {
    var s = text
    while s.count % 4 != 0 { s += "=" }
    return Data(base64Encoded: s).map { [UInt8]($0) }
}

func sha256Hex(_ bytes: [UInt8]) -> String { Hex.encode(suite.digest(bytes)) }

/// Holds a value across the hop from a task back to the blocked fuzzer thread.
final class Box<T>: @unchecked Sendable {
    var value: T?
}

/// Runs `body` to completion on the concurrency pool while the calling (libFuzzer) thread waits:
/// the client is an actor, the fuzzer callback is synchronous.
func blocking<T>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = Box<T>()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        box.value = await body()
        done.signal()
    }
    done.wait()
    return box.value!
}

func roomEvent(id: String, type: String, sender: String, bytes: [UInt8], epoch: UInt64?, parent: String?, transaction: String? = nil) -> J {
    var content: [(String, J)] = [("algorithm", .string(algorithm)), ("ciphertext", .string(b64(bytes)))]
    if let epoch { content.append(("epoch", .uint(epoch))) }
    if let parent { content.append(("parent", .string(parent))) }
    var event: [(String, J)] = [("event_id", .string(id)), ("type", .string(type)), ("sender", .string(sender)),
                                ("origin_server_ts", .int(1_700_000_000_000)), ("content", .object(content))]
    if let transaction { event.append(("unsigned", .object([("transaction_id", .string(transaction))]))) }
    return .object(event)
}

func welcomeEvent(room: String, welcome: [UInt8], commitEvent: String) -> J {
    .object([("type", .string(welcomeType)), ("sender", .string(authorityID)), ("content", .object([
        ("algorithm", .string(algorithm)), ("room_id", .string(room)), ("commit_transaction", .string("txn-\(room)")),
        ("commit_event", .string(commitEvent)), ("welcome", .string(b64(welcome))),
    ]))])
}

func syncBody(next: String, toDevice: [J] = [], rooms: [(String, [J])] = []) -> [UInt8] {
    let join = rooms.map { ($0.0, J.object([("timeline", .object([("events", .array($0.1)), ("limited", .bool(false))]))])) }
    return J.object([("next_batch", .string(next)), ("to_device", .object([("events", .array(toDevice))])),
                     ("rooms", .object([("join", .object(join))]))]).bytes
}

/// One set-up `/sync` round, which must apply without a single failure.
func setupSync(_ client: MatrixMLSClient, _ body: [UInt8], _ what: String) async {
    script.withLock { $0.sync = body }
    guard case .success? = await client.fuzzSync() else { fatalError("fixture: \(what): the sync failed") }
    let failures = await client.takeFailures()
    guard failures.isEmpty else { fatalError("fixture: \(what): \(failures)") }
}

func object(_ bytes: [UInt8]) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
}

/// Builds the client through its own handlers and public API, answered by the in-process
/// homeserver: KeyPackages published, R1 and R2 joined by Welcome and moved on by one commit of
/// the authority, then a commit of its own in R2 (adding @third) sent and left unconfirmed.
func makeFixture() async throws -> Fixture {
    let store = try GroupStore(backend: InMemoryStorage())
    let client = try MatrixMLSClient.fuzzClient(session: MatrixSession(userID: citizenID, deviceID: "CITIZEN", accessToken: "token"), suite: suite,
                                                signer: InMemorySigner.generate(suite.signature), store: store, homeserver: homeserver)
    // No back-off (an input must not sleep), two attempts (the retry path is reached), small
    // media limits (so that the per-media cap and the per-round budget are reachable).
    let fast = RetryPolicy(initial: .zero, maximum: .zero, maxAttempts: 2)
    await client.setRetryPolicy(fast)
    await client.setMediaLimits(MediaLimits(maxBytesPerMedia: 4096, maxBytesPerSync: 16384, retry: fast, timeout: .seconds(5)))

    script.withLock { $0 = Script() }
    try await client.publishKeyPackages(count: 4, lastResort: true)
    let upload = script.withLock { $0.log.last { $0.target.hasSuffix("/keys/upload") } }
    let uploaded = object(upload?.body ?? [])
    func keyPackages(_ field: String) -> [KeyPackage] {
        ((uploaded[field] as? [String: String]) ?? [:]).sorted { $0.key < $1.key }.compactMap { unb64($0.value).flatMap { try? KeyPackage(tlsSerialized: $0) } }
    }
    let oneTime = keyPackages("one_time_keys")
    guard oneTime.count == 4, let lastResort = keyPackages("fallback_keys").first else { fatalError("fixture: KeyPackages not uploaded") }

    let authority = MLSClient.basic(identity: Array(authorityID.utf8), suite: suite)
    func group(_ id: String, adding keyPackage: KeyPackage) throws -> (MLSGroup, [UInt8]) {
        var g = try authority.createGroup(groupID: Array(id.utf8))
        let out = try g.commit(CommitOptions(proposals: [.add(keyPackage)]))
        try g.merge(out.pending)
        guard let welcome = out.welcome else { fatalError("fixture: no Welcome") }
        return (g, welcome.tlsSerialized)
    }
    func leaf(of user: String, in g: MLSGroup) -> LeafIndex {
        guard let l = g.members.first(where: { g.tree.leaf($0)?.credential == .basic(identity: Array(user.utf8)) }) else { fatalError("fixture: \(user) not in the group") }
        return l
    }

    var rooms: [RoomFixture] = []
    var firstWelcome: [UInt8] = []
    for (i, room) in roomIDs.prefix(2).enumerated() {
        var (a, welcome) = try group(room, adding: oneTime[i])
        if i == 0 { firstWelcome = welcome }
        script.withLock { $0.join = .ok(["room_id": room]) }
        await setupSync(client, syncBody(next: "setup-\(i)-a", toDevice: [welcomeEvent(room: room, welcome: welcome, commitEvent: "$\(room)-add")]), "join \(room)")
        guard await client.epoch(of: room) == 1 else { fatalError("fixture: \(room) not joined") }
        let oldPlaintext = Array("old \(room)".utf8)
        let old = try a.encrypt(oldPlaintext)
        let commit = try a.commit(CommitOptions())
        try a.merge(commit.pending)
        await setupSync(client, syncBody(next: "setup-\(i)-b", rooms: [(room, [
            roomEvent(id: "$\(room)-c1", type: commitType, sender: authorityID, bytes: commit.commit.tlsSerialized, epoch: 1, parent: "$\(room)-add"),
        ])]), "commit in \(room)")
        guard await client.epochAuthenticator(of: room) == a.epochAuthenticator else { fatalError("fixture: \(room) did not follow the commit") }
        rooms.append(RoomFixture(id: room, authority: a, parent: "$\(room)-c1", clientLeaf: leaf(of: citizenID, in: a),
                                 oldMessage: old.tlsSerialized, oldPlaintext: oldPlaintext))
    }

    // The client's own commit in R2, through the public `add`: KeyPackage claimed, user invited,
    // commit sent (and captured here); the Welcome is held until the commit comes back.
    let third = try MLSClient.basic(identity: Array(thirdID.utf8), suite: suite).makeKeyPackage().keyPackage
    script.withLock {
        $0.keysQuery = .ok(["device_keys": [thirdID: ["THIRD": [String: Any]()]]])
        $0.keysClaim = .ok(["one_time_keys": [thirdID: ["THIRD": ["kp:1": b64(third.tlsSerialized)]]]])
        $0.other = .ok([:])
    }
    try await client.add([thirdID], to: roomIDs[1])
    guard let sent = script.withLock({ $0.log.last { $0.target.contains("/send/") } }),
          let ciphertext = object(sent.body)["ciphertext"] as? String, let ownCommit = unb64(ciphertext),
          let transaction = sent.target.split(separator: "/").last.map(String.init),
          await client.hasPendingCommit(in: roomIDs[1]) else { fatalError("fixture: own commit not sent") }

    // R3: not joined; its Welcome is delivered (or not) by the inputs.
    let (a3, welcome3) = try group(roomIDs[2], adding: oneTime[2])
    let (_, welcome3b) = try group(roomIDs[2], adding: lastResort)
    let (_, welcomeElsewhere) = try group(elsewhereID, adding: oneTime[3])
    let (_, welcomeOther) = try group("!third-only:fuzz", adding: third)
    rooms.append(RoomFixture(id: roomIDs[2], authority: a3, parent: "$\(roomIDs[2])-add", clientLeaf: leaf(of: citizenID, in: a3),
                             oldMessage: nil, oldPlaintext: []))

    script.withLock { $0 = Script() }
    _ = await client.takeMessages()
    return Fixture(snapshot: try await client.fuzzSnapshot(), rooms: rooms, ownCommit: ownCommit, ownTransaction: transaction,
                   welcomes: [welcome3, welcome3b, welcomeElsewhere, welcomeOther, firstWelcome], third: third)
}

let fx: Fixture = blocking {
    do { return try await makeFixture() } catch { fatalError("fixture: \(error)") }
}
