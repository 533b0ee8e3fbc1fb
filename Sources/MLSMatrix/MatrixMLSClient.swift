import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
@_spi(Engine) import MLSStore

/// An application message received in a mailbox room.
///
/// Its author is ``author``, the member MLS authenticated (RFC 9420 §6). ``sender`` is only what
/// the homeserver claims; when the Matrix user this client expects for the author (see
/// ``MatrixUserMapping``) is not that claim, ``senderMismatch`` says so. The message is still
/// delivered, because its content is authentic; the mismatch tells the application that the
/// homeserver (or the author's account) is not who the author's credential says.
public struct MailboxMessage: Sendable, Equatable {
    /// The room (= MLS group) it arrived in.
    public let roomID: String
    /// The Matrix event ID: unique, so a message handed out twice would be visible.
    public let eventID: String
    /// The Matrix user who sent it, as the homeserver claims ("" if the event named none). Not
    /// authenticated: use ``author``.
    public let sender: String
    /// The decrypted application data.
    public let plaintext: [UInt8]
    /// The group member who wrote it, authenticated by MLS, with the identity the group's
    /// identity provider reads from its credential.
    public let author: Member
    /// The Matrix user this client expects the author to send from, if it knows one.
    public let expectedSender: String?
    /// Whether the homeserver's ``sender`` differs from ``expectedSender`` (also when no user is
    /// known for the author: the claim then cannot be confirmed).
    public var senderMismatch: Bool { expectedSender != sender }
}

/// One member device in MLS groups carried by Matrix rooms, per ../shared/design/matrix-mapping.md
/// and Docs/Matrix.md: KeyPackages as one-time keys, commits, proposals and application messages
/// as room events, Welcomes as to-device messages, one ordering point per room (the first valid
/// commit per epoch wins).
///
/// All state (session, sync token, outgoing queue, groups, per-room ordering state) lives in a
/// `GroupStore`; every MLS transition is written together with the queue entries it produces, so
/// a restarted process resumes where it stopped and never sends a message twice.
public actor MatrixMLSClient {
    /// The namespace of every identifier we define; `m.mls.*` is reserved for the specification.
    public static let namespace = "de.mlskit.mls.v1"
    static var commitType: String { namespace + ".commit" }
    static var proposalType: String { namespace + ".proposal" }
    static var welcomeType: String { namespace + ".welcome" }
    static let applicationType = "m.room.encrypted"
    /// Largest binary payload sent inline: events are capped at 64 KiB, base64 grows by 4/3.
    public static let inlineLimit = 47 * 1024

    /// Who this client is on the homeserver.
    @_spi(Engine) public nonisolated let session: MatrixSession
    /// The cipher suite of the groups it creates and the KeyPackages it publishes.
    public nonisolated let suite: CipherSuite
    let api: MatrixAPI
    let store: GroupStore
    /// This device as an MLS client: the Matrix user ID as its basic credential, its signature
    /// key, the suite, and the configuration every group of it is created, joined and loaded
    /// with (the store does not keep configurations, so this one place states it for all three).
    let client: MLSClient
    /// The signer behind ``client``, kept with the account record.
    let signer: InMemorySigner
    var groups: [String: PersistentGroup] = [:]
    var groupConfiguration: GroupConfiguration { client.configuration }
    var rooms: [String: RoomState] = [:]
    var nextBatch: String?
    var filterID: String?
    /// Application messages received and not yet taken by ``takeMessages()``.
    var inbox: [MailboxMessage] = []
    /// Skipped incoming events, oldest first, not yet taken by ``takeFailures()``; at most
    /// ``failureLimit`` are kept (older ones are counted in ``droppedFailures``), so a flood of
    /// bad events cannot grow memory without bound.
    var failures: [EventFailure] = []
    /// How many failures were dropped from a full ``takeFailures()`` list.
    public internal(set) var droppedFailures = 0
    /// Most failures kept for ``takeFailures()``.
    public static let failureLimit = 1024
    /// Back-off for every request.
    public internal(set) var retry = RetryPolicy()
    /// Limits on media downloads.
    public internal(set) var mediaLimits = MediaLimits()
    /// Bytes of media this `/sync` round may still download.
    var mediaBudget = MediaLimits().maxBytesPerSync
    /// Who may add this device to rooms; the default accepts every valid Welcome.
    var welcomePolicy: WelcomePolicy = { _ in true }
    /// The Matrix user expected for a member's credential (``MailboxMessage/senderMismatch``).
    var matrixUserMapping: MatrixUserMapping = defaultMatrixUserMapping
    /// How many times this client asked the homeserver to join a room for a Welcome.
    public internal(set) var welcomeJoinAttempts = 0
    var outboxSequence: UInt64 = 0
    /// How many payloads went to the media repository (too large for an event).
    public internal(set) var mediaUploads = 0
    /// How many events were fetched from `/messages` to fill `limited` timelines.
    public internal(set) var backfilledEvents = 0
    /// Proposals (and Welcome recipients) of our commits that lost, to re-propose on top of the winner.
    var reproposals: [String: ([String], [Recipient])] = [:]

    /// One device a commit welcomes. Stored as the JSON array `[user, device]`; decoding checks
    /// that shape, so a damaged store is a decoding error, never an out-of-bounds index.
    struct Recipient: Codable, Sendable, Equatable {
        var user: String
        var device: String

        init(user: String, device: String) {
            self.user = user
            self.device = device
        }

        init(from decoder: any Decoder) throws {
            var c = try decoder.unkeyedContainer()
            guard c.count == 2 else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "a recipient is [user, device]")
            }
            user = try c.decode(String.self)
            device = try c.decode(String.self)
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.unkeyedContainer()
            try c.encode(user)
            try c.encode(device)
        }
    }

    /// Per-room ordering state (persisted beside the group).
    struct RoomState: Codable, Sendable {
        /// Event ID of the commit that started the current epoch ("" for epoch 0 or unknown).
        var epochParent: String
        /// Transaction ID of our commit awaiting confirmation through `/sync`.
        var pendingTransaction: String?
        /// The proposals of that commit, re-proposed on top of a competing winner.
        var pendingIntent: [String]
        /// The devices that commit welcomes.
        var pendingRecipients: [Recipient] = []
        /// The Welcome's queue entry, queued once the commit is confirmed.
        var heldWelcome: String?
        /// Whether a commit removed us.
        var removed = false
    }

    // MARK: Namespaces in the store

    static let accountNS = "matrix.account"
    static let roomNS = "matrix.room"
    static let outboxNS = "matrix.outbox"
    static let seenNS = "matrix.seen"

    init(api: MatrixAPI, session: MatrixSession, store: GroupStore, suite: CipherSuite, signer: InMemorySigner) throws {
        self.api = api
        self.session = session
        self.store = store
        self.suite = suite
        self.signer = signer
        client = try MLSClient(credential: .basic(identity: Array(session.userID.utf8)), signer: signer, suite: suite)
    }

    // MARK: Account

    /// Registers `username` with a fixed device ID (or logs in if the user exists), persists the
    /// session and a new signature key, and returns the client. `store` must be this device's own.
    public static func connect(homeserver: String, username: String, password: String, deviceID: String, store: GroupStore,
                               suite: CipherSuite = CipherSuite(id: 1)!) async throws -> MatrixMLSClient {
        if let restored = try await restore(homeserver: homeserver, store: store) { return restored }
        var api = MatrixAPI(baseURL: homeserver)
        let session: MatrixSession
        do {
            session = try await RetryPolicy(maxAttempts: 8).run { try await api.register(username: username, password: password, deviceID: deviceID) }
        } catch MatrixError.server(400, "M_USER_IN_USE", _, _) {
            session = try await RetryPolicy(maxAttempts: 8).run { try await api.login(username: username, password: password, deviceID: deviceID) }
        }
        api.http.accessToken = session.accessToken
        let keys = InMemorySigner.generate(suite.signature)
        var w = TLSWriter()
        w.writeOpaque(Array(session.userID.utf8))
        w.writeOpaque(Array(session.deviceID.utf8))
        w.writeOpaque(Array(session.accessToken.utf8))
        w.writeUInt16(suite.id)
        keys.privateKey.withUnsafeBytes { w.writeOpaque($0) }
        w.writeOpaque(keys.publicKey)
        var bytes = w.takeBytes()
        try store.putValue(namespace: accountNS, key: Array("account".utf8), value: bytes)
        SecretBytes.zeroize(&bytes)
        return try MatrixMLSClient(api: api, session: session, store: store, suite: suite, signer: keys)
    }

    /// The client whose session `store` holds, with its groups, or `nil` if it holds none.
    public static func restore(homeserver: String, store: GroupStore) async throws -> MatrixMLSClient? {
        guard var bytes = try store.value(namespace: accountNS, key: Array("account".utf8)) else { return nil }
        defer { SecretBytes.zeroize(&bytes) }
        var r = TLSReader(bytes)
        let user = String(decoding: try r.readOpaque(), as: UTF8.self)
        let device = String(decoding: try r.readOpaque(), as: UTF8.self)
        let token = String(decoding: try r.readOpaque(), as: UTF8.self)
        guard let suite = CipherSuite(id: try r.readUInt16()) else { throw StorageError.corrupt("account suite") }
        var priv = try r.readOpaque()
        let pub = try r.readOpaque()
        let signer: InMemorySigner
        do { signer = try InMemorySigner(scheme: suite.signature, privateKey: SecretBytes(zeroizing: &priv)) } catch { throw StorageError.corrupt("account signature key") }
        guard signer.publicKey == pub else { throw StorageError.corrupt("account signature key does not match its public key") }
        let client = try MatrixMLSClient(api: MatrixAPI(baseURL: homeserver, accessToken: token), session: MatrixSession(userID: user, deviceID: device, accessToken: token),
                                         store: store, suite: suite, signer: signer)
        try await client.loadState()
        return client
    }

    func loadState() throws {
        nextBatch = try store.value(namespace: Self.accountNS, key: Array("next_batch".utf8)).map { String(decoding: $0, as: UTF8.self) }
        for (key, value) in try store.values(namespace: Self.roomNS) {
            let roomID = String(decoding: key, as: UTF8.self)
            let state: RoomState
            do { state = try JSONDecoder().decode(RoomState.self, from: Data(value)) } catch {
                throw MatrixClientError.corruptState("room state of \(roomID): \(error)")
            }
            rooms[roomID] = state
            if !state.removed, let g = try store.open(Array(roomID.utf8), configuration: groupConfiguration) { groups[roomID] = g }
        }
        outboxSequence = 0
        if let last = try store.values(namespace: Self.outboxNS).last {
            // The key is ours, but the store is outside the process: a damaged or planted key at
            // UInt64.max must be an error, not an overflow trap.
            let (next, overflow) = try UInt64(tlsSerialized: last.key).addingReportingOverflow(1)
            guard !overflow else { throw MatrixClientError.corruptState("outgoing queue sequence exhausted") }
            outboxSequence = next
        }
    }

    // MARK: Configuration

    /// Sets the back-off for every request (media downloads use ``MediaLimits/retry``).
    public func setRetryPolicy(_ policy: RetryPolicy) { retry = policy }

    /// Sets the limits on media downloads.
    public func setMediaLimits(_ limits: MediaLimits) {
        mediaLimits = limits
        mediaBudget = limits.maxBytesPerSync
    }

    /// Sets who may add this device to rooms. The policy sees the Matrix user that sent the
    /// Welcome (a homeserver claim) and the member that signed its GroupInfo (authenticated by
    /// MLS). The default accepts every Welcome that opens and verifies, which suits a client
    /// whose homeserver only lets trusted users invite it; anything else should restrict it.
    public func setWelcomePolicy(_ policy: @escaping WelcomePolicy) { welcomePolicy = policy }

    /// Sets how a member's credential maps to the Matrix user it is expected to send from.
    public func setMatrixUserMapping(_ mapping: @escaping MatrixUserMapping) { matrixUserMapping = mapping }

    /// Takes the incoming events skipped so far, with their reasons.
    public func takeFailures() -> [EventFailure] {
        defer { failures = [] }
        return failures
    }

    func record(_ reason: EventFailureReason, roomID: String?, eventID: String?, sender: String?) {
        if failures.count >= Self.failureLimit {
            failures.removeFirst()
            droppedFailures += 1
        }
        failures.append(EventFailure(roomID: roomID, eventID: eventID, matrixSender: sender, reason: reason))
    }

    /// The epoch as the JSON integer events carry. A Welcome chooses the epoch a joiner starts
    /// in, so it may exceed `Int.max`; such a group cannot be carried and is refused here.
    static func eventEpoch(_ epoch: UInt64) throws -> Int {
        guard let e = Int(exactly: epoch) else { throw MatrixClientError.epochOutOfRange(epoch) }
        return e
    }

    var credential: Credential { client.credential }

    // MARK: KeyPackages

    var keyPackageAlgorithm: String { "\(Self.namespace).key_package.\(suite.id)" }

    /// Generates `count` one-time KeyPackages (and, with `lastResort`, a fallback one), stores
    /// their private keys, and publishes them through `/keys/upload`. Returns the server's count.
    @discardableResult
    public func publishKeyPackages(count: Int, lastResort: Bool = true) async throws -> Int {
        var batch = StorageBatch()
        var oneTime: JSONObject = [:]
        var fallback: JSONObject = [:]
        for i in 0..<(count + (lastResort ? 1 : 0)) {
            let bundle = try client.makeKeyPackage()
            let isFallback = lastResort && i == count
            batch.putKeyPackages.append(try store.keyPackageWrite(bundle, lastResort: isFallback))
            let id = "\(keyPackageAlgorithm):\(Base64.encode(bundle.keyPackage.ref(suite: suite)))"
            let value = Base64.encode(bundle.keyPackage.tlsSerialized)
            if isFallback { fallback[id] = value } else { oneTime[id] = value }
        }
        // Private keys are durable before anyone can claim the public halves.
        try store.backend.write(batch)
        var body: JSONObject = [
            "device_keys": [
                "user_id": session.userID, "device_id": session.deviceID, "algorithms": [Self.namespace],
                "keys": ["ed25519:\(session.deviceID)": Base64.encode(client.signer.publicKey)], "signatures": [String: Any](),
            ],
            "one_time_keys": oneTime,
        ]
        if !fallback.isEmpty { body["fallback_keys"] = fallback }
        let api = self.api
        let counts = try await retry.run { try await api.uploadKeys(body) }
        return counts[keyPackageAlgorithm] ?? 0
    }

    /// Claims one KeyPackage of every device of `userID` (§10; `/keys/claim`), validated.
    public func claimKeyPackages(of userID: String) async throws -> [(deviceID: String, keyPackage: KeyPackage)] {
        let api = self.api
        let algorithm = keyPackageAlgorithm
        let devices = try await retry.run { try await api.devices(of: userID) }
        let claimed = try await retry.run { try await api.claimKeys(userID: userID, devices: devices, algorithm: algorithm) }
        var out: [(String, KeyPackage)] = []
        for (device, entry) in claimed.sorted(by: { $0.key < $1.key }) {
            guard let bytes = Base64.decode(entry.value), let kp = try? KeyPackage(tlsSerialized: bytes) else { continue }
            out.append((device, kp))
        }
        return out
    }

    // MARK: Rooms

    /// Creates a mailbox room and its MLS group (group ID = the room ID's UTF-8 bytes).
    public func createMailbox(name: String? = nil) async throws -> String {
        var body: JSONObject = [
            "preset": "private_chat",
            "initial_state": [["type": "m.room.history_visibility", "state_key": "", "content": ["history_visibility": "shared"]]],
            "creation_content": ["\(Self.namespace).algorithm": "\(Self.namespace).\(suite.id)"],
        ]
        if let name { body["name"] = name }
        let api = self.api
        let roomID = try await retry.run { try await api.createRoom(body) }
        let group = try client.createGroup(groupID: Array(roomID.utf8))
        let state = RoomState(epochParent: "", pendingTransaction: nil, pendingIntent: [])
        groups[roomID] = try store.create(group, with: try roomWrite(roomID, state))
        rooms[roomID] = state
        return roomID
    }

    /// Adopts a group already stored for `roomID` (tests, and rooms set up outside this client).
    func install(room roomID: String, group: PersistentGroup) {
        groups[roomID] = group
        rooms[roomID] = RoomState(epochParent: "", pendingTransaction: nil, pendingIntent: [])
    }

    func roomWrite(_ roomID: String, _ state: RoomState) throws -> StorageBatch {
        var batch = StorageBatch()
        batch.putValues.append(try store.valueWrite(namespace: Self.roomNS, key: Array(roomID.utf8), value: [UInt8](try JSONEncoder().encode(state))))
        return batch
    }

    /// The members' Matrix user IDs (from their basic credentials).
    public func members(of roomID: String) -> [String] {
        guard let g = groups[roomID]?.group else { return [] }
        return g.members.compactMap { leaf in
            if case let .basic(identity)? = g.tree.leaf(leaf)?.credential { return String(decoding: identity, as: UTF8.self) }
            return nil
        }
    }

    /// The current epoch of a room's group.
    public func epoch(of roomID: String) -> UInt64? { groups[roomID]?.group.epoch }

    /// The epoch authenticator of a room's group (members compare it to check agreement).
    public func epochAuthenticator(of roomID: String) -> [UInt8]? { groups[roomID]?.group.epochAuthenticator }

    /// Whether a commit of ours awaits confirmation through `/sync`.
    public func hasPendingCommit(in roomID: String) -> Bool { rooms[roomID]?.pendingTransaction != nil }

    // MARK: Sending

    /// Adds users: claims a KeyPackage of each of their devices, invites them to the room, and
    /// queues the commit and the Welcomes (sent by ``flush()``).
    public func add(_ userIDs: [String], to roomID: String) async throws {
        var proposals: [Proposal] = []
        var recipients: [(String, String)] = []
        for user in userIDs {
            let claimed = try await claimKeyPackages(of: user)
            guard !claimed.isEmpty else { throw MatrixClientError.noKeyPackage(user) }
            for (device, kp) in claimed {
                proposals.append(.add(kp))
                recipients.append((user, device))
            }
            let api = self.api
            try await retry.run { try await api.invite(roomID: roomID, userID: user) }
        }
        try commit(roomID, proposals: proposals, welcomeTo: recipients)
        try await flush()
    }

    /// Removes every device of `userID` from the room's group.
    public func remove(_ userID: String, from roomID: String) async throws {
        guard let g = groups[roomID]?.group else { throw MatrixClientError.unknownRoom(roomID) }
        let leaves = g.members.filter { leaf in
            if case let .basic(identity)? = g.tree.leaf(leaf)?.credential { return identity == Array(userID.utf8) }
            return false
        }
        try commit(roomID, proposals: leaves.map { .remove($0) }, welcomeTo: [])
        try await flush()
    }

    /// Updates this member's keys with an empty commit carrying a path (§12.4).
    public func updateKeys(in roomID: String) async throws {
        try commit(roomID, proposals: [], welcomeTo: [])
        try await flush()
    }

    /// Proposes a change as a standalone `NS.proposal` event (§12.1), for the next commit by any
    /// member to include by reference. `make` builds the proposal message from the group, e.g.
    /// `{ try $0.proposeUpdate() }` or `{ try $0.proposeRemove(leaf) }`.
    public func propose(in roomID: String, _ make: (inout MLSGroup) throws -> MLSMessage) async throws {
        guard let handle = groups[roomID], let state = rooms[roomID] else { throw MatrixClientError.unknownRoom(roomID) }
        let epoch = try Self.eventEpoch(handle.epoch)
        let (message, transition) = try handle.prepareUpdate(make)
        var batch = StorageBatch()
        try append([OutboxItem(kind: .room, roomID: roomID, type: Self.proposalType, transactionID: newTransactionID(), content: [
            "algorithm": "\(Self.namespace).\(suite.id)", "ciphertext": Base64.encode(message.tlsSerialized),
            "epoch": epoch, "parent": state.epochParent,
        ])], to: &batch)
        try store.commit(transition, with: batch)
        try await flush()
    }

    /// Encrypts and queues an application message, then sends the queue.
    public func send(_ text: String, to roomID: String) async throws {
        try enqueueMessage(Array(text.utf8), to: roomID)
        try await flush()
    }

    /// Encrypts and queues an application message without sending it (the queue is persisted
    /// with the ratchet state, so a crash before ``flush()`` loses nothing).
    public func enqueueMessage(_ plaintext: [UInt8], to roomID: String) throws {
        guard let handle = groups[roomID] else { throw MatrixClientError.unknownRoom(roomID) }
        let (message, transition) = try handle.prepareUpdate { try $0.encrypt(plaintext) }
        let items = [OutboxItem(kind: .room, roomID: roomID, type: Self.applicationType, transactionID: newTransactionID(),
                                content: ["algorithm": "\(Self.namespace).\(suite.id)", "ciphertext": Base64.encode(message.tlsSerialized)])]
        var batch = StorageBatch()
        try append(items, to: &batch)
        try store.commit(transition, with: batch)
    }

    func commit(_ roomID: String, proposals: [Proposal], welcomeTo recipients: [(String, String)]) throws {
        guard let handle = groups[roomID], var state = rooms[roomID] else { throw MatrixClientError.unknownRoom(roomID) }
        guard state.pendingTransaction == nil else { throw MatrixClientError.commitPending(roomID) }
        let epoch = try Self.eventEpoch(handle.epoch)
        let (output, transition) = try handle.prepareCommit(CommitOptions(proposals: proposals))
        let txn = newTransactionID()
        let items = [OutboxItem(kind: .room, roomID: roomID, type: Self.commitType, transactionID: txn, content: [
            "algorithm": "\(Self.namespace).\(suite.id)", "ciphertext": Base64.encode(output.commit.tlsSerialized),
            "epoch": epoch, "parent": state.epochParent,
        ])]
        if let welcome = output.welcome, !recipients.isEmpty {
            var messages: [String: [String: JSONObject]] = [:]
            // Inline here; `flush` moves it to the media repository if it is too large.
            let content: JSONObject = ["algorithm": "\(Self.namespace).\(suite.id)", "room_id": roomID, "commit_transaction": txn,
                                       "welcome": Base64.encode(welcome.tlsSerialized)]
            for (user, device) in recipients { messages[user, default: [:]][device] = content }
            // Held until the commit comes back as the winner: a Welcome for a commit that lost
            // would put the joiner into a state nobody else is in.
            let welcomeItem = OutboxItem(kind: .toDevice, roomID: roomID, type: Self.welcomeType, transactionID: newTransactionID(), content: ["messages": messages])
            state.heldWelcome = String(decoding: welcomeItem.encoded, as: UTF8.self)
        }
        state.pendingTransaction = txn
        state.pendingIntent = proposals.map { Base64.encode($0.tlsSerialized) }
        state.pendingRecipients = recipients.map { Recipient(user: $0.0, device: $0.1) }
        var batch = try roomWrite(roomID, state)
        try append(items, to: &batch)
        try store.commit(transition, with: batch)
        rooms[roomID] = state
    }

    func newTransactionID() -> String {
        "mlskit-\(session.deviceID)-\(Hex.encode(SecretBytes(randomCount: 12).unsafeCopiedBytes()))"
    }

    /// Takes the application messages received so far.
    public func takeMessages() -> [MailboxMessage] {
        defer { inbox = [] }
        return inbox
    }
}

/// Unpadded standard base64, as the mapping uses for every binary field.
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        var s = Data(bytes).base64EncodedString()
        while s.hasSuffix("=") { s.removeLast() }
        return s
    }

    static func decode(_ text: String) -> [UInt8]? {
        var s = text
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map { [UInt8]($0) }
    }
}
