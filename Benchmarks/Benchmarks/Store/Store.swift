import Benchmark
import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSStore
import MLSStoreBenchSupport

// Persistence (MLSStore over SQLite: WAL, synchronous=FULL, so every save is one fsync) for
// regression tracking. Every measured region is one state transition as an application runs it
// through `PersistentGroup`, including its write:
//
// - `load_process_save N=3`: load a stored 3-member group, process one incoming application
//   message, save (`GroupStore.open` + `update { process }`);
// - `commit_save N=1024`: the creator of a 1024-member group commits a self-update with path and
//   saves the pending state (`update { commit() }`);
// - `process_commit_save N=1024`: another member processes such a commit and saves.
//
// Groups, databases and the incoming messages are built outside the measured region: the groups
// in each benchmark's setup, the message or commit each iteration consumes just before
// `startMeasurement()`, and the committer's merge just after `stopMeasurement()`.

/// Wall clock regressions are flagged beyond 20 % at the median (25 % at p75), as for the
/// ratchet-tree suite: fsync latency on these shared machines drifts by more than the default 5 %.
func configuration(maxIterations: Int, seconds: Int) -> Benchmark.Configuration {
    Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 1,
        maxDuration: .seconds(seconds),
        maxIterations: maxIterations,
        thresholds: [.wallClock: BenchmarkThresholds(relative: [.p50: 20.0, .p75: 25.0])]
    )
}

/// What one benchmark keeps across its iterations: its database, the stored member's handle
/// and the other member's in-memory state.
///
/// `@unchecked Sendable`: a benchmark's iterations run one at a time on one thread, and no two
/// benchmarks share a session.
final class Session: @unchecked Sendable {
    let directory: URL
    let store: GroupStore
    let groupID: [UInt8]
    /// The member whose state is stored (loaded, or kept as a handle, by the benchmark).
    let handle: PersistentGroup
    /// The other member, never stored: it sends messages or commits to `handle`.
    var peer: MLSGroup

    init(stored: MLSGroup, peer: MLSGroup) throws {
        directory = try StoreFixtures.temporaryDirectory()
        let storage = try SQLiteStorage(path: directory.appendingPathComponent("store.sqlite").path)
        store = try GroupStore(backend: storage, clientID: Array("me".utf8))
        handle = try store.create(stored)
        groupID = stored.groupID
        self.peer = peer
    }
}

/// Sessions by benchmark name, built in setup and removed (with their files) in teardown.
enum Sessions {
    private static let lock = NSLock()
    private static let largeLock = NSLock()
    nonisolated(unsafe) private static var sessions: [String: Session] = [:]
    nonisolated(unsafe) private static var large: [Int: LargeGroupFixture] = [:]
    // nonisolated(unsafe): every access to `sessions` holds `lock`, every access to `large`
    // holds `largeLock` (a session is made while `lock` is held, and may build a large group).

    static func session(_ name: String, _ make: () throws -> Session) throws -> Session {
        lock.lock()
        defer { lock.unlock() }
        if let s = sessions[name] { return s }
        let s = try make()
        sessions[name] = s
        return s
    }

    static func remove(_ name: String) {
        lock.lock()
        defer { lock.unlock() }
        if let s = sessions.removeValue(forKey: name) { try? FileManager.default.removeItem(at: s.directory) }
    }

    /// The N-member group (A = leaf 0, B = the last leaf), built once per process.
    static func largeGroup(_ n: Int) throws -> LargeGroupFixture {
        largeLock.lock()
        defer { largeLock.unlock() }
        if let f = large[n] { return f }
        let f = try LargeGroupFixture(n: n, groupID: Array("store-bench-\(n)".utf8))
        large[n] = f
        return f
    }
}

func smallGroupSession() throws -> Session {
    let f = try SmallGroupFixture(groupID: Array("store-bench-small".utf8), size: 3, me: StoreIdentity("me"),
                                  creator: StoreIdentity("sender"), others: [StoreIdentity("member-2")])
    return try Session(stored: f.me, peer: f.sender)
}

let benchmarks: @Sendable () -> Void = {
    let small = "load_process_save N=3"
    Benchmark(small, configuration: configuration(maxIterations: 1000, seconds: 2)) { benchmark in
        let s = try Sessions.session(small, smallGroupSession)
        let message = try s.peer.encrypt(Array("hello".utf8))
        benchmark.startMeasurement()
        guard let group = try s.store.open(s.groupID, configuration: GroupConfiguration()) else { throw StorageError.groupNotFound }
        let processed = try group.process(message)
        benchmark.stopMeasurement()
        guard processed.content == .application(Array("hello".utf8)) else { throw StoreFixtureError("message not read") }
    } setup: {
        _ = try Sessions.session(small, smallGroupSession)
    } teardown: {
        Sessions.remove(small)
    }

    let n = 1024
    let commit = "commit_save N=\(n)"
    let makeCommitter = {
        let f = try Sessions.largeGroup(n)
        return try Session(stored: f.a, peer: try f.joinB())
    }
    Benchmark(commit, configuration: configuration(maxIterations: 200, seconds: 3)) { benchmark in
        let s = try Sessions.session(commit, makeCommitter)
        benchmark.startMeasurement()
        let out = try s.handle.commit()
        benchmark.stopMeasurement()
        // Untimed: the commit comes back from the delivery service and is merged, so every
        // iteration starts from a merged state like a real session.
        _ = try s.handle.process(out.commit)
        blackHole(out)
    } setup: {
        _ = try Sessions.session(commit, makeCommitter)
    } teardown: {
        Sessions.remove(commit)
    }

    let process = "process_commit_save N=\(n)"
    let makeReceiver = {
        let f = try Sessions.largeGroup(n)
        return try Session(stored: try f.joinB(), peer: f.a)
    }
    Benchmark(process, configuration: configuration(maxIterations: 200, seconds: 3)) { benchmark in
        let s = try Sessions.session(process, makeReceiver)
        let out = try s.peer.commit()
        try s.peer.merge(out.pending)
        benchmark.startMeasurement()
        let processed = try s.handle.process(out.commit)
        benchmark.stopMeasurement()
        guard processed.content.commit?.removedSelf == false else { throw StoreFixtureError("commit not processed") }
    } setup: {
        _ = try Sessions.session(process, makeReceiver)
    } teardown: {
        Sessions.remove(process)
    }
}
