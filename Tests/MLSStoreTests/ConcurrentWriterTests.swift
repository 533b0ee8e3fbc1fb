import Foundation
@_spi(Engine) import MLS
import Synchronization
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLSStore

/// Several writers of one group: handles in one process, and two processes on one SQLite file.
/// Each write names the stored record it replaces; a writer that lost the race gets
/// `StorageError.conflict`, nothing of its batch is written, and after a reload it can go on.
@Suite struct ConcurrentWriterTests {
    let cast = Cast()
    let config = GroupConfiguration()

    static let backends: [String] = ["memory", "sqlite"]

    func store(_ kind: String) throws -> GroupStore {
        try GroupStore(backend: kind == "memory" ? InMemoryStorage() : try SQLiteStorage(path: sqliteFile()))
    }

    @Test("two handles of one group: the second writer gets .conflict, keeps its state, and goes on after a reload", arguments: backends)
    func twoHandles(kind: String) throws {
        let store = try store(kind)
        try store.create(try cast.members(1)[0])
        let first = try #require(try store.open(cast.groupID, configuration: config))
        let second = try #require(try store.open(cast.groupID, configuration: config))
        #expect(first.stamp == second.stamp)

        let ct = try first.update { try $0.encrypt([1]) }
        let before = second.group
        let stampBefore = second.stamp
        var extra = StorageBatch()
        extra.putValues.append(try store.valueWrite(namespace: "outbox", key: [1], value: [1]))
        #expect(throws: StorageError.conflict) { try second.update(with: extra) { try $0.encrypt([2]) } }
        // Nothing was written: the store holds the first writer's state, the extra value is absent.
        expectSameState(try #require(try store.loadGroup(cast.groupID, configuration: config)), first.group)
        #expect(try store.value(namespace: "outbox", key: [1]) == nil)
        // The loser is unchanged.
        expectSameState(second.group, before)
        #expect(second.stamp == stampBefore)
        // After a reload it continues from the winner's state, and now the first handle is stale.
        try second.reload()
        expectSameState(second.group, first.group)
        let next = try second.update(with: extra) { try $0.encrypt([2]) }
        #expect(try store.value(namespace: "outbox", key: [1]) == [1])
        #expect(throws: StorageError.conflict) { try first.update { try $0.encrypt([3]) } }
        // The loser's message was encrypted again from the winner's state: no key was used twice.
        guard case let .privateMessage(a) = ct.body, case let .privateMessage(b) = next.body else { Issue.record("not private"); return }
        #expect(a.ciphertext != b.ciphertext)
        try first.reload()
        expectSameState(first.group, second.group)
    }

    @Test("a handle is a reference: a copy shares its state")
    func handleIsAReference() throws {
        let store = try store("memory")
        let handle = try store.create(try cast.members(1)[0])
        let copy = handle
        _ = try copy.update { try $0.encrypt([1]) }
        #expect(handle.stamp == copy.stamp)
        _ = try handle.update { try $0.encrypt([2]) }  // no conflict: one handle, one state
    }

    @Test("prepared transitions: several groups commit in one atomic write, or none does", arguments: backends)
    func preparedTransitions(kind: String) throws {
        let store = try store(kind)
        let alice = try store.create(try cast.members(1)[0])
        let other = try MLSGroup.create(suite: cast.suite, groupID: Array("other".utf8), creator: try Cast.bundle("o", suite: cast.suite))
        let bob = try store.create(other)
        let stale = try #require(try store.open(other.groupID, configuration: config))

        // Both in one write, with a value that depends on the results.
        let (ctA, tA) = try alice.prepareUpdate { try $0.encrypt([1]) }
        let (ctB, tB) = try bob.prepareUpdate { try $0.encrypt([2]) }
        #expect(alice.group.epoch == tA.next.epoch)
        var queue = StorageBatch()
        queue.putValues.append(try store.valueWrite(namespace: "q", key: [1], value: ctA.tlsSerialized + ctB.tlsSerialized))
        let handles = try store.commit([tA, tB], with: queue)
        #expect(handles[0] === alice && handles[1] === bob)
        expectSameState(alice.group, tA.next)
        expectSameState(bob.group, tB.next)
        #expect(try store.value(namespace: "q", key: [1]) != nil)

        // One stale transition takes the whole write down; no handle moves.
        let aliceBefore = alice.stamp
        let (_, fresh) = try alice.prepareUpdate { try $0.encrypt([3]) }
        let (_, old) = try stale.prepareUpdate { try $0.encrypt([4]) }
        var queue2 = StorageBatch()
        queue2.putValues.append(try store.valueWrite(namespace: "q", key: [2], value: [2]))
        #expect(throws: StorageError.conflict) { try store.commit([fresh, old], with: queue2) }
        #expect(alice.stamp == aliceBefore)
        #expect(try store.value(namespace: "q", key: [2]) == nil)
        expectSameState(try #require(try store.loadGroup(cast.groupID, configuration: config)), alice.group)

        // A transition commits once; the second time it replaces a record that is gone.
        try store.commit(fresh)
        #expect(throws: StorageError.conflict) { try store.commit(fresh) }
        // Two transitions prepared from one state: the first to commit wins.
        let (_, one) = try alice.prepareUpdate { try $0.encrypt([5]) }
        let (_, two) = try alice.prepareUpdate { try $0.encrypt([6]) }
        try store.commit(two)
        #expect(throws: StorageError.conflict) { try store.commit(one) }
        expectSameState(alice.group, two.next)
        // A transition that is never committed changes nothing.
        _ = try alice.prepareUpdate { try $0.encrypt([7]) }
        expectSameState(try #require(try store.loadGroup(cast.groupID, configuration: config)), alice.group)
        // Creating a group that is stored already is a conflict too.
        #expect(throws: StorageError.conflict) { try store.create(try cast.members(1)[0]) }
    }

    @Test("a transition commits only through a store over its own backend")
    func foreignTransition() throws {
        let mine = try store("memory")
        let handle = try mine.create(try cast.members(1)[0])
        let (_, transition) = try handle.prepareUpdate { try $0.encrypt([1]) }
        let elsewhere = try store("memory")
        #expect(throws: StorageError.foreignTransition) { try elsewhere.commit(transition) }
        // Another client's store over the same backend may carry it.
        let sibling = try GroupStore(backend: mine.backend, clientID: Array("sibling".utf8))
        try sibling.commit(transition)
        expectSameState(handle.group, transition.next)
    }

    @Test("concurrent transitions of one handle: each either wins or gets .conflict, and the store ends at the handle's state")
    func concurrentUpdatesOfOneHandle() throws {
        let store = try store("sqlite")
        let handle = try store.create(try cast.members(1)[0])
        let outcomes = Mutex<(won: Int, lost: Int, other: [String])>((0, 0, []))
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            do {
                _ = try handle.update { try $0.encrypt([UInt8(i)]) }
                outcomes.withLock { $0.won += 1 }
            } catch StorageError.conflict {
                outcomes.withLock { $0.lost += 1 }
            } catch {
                outcomes.withLock { $0.other.append("\(error)") }
            }
        }
        let result = outcomes.withLock { $0 }
        #expect(result.other.isEmpty)
        #expect(result.won >= 1 && result.won + result.lost == 16)
        expectSameState(try #require(try store.loadGroup(cast.groupID, configuration: config)), handle.group)
        _ = try handle.update { try $0.encrypt([99]) }
    }

    // MARK: Two processes

    /// The `mls` executable built beside this test bundle (or `MLS_CLI`).
    static func mlsExecutable() -> URL? {
        if let path = ProcessInfo.processInfo.environment["MLS_CLI"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? Bundle.main.executablePath ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: me).deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = dir.appendingPathComponent("mls")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    /// `mls store cas-writer` on `path`: it loads the group and waits for a line on stdin.
    final class Writer {
        let process = Process()
        let input = Pipe()
        let output = Pipe()
        var lines: [String] = []
        private var buffer: [UInt8] = []

        init(mls: URL, path: String, groupID: [UInt8]) throws {
            process.executableURL = mls
            process.arguments = ["store", "cas-writer", "--db", path, "--group", Hex.encode(groupID)]
            process.standardInput = input
            process.standardOutput = output
            try process.run()
        }

        /// The next line the writer prints (blocking until it does).
        func readLine() -> String? {
            while true {
                if let newline = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[..<newline], as: UTF8.self)
                    buffer.removeSubrange(...newline)
                    lines.append(line)
                    return line
                }
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }
                buffer += chunk
            }
        }

        func go() {
            input.fileHandleForWriting.write(Data("go\n".utf8))
        }

        func finish() -> Int32 {
            while readLine() != nil {}
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    @Test("two processes on one SQLite file: whichever writes second gets .conflict, and continues after a reload")
    func twoProcesses() throws {
        guard let mls = Self.mlsExecutable() else {
            Issue.record("the mls executable was not found beside the test bundle; build it (swift build) or set MLS_CLI")
            return
        }
        let path = sqliteFile()
        let store = try GroupStore(backend: try SQLiteStorage(path: path))
        try store.create(try cast.members(1)[0])
        let mine = try #require(try store.open(cast.groupID, configuration: config))
        #expect(mine.epoch == 0)

        // 1. The other process writes first; this one, holding epoch 0, loses.
        let other = try Writer(mls: mls, path: path, groupID: cast.groupID)
        #expect(other.readLine() == "loaded 0")
        other.go()
        #expect(other.readLine() == "wrote 1")
        #expect(other.finish() == 0)
        #expect(throws: StorageError.conflict) {
            try mine.update { group in
                let made = try group.commit()
                try group.merge(made.pending)
            }
        }
        #expect(mine.epoch == 0)
        #expect(try store.loadGroup(cast.groupID, configuration: config)?.epoch == 1)
        try mine.reload()
        #expect(mine.epoch == 1)

        // 2. Both hold epoch 1; this one writes first, and the other process loses, reloads and goes on.
        let loser = try Writer(mls: mls, path: path, groupID: cast.groupID)
        #expect(loser.readLine() == "loaded 1")
        try mine.update { group in
            let made = try group.commit()
            try group.merge(made.pending)
        }
        #expect(mine.epoch == 2)
        loser.go()
        #expect(loser.finish() == 0)
        #expect(loser.lines == ["loaded 1", "conflict", "reloaded 2", "wrote 3"])
        #expect(throws: StorageError.conflict) { try mine.update { try $0.encrypt([1]) } }
        try mine.reload()
        #expect(mine.epoch == 3)
        _ = try mine.update { try $0.encrypt([1]) }
        print("two-process compare-and-swap: first child \(other.lines), second child \(loser.lines)")
    }
}
