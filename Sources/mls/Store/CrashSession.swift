import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
@_spi(Engine) import MLSStore
import Synchronization

/// The session's backend: the SQLite file, with every batch announced in the intent log before
/// it is written. The members' stores write through it, so each step's one atomic write (made
/// by ``GroupStore/commit(_:with:)``) is logged exactly as the store hands it to SQLite.
///
/// Before each write it appends `before after label` (digests of the whole store) to the intent
/// log and syncs it, so whoever kills the process can tell which two states the store may hold.
final class IntentLoggingStorage: StorageBackend {
    let sqlite: SQLiteStorage

    private struct Log {
        /// An exact copy of the database, to compute the digest a batch leads to before writing it.
        var mirror: InMemoryStorage
        /// Digest of `mirror`, kept from the previous write (whose "after" is this one's "before").
        var mirrorDigest: String?
        var intentLog: FileHandle?
        /// Names the next write in the intent log.
        var label = ""
    }

    private let log: Mutex<Log>

    init(sqlite: SQLiteStorage, intentLog: String?) throws {
        self.sqlite = sqlite
        let mirror = InMemoryStorage()
        try mirror.write(try sqlite.contents())
        var handle: FileHandle?
        if let intentLog {
            if !FileManager.default.fileExists(atPath: intentLog) { _ = FileManager.default.createFile(atPath: intentLog, contents: nil) }
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: intentLog))
            try h.seekToEnd()
            handle = h
        }
        log = Mutex(Log(mirror: mirror, mirrorDigest: nil, intentLog: handle))
    }

    /// Names the next write in the intent log.
    func setLabel(_ label: String) {
        log.withLock { $0.label = label }
    }

    /// Logs the intent, writes the batch, and mirrors it. The intent line is synced before the
    /// write, so a kill during the write always finds it.
    func write(_ batch: StorageBatch) throws {
        try log.withLock { l in
            if let intentLog = l.intentLog {
                let before = try l.mirrorDigest ?? CrashSession.digest(l.mirror)
                let next = InMemoryStorage()
                try next.write(try l.mirror.contents())
                try next.write(batch)
                let after = try CrashSession.digest(next)
                try intentLog.write(contentsOf: Data("\(before) \(after) \(l.label)\n".utf8))
                try intentLog.synchronize()
                try sqlite.write(batch)
                l.mirror = next
                l.mirrorDigest = after
            } else {
                try sqlite.write(batch)
                try l.mirror.write(batch)
                l.mirrorDigest = nil
            }
        }
    }

    func readGroup(_ groupID: [UInt8]) throws -> StoredGroupRows? { try sqlite.readGroup(groupID) }
    func groupIDs() throws -> [[UInt8]] { try sqlite.groupIDs() }
    func readKeyPackage(_ ref: [UInt8]) throws -> [UInt8]? { try sqlite.readKeyPackage(ref) }
    func readPSK(_ id: [UInt8]) throws -> [UInt8]? { try sqlite.readPSK(id) }
    func readValue(namespace: String, key: [UInt8]) throws -> [UInt8]? { try sqlite.readValue(namespace: namespace, key: key) }
    func values(namespace: String) throws -> [(key: [UInt8], blob: [UInt8])] { try sqlite.values(namespace: namespace) }
    func contents() throws -> StorageBatch { try sqlite.contents() }
}

/// The long-running group session that `mls store crash-test` interrupts: several members of one
/// group, each with its own client state in one shared SQLite file, and a delivery-service log in
/// the same file. Every step is one atomic ``StorageBatch``: a member's transition together with
/// the messages it sends, its read cursor and the log entries nobody needs any more.
///
/// Every write goes through ``IntentLoggingStorage``, which announces it in the intent log first.
struct CrashSession {
    static let groupID = Array("crash-test-mailbox".utf8)
    static let suite = CipherSuite(id: 1)!
    /// The configuration every member's group is created, joined and loaded with.
    static let configuration = GroupConfiguration()

    /// One member's position in the delivery log.
    struct Seat {
        var cursor: UInt64
        var joined: Bool
    }

    /// What the delivery log holds at one index.
    struct Entry {
        enum Kind: UInt8 {
            case group = 0
            case welcome = 1
        }
        var kind: Kind
        /// Sender of a group message; addressee of a Welcome.
        var name: String
        var message: [UInt8]

        var bytes: [UInt8] {
            var w = TLSWriter()
            w.writeUInt8(kind.rawValue)
            w.writeOpaque(Array(name.utf8))
            w.writeOpaque(message)
            return w.takeBytes()
        }

        init(kind: Kind, name: String, message: [UInt8]) {
            self.kind = kind
            self.name = name
            self.message = message
        }

        init(_ bytes: [UInt8]) throws {
            var r = TLSReader(bytes)
            guard let k = Kind(rawValue: try r.readUInt8()) else { throw CrashTestError("bad log entry") }
            kind = k
            name = String(decoding: try r.readOpaque(), as: UTF8.self)
            message = try r.readOpaque()
            try r.finish()
        }
    }

    let backend: IntentLoggingStorage
    let key: SecretBytes
    let control: GroupStore
    var seats: [String: Seat] = [:]
    var groups: [String: PersistentGroup] = [:]
    var next: UInt64 = 0
    var names: UInt64 = 0
    var steps = 0

    init(path: String, key: SecretBytes, intentLog: String?) throws {
        backend = try IntentLoggingStorage(sqlite: try SQLiteStorage(path: path), intentLog: intentLog)
        self.key = key
        control = try GroupStore(backend: backend, clientID: Array("session".utf8), encryptionKey: key)
        try load()
    }

    func store(_ name: String) throws -> GroupStore {
        try GroupStore(backend: backend, clientID: Array(name.utf8), encryptionKey: key)
    }


    /// Reads the roster, counters and every joined member's group from the database.
    mutating func load() throws {
        seats = [:]
        groups = [:]
        for (key, value) in try control.values(namespace: "roster") {
            guard value.count == 9 else { throw CrashTestError("bad roster entry") }
            let name = String(decoding: key, as: UTF8.self)
            seats[name] = Seat(cursor: try UInt64(tlsSerialized: Array(value[0..<8])), joined: value[8] == 1)
        }
        next = try control.value(namespace: "meta", key: Array("next".utf8)).map { try UInt64(tlsSerialized: $0) } ?? 0
        names = try control.value(namespace: "meta", key: Array("names".utf8)).map { try UInt64(tlsSerialized: $0) } ?? 0
        for (name, seat) in seats where seat.joined {
            guard let g = try store(name).open(Self.groupID, configuration: Self.configuration) else { throw CrashTestError("\(name)'s group is missing") }
            groups[name] = g
        }
    }

    static func digest(_ storage: any StorageBackend) throws -> String {
        Hex.encode(try storage.contents().canonicalDigest())
    }

    func seatWrite(_ name: String, _ seat: Seat) throws -> (namespace: String, key: [UInt8], blob: [UInt8]) {
        try control.valueWrite(namespace: "roster", key: Array(name.utf8), value: seat.cursor.tlsSerialized + [seat.joined ? 1 : 0])
    }

    /// Appends log entries and advances the counter, in `batch`.
    mutating func append(_ entries: [Entry], to batch: inout StorageBatch) throws {
        for e in entries {
            batch.putValues.append(try control.valueWrite(namespace: "ds", key: next.tlsSerialized, value: e.bytes))
            next += 1
        }
        batch.putValues.append(try control.valueWrite(namespace: "meta", key: Array("next".utf8), value: next.tlsSerialized))
    }

    /// Runs one step's write, `write(control)`, which must write exactly one batch: the
    /// backend logs it under `label` first.
    @discardableResult
    mutating func apply<R>(label: String, _ write: (GroupStore) throws -> R) throws -> R {
        backend.setLabel(label)
        let result = try write(control)
        steps += 1
        return result
    }

    var joined: [String] { seats.filter(\.value.joined).map(\.key).sorted() }
    var lagging: [String] { seats.filter { $0.value.cursor < next }.map(\.key).sorted() }

    // MARK: Steps

    /// Delivers the next log entry to `name`; returns the application data it decrypted, if any.
    @discardableResult
    mutating func deliver(_ name: String) throws -> [UInt8]? {
        guard var seat = seats[name], seat.cursor < next else { return nil }
        guard let raw = try control.value(namespace: "ds", key: seat.cursor.tlsSerialized) else { throw CrashTestError("log entry \(seat.cursor) missing") }
        let entry = try Entry(raw)
        seat.cursor += 1
        var batch = StorageBatch()
        var plaintext: [UInt8]?
        var transitions: [GroupTransition] = []
        var removed = false
        if !seat.joined {
            if entry.kind == .welcome, entry.name == name {
                seat.joined = true
                transitions.append(try store(name).prepareJoin(welcome: try MLSMessage(tlsSerialized: entry.message), configuration: Self.configuration))
            }
        } else if entry.kind == .group, let handle = groups[name] {
            let message = try MLSMessage(tlsSerialized: entry.message)
            // A sender cannot decrypt its own application message: its key is already consumed.
            let isOwnApplication: Bool = {
                if entry.name != name { return false }
                if case .privateMessage = message.body { return true }
                return false
            }()
            if !isOwnApplication {
                let (processed, transition) = try handle.prepareProcess(message)
                switch processed.content {
                case let .application(data): plaintext = data
                case let .commit(d) where d.removedSelf: removed = true
                default: break
                }
                if removed {
                    batch.deleteGroups.append(handle.store.groupKey(Self.groupID))
                } else {
                    transitions.append(transition)
                }
            }
        }
        if removed {
            batch.deleteValues.append(control.valueDeletion(namespace: "roster", key: Array(name.utf8)))
        } else {
            batch.putValues.append(try seatWrite(name, seat))
        }
        // Entries every member has read are deleted with the step that read the last of them.
        let oldFloor = seats.values.map(\.cursor).min() ?? 0
        var after = seats
        if removed { after[name] = nil } else { after[name] = seat }
        let newFloor = after.values.map(\.cursor).min() ?? next
        for i in oldFloor..<newFloor { batch.deleteValues.append(control.valueDeletion(namespace: "ds", key: i.tlsSerialized)) }
        let handles = try apply(label: "deliver \(entry.kind) to \(name)") { try $0.commit(transitions, with: batch) }
        seats = after
        if removed { groups[name] = nil } else if let handle = handles.first { groups[name] = handle }
        return plaintext
    }

    /// `name` sends application data.
    mutating func send(_ name: String, _ text: String) throws {
        guard let handle = groups[name] else { return }
        let (message, transition) = try handle.prepareUpdate { try $0.encrypt(Array(text.utf8)) }
        var batch = StorageBatch()
        try append([Entry(kind: .group, name: name, message: message.tlsSerialized)], to: &batch)
        try apply(label: "\(name) sends") { try $0.commit(transition, with: batch) }
    }

    /// `name` commits: a plain update, an add of a new member, or a removal.
    mutating func commit(_ name: String, _ kind: String, rng: inout some RandomNumberGenerator) throws {
        guard let handle = groups[name] else { return }
        var batch = StorageBatch()
        var options = CommitOptions()
        var newcomer: (String, Seat)?
        switch kind {
        case "add":
            names += 1
            let newName = "c\(names)"
            let bundle = try MLSClient.basic(identity: Array(newName.utf8), suite: Self.suite).makeKeyPackage()
            batch.putKeyPackages.append(try store(newName).keyPackageWrite(bundle))
            batch.putValues.append(try control.valueWrite(namespace: "meta", key: Array("names".utf8), value: names.tlsSerialized))
            let seat = Seat(cursor: next, joined: false)
            batch.putValues.append(try seatWrite(newName, seat))
            newcomer = (newName, seat)
            options.proposals = [.add(bundle.keyPackage)]
        case "remove":
            let others = joined.filter { $0 != name }
            guard let victim = others.randomElement(using: &rng), let leaf = groups[victim]?.group.myLeaf else { return }
            options.proposals = [.remove(leaf)]
        default:
            break
        }
        let (output, transition) = try handle.prepareCommit(options)
        var entries = [Entry(kind: .group, name: name, message: output.commit.tlsSerialized)]
        if let (newName, _) = newcomer, let welcome = output.welcome {
            entries.append(Entry(kind: .welcome, name: newName, message: welcome.tlsSerialized))
        }
        try append(entries, to: &batch)
        try apply(label: "\(name) commits \(kind)") { try $0.commit(transition, with: batch) }
        if let (newName, seat) = newcomer { seats[newName] = seat }
    }

    /// One random step. Commits happen only when everybody has read the whole log, so two
    /// commits never compete for one epoch.
    mutating func step(rng: inout some RandomNumberGenerator) throws {
        let behind = lagging
        if !behind.isEmpty {
            // While a commit or message travels, members that are up to date may still talk.
            let upToDate = joined.filter { !behind.contains($0) }
            if let talker = upToDate.randomElement(using: &rng), Double.random(in: 0..<1, using: &rng) < 0.25 {
                try send(talker, "step \(steps)")
            } else if let name = behind.randomElement(using: &rng) {
                try deliver(name)
            }
            return
        }
        let members = joined
        guard let actor = members.randomElement(using: &rng) else { throw CrashTestError("no members left") }
        let roll = Double.random(in: 0..<1, using: &rng)
        switch roll {
        case ..<0.5: try send(actor, "step \(steps)")
        case ..<0.7: try commit(actor, "update", rng: &rng)
        case ..<0.85 where members.count < 6: try commit(actor, "add", rng: &rng)
        case ..<0.85: try commit(actor, "remove", rng: &rng)
        default:
            if members.count > 2 { try commit(actor, "remove", rng: &rng) } else { try commit(actor, "add", rng: &rng) }
        }
    }

    /// Delivers until every member has read the whole log.
    mutating func catchUp() throws -> [String: [[UInt8]]] {
        var received: [String: [[UInt8]]] = [:]
        while let name = lagging.first {
            if let p = try deliver(name) { received[name, default: []].append(p) }
        }
        return received
    }

    /// Creates the group: a founder adds two members, who join from the Welcome.
    static func create(path: String, key: SecretBytes) throws -> CrashSession {
        var s = try CrashSession(path: path, key: key, intentLog: nil)
        guard s.seats.isEmpty else { throw CrashTestError("store is not empty") }
        let founder = "c0"
        let group = try MLSClient.basic(identity: Array(founder.utf8), suite: suite, configuration: configuration).createGroup(groupID: groupID)
        var batch = StorageBatch()
        let creation = try s.store(founder).prepareCreate(group)
        batch.putValues.append(try s.seatWrite(founder, Seat(cursor: 0, joined: true)))
        try s.append([], to: &batch)
        let handle = try s.apply(label: "create") { try $0.commit(creation, with: batch) }
        s.seats[founder] = Seat(cursor: 0, joined: true)
        s.groups[founder] = handle
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2 {
            try s.commit(founder, "add", rng: &rng)
            _ = try s.catchUp()
        }
        return s
    }

    /// After an interruption: everyone catches up, one member's message reaches all others, and
    /// a commit is accepted by all, who then agree on the epoch authenticator.
    mutating func proveContinuation(rng: inout some RandomNumberGenerator) throws {
        _ = try catchUp()
        guard let sender = joined.randomElement(using: &rng) else { throw CrashTestError("no members left") }
        let text = "continuation after step \(steps)"
        try send(sender, text)
        let received = try catchUp()
        for name in joined where name != sender {
            guard received[name] == [Array(text.utf8)] else { throw CrashTestError("\(name) did not receive the message exactly once") }
        }
        guard let committer = joined.randomElement(using: &rng) else { throw CrashTestError("no members left") }
        try commit(committer, "update", rng: &rng)
        _ = try catchUp()
        let states = joined.compactMap { groups[$0]?.group }
        guard Set(states.map(\.epochAuthenticator)).count == 1, Set(states.map(\.epoch)).count == 1 else {
            throw CrashTestError("members disagree after the continuation commit")
        }
    }
}

/// A failed crash-test check.
struct CrashTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
