import ArgumentParser
import Foundation
@_spi(Engine) import MLS
import MLSBenchSupport
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
@_spi(Engine) import MLSStore
import MLSStoreBenchSupport
import Synchronization

/// Measures what persisting MLS state costs with `MLSStore` over SQLite:
///
/// - **bytes per commit**: in a real group of N members, the payload bytes, node rows and WAL
///   bytes each state transition writes, next to a write of the whole tree;
/// - **many groups**: one client in G small groups in one database; for each group in turn,
///   load it, process one incoming application message and save (what a client does when a
///   message arrives for a group not in memory).
@main
struct StoreReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store-report",
        abstract: "Bytes written per commit, and load / process / save throughput of many small groups (MLSStore over SQLite).",
        discussion: """
        Without --commit-sizes or --groups both parts run with their defaults (1024,10000 and \
        10000); with either, only the parts named run. Each part runs with state stored in the \
        clear and sealed at rest (XChaCha20-Poly1305 under a random 32-byte key) unless \
        --at-rest or --encrypt narrows it. Suite 1 (X25519 / AES-128-GCM / Ed25519).
        """
    )

    @Option(help: "Bytes per commit: comma-separated group sizes N (default 1024,10000 when no part is named).")
    var commitSizes: String?

    @Option(help: "Bytes per commit: rounds; in each, A commits and B processes, then B commits and A processes.")
    var rounds: Int = 10

    @Option(help: "Many groups: the number of small groups G (default 10000 when no part is named).")
    var groups: Int?

    @Option(help: "Many groups: seed of the random group sizes (2 to 5 members) and of the processing order.")
    var seed: UInt64 = 0x4D4C_5353_544F_5245

    @Option(help: "Comma-separated: plain (state stored in the clear), sealed (encrypted at rest).")
    var atRest: String = "plain,sealed"

    @Flag(help: "Sealed at rest only (same as --at-rest sealed).")
    var encrypt = false

    @Flag(help: "One JSON object per line on standard output; progress and notes go to standard error.")
    var json = false

    @Flag(help: "Keep the SQLite files (their directory is printed) instead of deleting them.")
    var keepFiles = false

    func validate() throws {
        if rounds < 1 { throw ValidationError("--rounds must be at least 1") }
        if let groups, groups < 1 { throw ValidationError("--groups must be at least 1") }
    }

    func run() throws {
        let modes: [AtRest] = encrypt ? [.sealed] : try atRest.split(separator: ",").map {
            let s = $0.trimmingCharacters(in: .whitespaces)
            guard let m = AtRest(rawValue: s) else { throw ValidationError("unknown --at-rest value '\(s)'") }
            return m
        }
        let nothingNamed = commitSizes == nil && groups == nil
        let sizes: [Int] = try (commitSizes ?? (nothingNamed ? "1024,10000" : "")).split(separator: ",").map {
            guard let n = Int($0.trimmingCharacters(in: .whitespaces)), n >= 2 else { throw ValidationError("bad group size '\($0)'") }
            return n
        }
        let groupCount = groups ?? (nothingNamed ? 10_000 : 0)

        if !json {
            print("store-report  \(ISO8601DateFormatter().string(from: Date()))  cores: \(Parallelism.cores)  load average: \(loadAverage())")
            print("suite 1; SQLite in WAL mode, synchronous=FULL (one fsync per write), secure_delete=ON; at rest: \(modes.map(\.rawValue).joined(separator: ", "))")
            fflush(nil)
        }
        for n in sizes {
            try CommitSizes(n: n, rounds: rounds, modes: modes, json: json, keepFiles: keepFiles).run()
        }
        if groupCount > 0 {
            try ManyGroups(count: groupCount, seed: seed, modes: modes, json: json, keepFiles: keepFiles).run()
        }
        if !json {
            print("")
            print("peak RSS: \(String(format: "%.0f", Double(peakRSSBytes()) / 1_048_576)) MiB; load average at the end: \(loadAverage())")
        }
    }
}

/// How state is stored.
enum AtRest: String {
    case plain
    case sealed

    var key: SecretBytes? { self == .sealed ? StoreFixtures.randomStorageKey() : nil }
}

// MARK: - Bytes per commit

/// One stored transition.
struct WriteSample {
    var payload: Int
    var nodeRows: Int
    var wal: Int
    var writeSeconds: Double
}

/// The SQLite backend with every write measured as the store hands it over: the batch's
/// payload and node rows, the WAL's growth, and the time of the backend write alone (not the
/// operation, encoding or sealing before it).
final class MeasuredStorage: StorageBackend {
    let sqlite: SQLiteStorage
    private let last = Mutex<WriteSample?>(nil)

    init(_ sqlite: SQLiteStorage) {
        self.sqlite = sqlite
    }

    /// The sample of the latest write, once.
    func takeSample() -> WriteSample? {
        last.withLock { sample in
            defer { sample = nil }
            return sample
        }
    }

    func write(_ batch: StorageBatch) throws {
        let clock = ContinuousClock()
        let rows = batch.groups.reduce(0) { $0 + $1.upsertNodes.count + $1.deleteNodes.count }
        let before = sqlite.walBytes()
        let start = clock.now
        try sqlite.write(batch)
        let seconds = (clock.now - start).seconds
        let sample = WriteSample(payload: batch.payloadBytes, nodeRows: rows, wal: sqlite.walBytes() - before, writeSeconds: seconds)
        last.withLock { $0 = sample }
    }

    func readGroup(_ groupID: [UInt8]) throws -> StoredGroupRows? { try sqlite.readGroup(groupID) }
    func groupIDs() throws -> [[UInt8]] { try sqlite.groupIDs() }
    func readKeyPackage(_ ref: [UInt8]) throws -> [UInt8]? { try sqlite.readKeyPackage(ref) }
    func readPSK(_ id: [UInt8]) throws -> [UInt8]? { try sqlite.readPSK(id) }
    func readValue(namespace: String, key: [UInt8]) throws -> [UInt8]? { try sqlite.readValue(namespace: namespace, key: key) }
    func values(namespace: String) throws -> [(key: [UInt8], blob: [UInt8])] { try sqlite.values(namespace: namespace) }
    func contents() throws -> StorageBatch { try sqlite.contents() }
}

/// Bytes written by each kind of transition in one N-member group, A and B each in their own
/// `GroupStore` of one SQLite file whose WAL is never checkpointed while measuring.
struct CommitSizes {
    let n: Int
    let rounds: Int
    let modes: [AtRest]
    let json: Bool
    let keepFiles: Bool

    /// Row labels, in the order printed.
    static let operations = [
        "whole tree (A, initial save)", "join from Welcome (B)", "commit, pending state", "process commit",
        "merge own commit", "encrypt application message", "process application message",
    ]

    func run() throws {
        log("n=\(n): generating \(n - 1) KeyPackages and the bulk-add commit ...")
        let fixture = try LargeGroupFixture(n: n, groupID: Array("store-report-\(n)".utf8))
        log("n=\(n): built in \(String(format: "%.1f", fixture.buildSeconds)) s (KeyPackages \(String(format: "%.1f", fixture.keyPackageSeconds)) s,"
            + " bulk-add commit and merge \(String(format: "%.1f", fixture.buildSeconds - fixture.keyPackageSeconds)) s)")
        for mode in modes { try measure(fixture, mode) }
    }

    func measure(_ fixture: LargeGroupFixture, _ mode: AtRest) throws {
        let clock = ContinuousClock()
        let (dir, path) = try StoreFixtures.temporaryDatabase("commit-sizes-\(n)-\(mode.rawValue).sqlite")
        defer { if !keepFiles { try? FileManager.default.removeItem(at: dir) } else { log("kept \(path)") } }
        let storage = try SQLiteStorage(path: path)
        try storage.setAutoCheckpoint(0)
        try storage.checkpoint()
        let key = mode.key
        let measured = MeasuredStorage(storage)
        let aStore = try GroupStore(backend: measured, clientID: Array("a".utf8), encryptionKey: key)
        let bStore = try GroupStore(backend: measured, clientID: Array("b".utf8), encryptionKey: key)
        var samples: [String: [WriteSample]] = [:]
        var commitMessageBytes: [Double] = []

        /// Files the sample of the write just made under `op`.
        func record(_ op: String) throws {
            guard let sample = measured.takeSample() else { throw StoreFixtureError("\(op) wrote nothing") }
            samples[op, default: []].append(sample)
        }
        // Exactly `PersistentGroup.update`; the backend measures the one write it makes.
        func step<R>(_ op: String, _ handle: PersistentGroup, _ body: (inout MLSGroup) throws -> R) throws -> R {
            let result = try handle.update(body)
            try record(op)
            return result
        }

        // The reference: A's state written in full (record and every non-blank node).
        let a = try aStore.create(fixture.a)
        try record(Self.operations[0])
        try bStore.storeKeyPackage(fixture.bBundle)
        let b = try bStore.join(welcome: fixture.welcome, ratchetTree: fixture.ratchetTree, configuration: GroupConfiguration())
        try record(Self.operations[1])

        log("n=\(n) \(mode.rawValue): \(rounds) round\(rounds == 1 ? "" : "s") of commits ...")
        let start = clock.now
        for _ in 0..<rounds {
            for committerIsA in [true, false] {
                let (committer, receiver) = committerIsA ? (a, b) : (b, a)
                // Through the handle's own commit and process: the handle keeps the pending
                // commit, so the echo merges it.
                let out = try committer.commit()
                try record(Self.operations[2])
                commitMessageBytes.append(Double(out.commit.serialized.count))
                let processed = try receiver.process(out.commit)
                try record(Self.operations[3])
                let merged = try committer.process(out.commit)
                try record(Self.operations[4])
                guard processed.content.commit?.removedSelf == false, merged.content.commit?.removedSelf == false,
                      a.group.epochAuthenticator == b.group.epochAuthenticator else {
                    throw StoreFixtureError("A and B disagree after a commit")
                }
            }
        }
        for i in 0..<rounds {
            let text = Array("application message \(i)".utf8)
            let message = try step(Self.operations[5], a) { try $0.encrypt(text) }
            let received = try step(Self.operations[6], b) { try $0.process(message) }
            guard received.content == .application(text) else { throw StoreFixtureError("B did not read A's message") }
        }
        // The state on disk is the state in memory.
        guard let reloaded = try bStore.loadGroup(b.groupID, configuration: b.group.configuration), reloaded.epochAuthenticator == b.group.epochAuthenticator else {
            throw StoreFixtureError("B's stored state does not load back")
        }
        log("n=\(n) \(mode.rawValue): done in \(String(format: "%.1f", (clock.now - start).seconds)) s; commit message on the wire: median \(Int(median(commitMessageBytes))) bytes; database file \(fileSize(path)) bytes, WAL \(storage.walBytes()) bytes")
        report(samples, mode: mode, commitMessageBytes: median(commitMessageBytes))
    }

    func report(_ samples: [String: [WriteSample]], mode: AtRest, commitMessageBytes: Double) {
        let whole = samples[Self.operations[0]]![0]
        if !json {
            print("")
            print("### Bytes per commit: N = \(n), \(mode.rawValue)")
            print("")
            print("Whole-tree write (A's initial save): \(whole.payload) payload bytes, \(whole.nodeRows) node rows, \(whole.wal) WAL bytes."
                  + " Commit message on the wire: \(Int(commitMessageBytes)) bytes (median).")
            print("")
            print("| operation | samples | median payload bytes | median node rows | median WAL bytes | payload ÷ whole tree | WAL ÷ whole tree | median write ms |")
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        }
        for op in Self.operations {
            guard let s = samples[op], !s.isEmpty else { continue }
            let payload = median(s.map { Double($0.payload) })
            let rows = median(s.map { Double($0.nodeRows) })
            let wal = median(s.map { Double($0.wal) })
            let ms = median(s.map(\.writeSeconds)) * 1000
            let payloadRatio = payload / Double(whole.payload)
            let walRatio = wal / Double(max(1, whole.wal))
            if json {
                print("{\"part\":\"commit_sizes\",\"n\":\(n),\"at_rest\":\"\(mode.rawValue)\",\"op\":\"\(op)\",\"samples\":\(s.count),"
                      + "\"payload_bytes\":\(number(payload)),\"node_rows\":\(number(rows)),\"wal_bytes\":\(number(wal)),"
                      + "\"payload_ratio\":\(number(payloadRatio)),\"wal_ratio\":\(number(walRatio)),\"write_ms\":\(number(ms))}")
            } else {
                print("| \(op) | \(s.count) | \(Int(payload.rounded())) | \(Int(rows.rounded())) | \(Int(wal.rounded())) | \(ratio(payloadRatio)) | \(ratio(walRatio)) | \(String(format: "%.2f", ms)) |")
            }
        }
        fflush(nil)
    }

    func ratio(_ r: Double) -> String { r >= 0.1 ? String(format: "%.2f", r) : String(format: "%.4f", r) }
}

// MARK: - Many groups

/// One client ("me") in many small groups of one SQLite file: per group, load it, process one
/// incoming application message, save it.
struct ManyGroups {
    let count: Int
    let seed: UInt64
    let modes: [AtRest]
    let json: Bool
    let keepFiles: Bool

    /// Groups built (on all cores) and written per batch during setup.
    static let chunk = 500

    func run() throws {
        let clock = ContinuousClock()
        var rng = SplitMix64(seed: seed)
        let sizes = (0..<count).map { _ in 2 + Int(rng.next() % 4) }
        var order = Array(0..<count)
        order.shuffle(using: &rng)

        let dir = try StoreFixtures.temporaryDirectory()
        defer { if !keepFiles { try? FileManager.default.removeItem(at: dir) } else { log("kept \(dir.path)") } }
        struct Target {
            let mode: AtRest
            let path: String
            let storage: SQLiteStorage
            let store: GroupStore
        }
        let targets = try modes.map { mode -> Target in
            let path = dir.appendingPathComponent("groups-\(mode.rawValue).sqlite").path
            let storage = try SQLiteStorage(path: path)
            return Target(mode: mode, path: path, storage: storage, store: try GroupStore(backend: storage, clientID: Array("me".utf8), encryptionKey: mode.key))
        }
        let stores = targets.map(\.store)

        // Setup: build groups on all cores, 500 at a time; write each store's 500 initial states
        // in one batch. Two incoming messages per group (one per timed pass) are kept in memory.
        let me = StoreIdentity("me")
        let creator = StoreIdentity("sender")
        let others = (1...3).map { StoreIdentity("member-\($0)") }
        var messages: [[MLSMessage]] = []
        messages.reserveCapacity(count)
        let setupStart = clock.now
        log("groups: building \(count) groups of 2-5 members (\(sizes.reduce(0, +)) members in all) ...")
        for lower in stride(from: 0, to: count, by: Self.chunk) {
            let indices = Array(lower..<min(count, lower + Self.chunk))
            let built = try parallelMap(indices, minimumBatch: 4) { i -> (creations: [GroupTransition], messages: [MLSMessage]) in
                var f = try SmallGroupFixture(groupID: StoreFixtures.groupID(i), size: sizes[i], me: me, creator: creator, others: others)
                let incoming = try (0..<2).map { k in try f.sender.encrypt(Array("message \(k) to group \(i)".utf8)) }
                return (try stores.map { try $0.prepareCreate(f.me) }, incoming)
            }
            for (t, target) in targets.enumerated() {
                try target.store.commit(built.map { $0.creations[t] })
            }
            messages += built.map(\.messages)
            if indices.last! + 1 == count || (indices.last! + 1) % 2000 == 0 {
                log("groups: \(indices.last! + 1) of \(count) built and stored (\(String(format: "%.1f", (clock.now - setupStart).seconds)) s)")
            }
        }
        let setupSeconds = (clock.now - setupStart).seconds
        for target in targets { try target.storage.checkpoint() }
        let sizeCounts = (2...5).map { s in "\(sizes.filter { $0 == s }.count)×\(s)" }.joined(separator: ", ")
        log("groups: setup took \(String(format: "%.1f", setupSeconds)) s; sizes \(sizeCounts)")

        var results: [(AtRest, Int, PassResult, SplitResult)] = []
        for target in targets {
            let fileBytes = fileSize(target.path)
            log("groups \(target.mode.rawValue): database \(fileBytes) bytes (\(fileBytes / count) per group); timed pass 1 (load + update) ...")
            let pass = try timedUpdatePass(target.store, order: order, messages: messages)
            log("groups \(target.mode.rawValue): pass 1 \(String(format: "%.1f", pass.total)) s, others took \(String(format: "%.2f", pass.others)) cores; pass 2 (split) ...")
            let split = try timedSplitPass(target.store, order: order, messages: messages)
            log("groups \(target.mode.rawValue): pass 2 \(String(format: "%.1f", split.total)) s, others took \(String(format: "%.2f", split.others)) cores")
            results.append((target.mode, fileBytes, pass, split))
        }
        report(results, sizeCounts: sizeCounts, setupSeconds: setupSeconds)
    }

    struct PassResult {
        var total: Double
        var latencies: [Double]
        var others: Double
    }

    struct SplitResult {
        var total: Double
        var load: [Double]
        var process: [Double]
        var save: [Double]
        var others: Double
    }

    /// The headline loop: `GroupStore.open`, then `update { process }`, which saves.
    func timedUpdatePass(_ store: GroupStore, order: [Int], messages: [[MLSMessage]]) throws -> PassResult {
        let clock = ContinuousClock()
        var latencies: [Double] = []
        latencies.reserveCapacity(order.count)
        let probe = InterferenceProbe()
        let start = clock.now
        for i in order {
            let t0 = clock.now
            guard let handle = try store.open(StoreFixtures.groupID(i), configuration: GroupConfiguration()) else { throw StorageError.groupNotFound }
            let processed = try handle.process(messages[i][0])
            latencies.append((clock.now - t0).seconds)
            guard case .application = processed.content else { throw StoreFixtureError("group \(i): not an application message") }
        }
        return PassResult(total: (clock.now - start).seconds, latencies: latencies, others: probe.othersCores())
    }

    /// The same loop with a clock between the phases: load, process on a copy, save (encode,
    /// seal when sealing, write), i.e. `update` taken apart exactly as it runs (the process
    /// phase is timed inside the operation `prepareUpdate` runs; the save phase is the rest of
    /// `prepareUpdate` and the commit).
    func timedSplitPass(_ store: GroupStore, order: [Int], messages: [[MLSMessage]]) throws -> SplitResult {
        let clock = ContinuousClock()
        var load: [Double] = [], process: [Double] = [], save: [Double] = []
        load.reserveCapacity(order.count)
        process.reserveCapacity(order.count)
        save.reserveCapacity(order.count)
        let probe = InterferenceProbe()
        let start = clock.now
        for i in order {
            let t0 = clock.now
            guard let handle = try store.open(StoreFixtures.groupID(i), configuration: GroupConfiguration()) else { throw StorageError.groupNotFound }
            var t1 = clock.now, t2 = clock.now
            let (processed, transition) = try handle.prepareUpdate { group in
                t1 = clock.now
                defer { t2 = clock.now }
                return try group.process(messages[i][1])
            }
            try store.commit(transition)
            let t3 = clock.now
            load.append((t1 - t0).seconds)
            process.append((t2 - t1).seconds)
            save.append((t3 - t2).seconds)
            guard case .application = processed.content else { throw StoreFixtureError("group \(i): not an application message") }
        }
        return SplitResult(total: (clock.now - start).seconds, load: load, process: process, save: save, others: probe.othersCores())
    }

    func report(_ rows: [(AtRest, Int, PassResult, SplitResult)], sizeCounts: String, setupSeconds: Double) {
        if !json {
            print("")
            print("### Many groups: G = \(count) groups of 2-5 members (\(sizeCounts)), one client, one SQLite file")
            print("")
            print("Per group, in random order: `GroupStore.open`, then `update { try $0.process(message) }` (which saves).")
            print("Setup (building the groups on \(Parallelism.cores) cores and writing them in batches of \(Self.chunk)): \(String(format: "%.1f", setupSeconds)) s.")
            print("")
            print("| at rest | total s | groups/s | p50 ms | p90 ms | p99 ms | load ms (p50) | process ms (p50) | save ms (p50) | file bytes/group after setup | others (cores) |")
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        }
        for (mode, fileBytes, pass, split) in rows {
            let sorted = pass.latencies.sorted()
            let p = { (q: Double) in percentile(sorted, q) * 1000 }
            let rate = Double(count) / pass.total
            let (l, pr, s) = (median(split.load) * 1000, median(split.process) * 1000, median(split.save) * 1000)
            let others = max(pass.others, split.others)
            if json {
                print("{\"part\":\"many_groups\",\"groups\":\(count),\"at_rest\":\"\(mode.rawValue)\",\"total_s\":\(number(pass.total)),"
                      + "\"groups_per_s\":\(number(rate)),\"p50_ms\":\(number(p(0.5))),\"p90_ms\":\(number(p(0.9))),\"p99_ms\":\(number(p(0.99))),"
                      + "\"load_ms\":\(number(l)),\"process_ms\":\(number(pr)),\"save_ms\":\(number(s)),\"file_bytes_per_group\":\(fileBytes / count)}")
            } else {
                print("| \(mode.rawValue) | \(String(format: "%.2f", pass.total)) | \(String(format: "%.0f", rate)) | \(f3(p(0.5))) | \(f3(p(0.9))) | \(f3(p(0.99))) | \(f3(l)) | \(f3(pr)) | \(f3(s)) | \(fileBytes / count) | \(String(format: "%.2f", others)) |")
            }
        }
        if !json {
            print("")
            print("total, groups/s and p50/p90/p99: the load + update loop. load/process/save: medians of a second pass over the same groups")
            print("(a second message each) with the clock read between the phases; save = encode + seal (sealed) + one SQLite transaction.")
            print("others: cores' worth of CPU other processes or the hypervisor took during the passes (0 = undisturbed; 2 cores in all).")
        }
        fflush(nil)
    }

    func f3(_ v: Double) -> String { String(format: "%.3f", v) }
}

// MARK: - Helpers

/// The `q`-quantile of sorted values (nearest rank).
func percentile(_ sorted: [Double], _ q: Double) -> Double {
    precondition(!sorted.isEmpty)
    let rank = Int((q * Double(sorted.count)).rounded(.up))
    return sorted[min(sorted.count - 1, max(0, rank - 1))]
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
}

func log(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// A JSON number.
func number(_ v: Double) -> String {
    v.isFinite ? String(format: "%.6g", v) : "null"
}



extension StorageBatch {
    init(groups: [GroupWrite]) {
        self.init()
        self.groups = groups
    }
}
