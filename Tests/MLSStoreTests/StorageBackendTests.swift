import Foundation
import Testing
@_spi(Engine) @testable import MLSStore

/// The backends every contract test runs against. Each test gets a fresh instance; the SQLite
/// file lives in its own temporary directory so the `-wal` and `-shm` files are removed with it.
enum BackendKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case inMemory
    case sqliteFile
    case sqliteInMemory

    var testDescription: String { rawValue }

    func make() throws -> Fixture {
        switch self {
        case .inMemory:
            return Fixture(backend: InMemoryStorage(), directory: nil)
        case .sqliteInMemory:
            return try Fixture(backend: SQLiteStorage.inMemory(), directory: nil)
        case .sqliteFile:
            let dir = try Fixture.makeTemporaryDirectory()
            return try Fixture(backend: SQLiteStorage(path: dir.appendingPathComponent("store.sqlite").path), directory: dir)
        }
    }
}

/// A backend under test and the directory to remove afterwards.
final class Fixture {
    var backend: any StorageBackend
    let directory: URL?

    init(backend: any StorageBackend, directory: URL?) {
        self.backend = backend
        self.directory = directory
    }

    var sqlite: SQLiteStorage? { backend as? SQLiteStorage }

    /// `contents()` is not (yet) a protocol requirement, so dispatch on the concrete type.
    func contents() throws -> StorageBatch {
        switch backend {
        case let s as SQLiteStorage: try s.contents()
        case let s as InMemoryStorage: try s.contents()
        default: throw StorageError.backend("no contents() for \(type(of: backend))")
        }
    }

    static func makeTemporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("MLSStoreTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Drops the current instance (closing its connection) and opens the same file again.
    func reopen() throws {
        guard let path = sqlite?.path else { return }
        backend = InMemoryStorage()
        backend = try SQLiteStorage(path: path)
    }

    deinit {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }
}

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// One fixed stamp for the contract tests' writes, so the rows they read back are predictable.
let testStamp = try! RecordStamp(validating: [UInt8](repeating: 0x5A, count: RecordStamp.byteCount))

private func nodes(_ indices: some Sequence<UInt32>, tag: String = "n") -> [(index: UInt32, blob: [UInt8])] {
    indices.map { (index: $0, blob: bytes("\(tag)\($0)")) }
}

private func nodeMap(_ indices: some Sequence<UInt32>, tag: String = "n") -> [UInt32: [UInt8]] {
    Dictionary(uniqueKeysWithValues: nodes(indices, tag: tag).map { ($0.index, $0.blob) })
}

private func batch(_ build: (inout StorageBatch) -> Void) -> StorageBatch {
    var b = StorageBatch()
    build(&b)
    return b
}

@Suite("StorageBackend contract")
struct StorageBackendContractTests {
    @Test(arguments: BackendKind.allCases)
    func groupsRoundTrip(_ kind: BackendKind) throws {
        let f = try kind.make()
        let a = bytes("group-a"), b = bytes("group-b")
        try f.backend.write(batch {
            $0.groups = [
                GroupWrite(groupID: b, epoch: 7, record: bytes("record-b"), replacing: .unconditional, stamp: testStamp, upsertNodes: nodes([0, 2, 4])),
                GroupWrite(groupID: a, epoch: UInt64.max, record: [], replacing: .unconditional, stamp: testStamp, upsertNodes: [(index: UInt32.max - 1, blob: []), (index: 1, blob: [0, 0xFF])],
                           replaceAllNodes: true),
            ]
        })
        #expect(try f.backend.readGroup(b) == StoredGroupRows(groupID: b, epoch: 7, record: bytes("record-b"), stamp: testStamp, nodes: nodeMap([0, 2, 4])))
        // Extremes: an epoch above Int64.max, an empty record, an empty node blob, the largest index.
        #expect(try f.backend.readGroup(a)
            == StoredGroupRows(groupID: a, epoch: UInt64.max, record: [], stamp: testStamp, nodes: [UInt32.max - 1: [], 1: [0, 0xFF]]))
        #expect(try f.backend.readGroup(bytes("missing")) == nil)
        #expect(try f.backend.groupIDs() == [a, b])

        try f.reopen()
        #expect(try f.backend.readGroup(a)?.epoch == UInt64.max)
        #expect(try f.backend.readGroup(b)?.nodes == nodeMap([0, 2, 4]))
    }

    @Test(arguments: BackendKind.allCases)
    func nodeUpsertDeleteTruncate(_ kind: BackendKind) throws {
        let f = try kind.make()
        let g = bytes("g")
        try f.backend.write(batch { $0.groups = [GroupWrite(groupID: g, epoch: 1, record: bytes("r1"), replacing: .unconditional, stamp: testStamp, upsertNodes: nodes(0..<10), replaceAllNodes: true)] })

        // Upsert replaces one blob, deletions blank two nodes, truncation drops the top two.
        try f.backend.write(batch {
            $0.groups = [GroupWrite(groupID: g, epoch: 2, record: bytes("r2"), replacing: .unconditional, stamp: testStamp, upsertNodes: [(index: 3, blob: bytes("new3"))],
                                    deleteNodes: [1, 2], truncateFrom: 8)]
        })
        var expected = nodeMap([0, 4, 5, 6, 7])
        expected[3] = bytes("new3")
        #expect(try f.backend.readGroup(g) == StoredGroupRows(groupID: g, epoch: 2, record: bytes("r2"), stamp: testStamp, nodes: expected))

        // A write with no node changes leaves the nodes alone.
        try f.backend.write(batch { $0.groups = [GroupWrite(groupID: g, epoch: 3, record: bytes("r3"), replacing: .unconditional, stamp: testStamp)] })
        #expect(try f.backend.readGroup(g) == StoredGroupRows(groupID: g, epoch: 3, record: bytes("r3"), stamp: testStamp, nodes: expected))

        // Upserts are applied after deletions and truncation, so they win for the same index.
        try f.backend.write(batch {
            $0.groups = [GroupWrite(groupID: g, epoch: 4, record: bytes("r4"), replacing: .unconditional, stamp: testStamp,
                                    upsertNodes: [(index: 5, blob: bytes("keep5")), (index: 6, blob: bytes("regrow6"))],
                                    deleteNodes: [5], truncateFrom: 5)]
        })
        #expect(try f.backend.readGroup(g)?.nodes == [0: bytes("n0"), 3: bytes("new3"), 4: bytes("n4"), 5: bytes("keep5"), 6: bytes("regrow6")])

        // Deleting a node that is already blank is not an error.
        try f.backend.write(batch { $0.groups = [GroupWrite(groupID: g, epoch: 5, record: bytes("r5"), replacing: .unconditional, stamp: testStamp, deleteNodes: [1, 99])] })
        #expect(try f.backend.readGroup(g)?.nodes.count == 5)

        // replaceAllNodes wipes everything first, including nodes not mentioned in the write.
        try f.backend.write(batch {
            $0.groups = [GroupWrite(groupID: g, epoch: 6, record: bytes("r6"), replacing: .unconditional, stamp: testStamp, upsertNodes: nodes([1, 2], tag: "x"), replaceAllNodes: true)]
        })
        #expect(try f.backend.readGroup(g) == StoredGroupRows(groupID: g, epoch: 6, record: bytes("r6"), stamp: testStamp, nodes: nodeMap([1, 2], tag: "x")))

        try f.backend.write(batch { $0.groups = [GroupWrite(groupID: g, epoch: 7, record: bytes("r7"), replacing: .unconditional, stamp: testStamp, replaceAllNodes: true)] })
        #expect(try f.backend.readGroup(g)?.nodes == [:])

        try f.reopen()
        #expect(try f.backend.readGroup(g) == StoredGroupRows(groupID: g, epoch: 7, record: bytes("r7"), stamp: testStamp, nodes: [:]))
    }

    @Test(arguments: BackendKind.allCases)
    func nodeChangesTouchOnlyTheirGroup(_ kind: BackendKind) throws {
        let f = try kind.make()
        let a = bytes("a"), b = bytes("b")
        try f.backend.write(batch {
            $0.groups = [GroupWrite(groupID: a, epoch: 1, record: bytes("ra"), replacing: .unconditional, stamp: testStamp, upsertNodes: nodes(0..<4)),
                         GroupWrite(groupID: b, epoch: 1, record: bytes("rb"), replacing: .unconditional, stamp: testStamp, upsertNodes: nodes(0..<4))]
        })
        try f.backend.write(batch {
            $0.groups = [GroupWrite(groupID: a, epoch: 2, record: bytes("ra2"), replacing: .unconditional, stamp: testStamp, deleteNodes: [0], truncateFrom: 2, replaceAllNodes: false)]
        })
        #expect(try f.backend.readGroup(a)?.nodes == nodeMap([1]))
        #expect(try f.backend.readGroup(b) == StoredGroupRows(groupID: b, epoch: 1, record: bytes("rb"), stamp: testStamp, nodes: nodeMap(0..<4)))
    }

    @Test(arguments: BackendKind.allCases)
    func deleteGroupsRemovesNodes(_ kind: BackendKind) throws {
        let f = try kind.make()
        let a = bytes("a"), b = bytes("b")
        try f.backend.write(batch {
            $0.groups = [GroupWrite(groupID: a, epoch: 1, record: bytes("ra"), replacing: .unconditional, stamp: testStamp, upsertNodes: nodes(0..<5)),
                         GroupWrite(groupID: b, epoch: 1, record: bytes("rb"), replacing: .unconditional, stamp: testStamp, upsertNodes: nodes(0..<3))]
        })
        try f.backend.write(batch { $0.deleteGroups = [a, bytes("never-stored")] })
        #expect(try f.backend.readGroup(a) == nil)
        #expect(try f.backend.groupIDs() == [b])
        #expect(try f.backend.readGroup(b)?.nodes == nodeMap(0..<3))

        // Recreating the group must not resurrect its old nodes.
        try f.backend.write(batch { $0.groups = [GroupWrite(groupID: a, epoch: 9, record: bytes("ra9"), replacing: .unconditional, stamp: testStamp)] })
        #expect(try f.backend.readGroup(a) == StoredGroupRows(groupID: a, epoch: 9, record: bytes("ra9"), stamp: testStamp, nodes: [:]))

        if let s = f.sqlite {
            #expect(try s.fetchIntForTesting("SELECT count(*) FROM mls_tree_node WHERE group_id = x'61'") == 0)
        }

        // A write and a delete of the same group in one batch: the delete is applied last.
        try f.backend.write(batch {
            $0.groups = [GroupWrite(groupID: b, epoch: 2, record: bytes("rb2"), replacing: .unconditional, stamp: testStamp, upsertNodes: nodes([7]))]
            $0.deleteGroups = [b]
        })
        #expect(try f.backend.readGroup(b) == nil)
        #expect(try f.backend.groupIDs() == [a])
        if let s = f.sqlite {
            #expect(try s.fetchIntForTesting("SELECT count(*) FROM mls_tree_node") == 0)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func keyPackagesPSKsAndValues(_ kind: BackendKind) throws {
        let f = try kind.make()
        try f.backend.write(batch {
            $0.putKeyPackages = [(ref: bytes("kp1"), blob: bytes("priv1")), (ref: bytes("kp2"), blob: bytes("priv2"))]
            $0.putPSKs = [(id: bytes("psk1"), blob: bytes("secret1")), (id: [], blob: [])]
            $0.putValues = [(namespace: "sync", key: bytes("token"), blob: bytes("t1")), (namespace: "queue", key: bytes("token"), blob: bytes("q1"))]
        })
        #expect(try f.backend.readKeyPackage(bytes("kp1")) == bytes("priv1"))
        #expect(try f.backend.readKeyPackage(bytes("kp2")) == bytes("priv2"))
        #expect(try f.backend.readKeyPackage(bytes("kp3")) == nil)
        #expect(try f.backend.readPSK(bytes("psk1")) == bytes("secret1"))
        #expect(try f.backend.readPSK([]) == [])
        // The same key in two namespaces is two values.
        #expect(try f.backend.readValue(namespace: "sync", key: bytes("token")) == bytes("t1"))
        #expect(try f.backend.readValue(namespace: "queue", key: bytes("token")) == bytes("q1"))
        #expect(try f.backend.readValue(namespace: "other", key: bytes("token")) == nil)

        // Overwrite and delete in one batch (a join consuming a KeyPackage while storing a new one).
        try f.backend.write(batch {
            $0.putKeyPackages = [(ref: bytes("kp2"), blob: bytes("priv2b"))]
            $0.deleteKeyPackages = [bytes("kp1"), bytes("absent")]
            $0.putPSKs = [(id: bytes("psk1"), blob: bytes("secret1b"))]
            $0.deletePSKs = [[]]
            $0.putValues = [(namespace: "sync", key: bytes("token"), blob: bytes("t2"))]
            $0.deleteValues = [(namespace: "queue", key: bytes("token"))]
        })
        #expect(try f.backend.readKeyPackage(bytes("kp1")) == nil)
        #expect(try f.backend.readKeyPackage(bytes("kp2")) == bytes("priv2b"))
        #expect(try f.backend.readPSK(bytes("psk1")) == bytes("secret1b"))
        #expect(try f.backend.readPSK([]) == nil)
        #expect(try f.backend.readValue(namespace: "sync", key: bytes("token")) == bytes("t2"))
        #expect(try f.backend.readValue(namespace: "queue", key: bytes("token")) == nil)

        // A put and a delete of the same key in one batch: the delete is applied last.
        try f.backend.write(batch {
            $0.putKeyPackages = [(ref: bytes("kp9"), blob: bytes("p9"))]
            $0.deleteKeyPackages = [bytes("kp9")]
        })
        #expect(try f.backend.readKeyPackage(bytes("kp9")) == nil)

        try f.reopen()
        #expect(try f.backend.readKeyPackage(bytes("kp2")) == bytes("priv2b"))
        #expect(try f.backend.readValue(namespace: "sync", key: bytes("token")) == bytes("t2"))
    }

    @Test(arguments: BackendKind.allCases)
    func byteOrdering(_ kind: BackendKind) throws {
        let f = try kind.make()
        // Unsigned byte order with shorter prefixes first: 0x80 sorts after 0x02 (no signed
        // comparison) and [0x01] before [0x01, 0x00].
        let keys: [[UInt8]] = [[0x80], [0x01, 0xFF], [0x02], [], [0x01, 0x00], [0x01], [0xFF, 0xFF, 0xFF]]
        let sorted: [[UInt8]] = [[], [0x01], [0x01, 0x00], [0x01, 0xFF], [0x02], [0x80], [0xFF, 0xFF, 0xFF]]
        try f.backend.write(batch {
            $0.putValues = keys.map { (namespace: "ns", key: $0, blob: [UInt8($0.count)] + $0) }
                + [(namespace: "ns2", key: [0x00], blob: bytes("other")), (namespace: "n", key: [0x00], blob: bytes("prefix"))]
            $0.groups = keys.filter { !$0.isEmpty }.map { GroupWrite(groupID: $0, epoch: 0, record: $0, replacing: .unconditional, stamp: testStamp) }
        })
        let values = try f.backend.values(namespace: "ns")
        #expect(values.map(\.key) == sorted)
        #expect(values.map(\.blob) == sorted.map { [UInt8($0.count)] + $0 })
        #expect(try f.backend.values(namespace: "ns2").map(\.blob) == [bytes("other")])
        #expect(try f.backend.values(namespace: "none").isEmpty)
        #expect(try f.backend.groupIDs() == sorted.filter { !$0.isEmpty })
    }

    @Test(arguments: BackendKind.allCases)
    func emptyBatchChangesNothing(_ kind: BackendKind) throws {
        let f = try kind.make()
        try f.backend.write(batch { $0.putValues = [(namespace: "ns", key: [1], blob: [2])] })
        try f.backend.write(StorageBatch())
        #expect(try f.backend.values(namespace: "ns").map(\.blob) == [[2]])
    }

    @Test(arguments: BackendKind.allCases)
    func concurrentWritersAndReaders(_ kind: BackendKind) throws {
        let f = try kind.make()
        let backend = f.backend
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            do {
                let id = [UInt8(i)]
                try backend.write(batch { $0.groups = [GroupWrite(groupID: id, epoch: UInt64(i), record: id, replacing: .unconditional, stamp: testStamp, upsertNodes: nodes(0..<3))] })
                if try backend.readGroup(id)?.epoch != UInt64(i) { failures.add("group \(i) not visible after its write") }
                _ = try backend.groupIDs()
            } catch {
                failures.add("\(error)")
            }
        }
        #expect(failures.all.isEmpty)
        #expect(try backend.groupIDs() == (0..<64).map { [UInt8($0)] })
    }
}

@Suite("StorageBackend compare-and-swap")
struct CompareAndSwapContractTests {
    let g = bytes("g")
    let s1 = RecordStamp.random(), s2 = RecordStamp.random(), s3 = RecordStamp.random()

    func write(_ epoch: UInt64, replacing: RecordPrecondition, stamp: RecordStamp, value: String = "v") -> StorageBatch {
        batch {
            $0.groups = [GroupWrite(groupID: g, epoch: epoch, record: bytes("r\(epoch)"), replacing: replacing, stamp: stamp,
                                    upsertNodes: nodes([UInt32(epoch)]))]
            $0.putValues = [(namespace: "ns", key: bytes(value), blob: [1])]
        }
    }

    /// Throws `.conflict`, and leaves every row (the group's and the batch's other rows) as it was.
    func expectRefused(_ b: StorageBatch, in f: Fixture, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try f.contents()
        #expect(throws: StorageError.conflict, sourceLocation: sourceLocation) { try f.backend.write(b) }
        #expect(try f.contents() == before, sourceLocation: sourceLocation)
    }

    @Test(arguments: BackendKind.allCases)
    func preconditionsAreCheckedAndNothingIsWrittenOnConflict(_ kind: BackendKind) throws {
        let f = try kind.make()
        // Replacing a record that does not exist, or must not exist.
        try expectRefused(write(1, replacing: .current(epoch: 1, stamp: s1), stamp: s2), in: f)
        try f.backend.write(write(1, replacing: .absent, stamp: s1, value: "a"))
        #expect(try f.backend.readGroup(g)?.stamp == s1)
        try expectRefused(write(1, replacing: .absent, stamp: s2, value: "b"), in: f)
        // The right stamp under the wrong epoch, the wrong stamp under the right epoch.
        try expectRefused(write(2, replacing: .current(epoch: 2, stamp: s1), stamp: s2, value: "b"), in: f)
        try expectRefused(write(2, replacing: .current(epoch: 1, stamp: s3), stamp: s2, value: "b"), in: f)
        try expectRefused(write(2, replacing: .current(epoch: 1, stamp: .legacy), stamp: s2, value: "b"), in: f)
        // The right one.
        try f.backend.write(write(2, replacing: .current(epoch: 1, stamp: s1), stamp: s2, value: "b"))
        let row = try #require(try f.backend.readGroup(g))
        #expect(row.epoch == 2 && row.stamp == s2 && row.record == bytes("r2"))
        // A second writer that loaded the same state as the first one now loses.
        try expectRefused(write(2, replacing: .current(epoch: 1, stamp: s1), stamp: s3, value: "c"), in: f)
        try f.reopen()
        #expect(try f.backend.readGroup(g)?.stamp == s2)
        #expect(try f.backend.values(namespace: "ns").map(\.key) == [bytes("a"), bytes("b")])
    }

    @Test(arguments: BackendKind.allCases)
    func writesInOneBatchAreCheckedInOrder(_ kind: BackendKind) throws {
        let f = try kind.make()
        try f.backend.write(write(1, replacing: .absent, stamp: s1))
        // Two transitions of the same group in one batch chain: the second replaces the first.
        var chained = write(2, replacing: .current(epoch: 1, stamp: s1), stamp: s2)
        chained.groups += write(3, replacing: .current(epoch: 2, stamp: s2), stamp: s3).groups
        try f.backend.write(chained)
        #expect(try f.backend.readGroup(g)?.stamp == s3)
        // Two prepared from the same state: the second fails, and takes the first down with it.
        var forked = write(4, replacing: .current(epoch: 3, stamp: s3), stamp: s1)
        forked.groups += write(4, replacing: .current(epoch: 3, stamp: s3), stamp: s2).groups
        forked.groups.append(GroupWrite(groupID: bytes("other"), epoch: 1, record: [1], replacing: .absent))
        try expectRefused(forked, in: f)
        #expect(try f.backend.readGroup(bytes("other")) == nil)
        // A deleted group can be created again, and a write naming the deleted record fails.
        try f.backend.write(batch { $0.deleteGroups = [g] })
        try expectRefused(write(4, replacing: .current(epoch: 3, stamp: s3), stamp: s1), in: f)
        try f.backend.write(write(1, replacing: .absent, stamp: s1))
    }

    @Test(arguments: BackendKind.allCases)
    func unconditionalWritesAndContentsKeepStamps(_ kind: BackendKind) throws {
        let f = try kind.make()
        try f.backend.write(write(1, replacing: .absent, stamp: s1))
        try f.backend.write(write(2, replacing: .unconditional, stamp: .legacy))
        #expect(try f.backend.readGroup(g)?.stamp == .legacy)
        try f.backend.write(write(3, replacing: .current(epoch: 2, stamp: .legacy), stamp: s3))
        let contents = try f.contents()
        #expect(contents.groups.map(\.stamp) == [s3])
        #expect(contents.groups.map(\.replacing) == [.unconditional])
        let copy = try kind.make()
        try copy.backend.write(contents)
        #expect(try copy.backend.readGroup(g)?.stamp == s3)
    }
}

@Test func contentsAgreeAcrossBackendsAndRoundTrip() throws {
    let fixtures = try BackendKind.allCases.map { try $0.make() }
    let history: [StorageBatch] = [
        batch {
            $0.groups = [GroupWrite(groupID: [0x80], epoch: 1, record: [1], replacing: .unconditional, stamp: testStamp, upsertNodes: nodes([4, 0, 2]), replaceAllNodes: true),
                         GroupWrite(groupID: [0x01], epoch: 5, record: [], replacing: .unconditional, stamp: testStamp, upsertNodes: [(index: 0, blob: [])])]
            $0.putKeyPackages = [(ref: [9], blob: [9]), (ref: [1], blob: [1])]
            $0.putPSKs = [(id: [], blob: [3])]
            $0.putValues = [(namespace: "b", key: [2], blob: [2]), (namespace: "a", key: [0xFF], blob: []), (namespace: "a", key: [], blob: [0])]
        },
        batch {
            $0.groups = [GroupWrite(groupID: [0x80], epoch: 2, record: [2], replacing: .unconditional, stamp: testStamp, upsertNodes: nodes([6]), deleteNodes: [2], truncateFrom: 5)]
            $0.deleteKeyPackages = [[9]]
            $0.deleteValues = [(namespace: "b", key: [2])]
            $0.putGroupsToDelete()
        },
    ]
    for f in fixtures { for b in history { try f.backend.write(b) } }
    let reference = try fixtures[0].contents()
    #expect(reference.groups.map(\.groupID) == [[0x01], [0x80]])
    #expect(reference.groups[1].upsertNodes.map(\.index) == [0, 4, 6])
    #expect(reference.putValues.map(\.namespace) == ["a", "a"])
    #expect(reference.putValues.map(\.key) == [[], [0xFF]])
    for f in fixtures.dropFirst() {
        #expect(try f.contents() == reference)
        #expect(try f.contents().canonicalDigest() == reference.canonicalDigest())
    }
    // Writing the contents into an empty store reproduces it.
    for kind in BackendKind.allCases {
        let copy = try kind.make()
        try copy.backend.write(reference)
        #expect(try copy.contents() == reference)
    }
}

extension StorageBatch {
    /// A group that exists only to be deleted in the same batch.
    fileprivate mutating func putGroupsToDelete() {
        groups.append(GroupWrite(groupID: [0x42], epoch: 1, record: [1], replacing: .unconditional, stamp: testStamp, upsertNodes: nodes([0])))
        deleteGroups.append([0x42])
    }
}

/// Collects failures from concurrent closures, which cannot call `#expect` on shared state safely.
private final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}

@Suite("InMemoryStorage")
struct InMemoryStorageTests {
    @Test func countsWritesAndPayload() throws {
        let s = InMemoryStorage()
        let b = batch {
            $0.groups = [GroupWrite(groupID: [1], epoch: 1, record: [1, 2, 3], replacing: .unconditional, stamp: testStamp, upsertNodes: [(index: 0, blob: [9, 9])])]
            $0.putKeyPackages = [(ref: [7], blob: [1, 1, 1, 1])]
            $0.putValues = [(namespace: "ns", key: [1], blob: [5])]
        }
        try s.write(b)
        try s.write(b)
        #expect(s.writeCount == 2)
        #expect(s.bytesWritten == 2 * b.payloadBytes)
        #expect(b.payloadBytes == 3 + 2 + 4 + 1)
    }
}

@Suite("SQLiteStorage")
struct SQLiteStorageTests {
    @Test func pragmasOnEveryOpen() throws {
        let f = try BackendKind.sqliteFile.make()
        for _ in 0..<2 {
            let s = try #require(f.sqlite)
            #expect(try s.pragma("journal_mode") == "wal")
            #expect(try s.pragma("secure_delete") == "1")
            #expect(try s.pragma("synchronous") == "2")  // FULL
            #expect(try s.pragma("foreign_keys") == "1")
            try f.reopen()
        }
        let s = try #require(f.sqlite)
        #expect(throws: StorageError.self) { try s.pragma("journal_mode = DELETE") }
        #expect(try s.pragma("journal_mode") == "wal")

        let m = try SQLiteStorage.inMemory()
        #expect(m.path == nil)
        #expect(try m.pragma("secure_delete") == "1")
        #expect(m.walBytes() == 0)
    }

    @Test func batchIsFullyVisibleAfterReopen() throws {
        let f = try BackendKind.sqliteFile.make()
        try f.backend.write(batch {
            $0.putKeyPackages = [(ref: bytes("kp-used"), blob: bytes("priv"))]
            $0.groups = [GroupWrite(groupID: bytes("old"), epoch: 1, record: bytes("old"), replacing: .unconditional, stamp: testStamp)]
        })
        // One transition: a join that consumes the KeyPackage, plus a second group and a value.
        let transition = batch {
            $0.groups = [GroupWrite(groupID: bytes("joined"), epoch: 3, record: bytes("rec"), replacing: .unconditional, stamp: testStamp, upsertNodes: nodes(0..<7), replaceAllNodes: true)]
            $0.deleteGroups = [bytes("old")]
            $0.deleteKeyPackages = [bytes("kp-used")]
            $0.putPSKs = [(id: bytes("psk"), blob: bytes("s"))]
            $0.putValues = [(namespace: "sync", key: bytes("cursor"), blob: bytes("42"))]
        }
        try f.backend.write(transition)
        try f.reopen()
        #expect(try f.backend.readGroup(bytes("joined")) == StoredGroupRows(groupID: bytes("joined"), epoch: 3, record: bytes("rec"), stamp: testStamp, nodes: nodeMap(0..<7)))
        #expect(try f.backend.groupIDs() == [bytes("joined")])
        #expect(try f.backend.readKeyPackage(bytes("kp-used")) == nil)
        #expect(try f.backend.readPSK(bytes("psk")) == bytes("s"))
        #expect(try f.backend.readValue(namespace: "sync", key: bytes("cursor")) == bytes("42"))
    }

    /// A trigger aborts the last statement of a batch; every earlier change of that batch must
    /// be rolled back, and the connection must stay usable.
    @Test func failedBatchLeavesNoTrace() throws {
        let f = try BackendKind.sqliteFile.make()
        let s = try #require(f.sqlite)
        let before = batch {
            $0.groups = [GroupWrite(groupID: bytes("g"), epoch: 1, record: bytes("r1"), replacing: .unconditional, stamp: testStamp, upsertNodes: nodes(0..<4))]
            $0.putKeyPackages = [(ref: bytes("kp"), blob: bytes("priv"))]
        }
        try s.write(before)
        try s.executeForTesting("""
            CREATE TRIGGER poison BEFORE INSERT ON mls_value WHEN NEW.namespace = 'poison'
            BEGIN SELECT RAISE(ABORT, 'poisoned value'); END;
            """)

        let failing = batch {
            $0.groups = [GroupWrite(groupID: bytes("g"), epoch: 2, record: bytes("r2"), replacing: .unconditional, stamp: testStamp, upsertNodes: [(index: 9, blob: bytes("x"))],
                                    deleteNodes: [0], truncateFrom: 3),
                         GroupWrite(groupID: bytes("h"), epoch: 1, record: bytes("rh"), replacing: .unconditional, stamp: testStamp, upsertNodes: nodes(0..<2))]
            $0.deleteKeyPackages = [bytes("kp")]
            $0.putPSKs = [(id: bytes("psk"), blob: bytes("s"))]
            $0.putValues = [(namespace: "fine", key: [1], blob: [1]), (namespace: "poison", key: [1], blob: [1])]
        }
        let error = #expect(throws: StorageError.self) { try s.write(failing) }
        if case let .backend(message) = error {
            #expect(message.contains("poisoned value"))
        } else {
            Issue.record("expected StorageError.backend, got \(String(describing: error))")
        }

        func expectUnchanged(_ b: any StorageBackend) throws {
            #expect(try b.readGroup(bytes("g")) == StoredGroupRows(groupID: bytes("g"), epoch: 1, record: bytes("r1"), stamp: testStamp, nodes: nodeMap(0..<4)))
            #expect(try b.readGroup(bytes("h")) == nil)
            #expect(try b.groupIDs() == [bytes("g")])
            #expect(try b.readKeyPackage(bytes("kp")) == bytes("priv"))
            #expect(try b.readPSK(bytes("psk")) == nil)
            #expect(try b.values(namespace: "fine").isEmpty)
        }
        try expectUnchanged(s)

        // No transaction was left open: the next batch commits normally.
        try s.write(batch { $0.putValues = [(namespace: "fine", key: [2], blob: [2])] })
        #expect(try s.readValue(namespace: "fine", key: [2]) == [2])

        try f.reopen()
        #expect(try f.backend.readGroup(bytes("g"))?.epoch == 1)
        #expect(try f.backend.readPSK(bytes("psk")) == nil)
        #expect(try f.backend.readValue(namespace: "fine", key: [2]) == [2])
    }

    /// The layout's point: a commit that changes k nodes of a large tree writes k node rows, and
    /// appends far less to the WAL than writing the whole tree did.
    @Test func commitRewritesOnlyChangedNodes() throws {
        let f = try BackendKind.sqliteFile.make()
        let s = try #require(f.sqlite)
        try s.setAutoCheckpoint(0)
        let g = bytes("big-group")
        let blob = [UInt8](repeating: 0xAB, count: 96)

        try s.checkpoint()
        #expect(s.walBytes() == 0)
        try s.write(batch {
            $0.groups = [GroupWrite(groupID: g, epoch: 1, record: bytes("r1"), replacing: .unconditional, stamp: testStamp, upsertNodes: (0..<2047).map { (index: $0, blob: blob) },
                                    replaceAllNodes: true)]
        })
        let fullWrite = s.walBytes()

        try s.executeForTesting("""
            CREATE TEMP TABLE node_writes(n INTEGER NOT NULL);
            INSERT INTO node_writes VALUES (0);
            CREATE TEMP TRIGGER count_insert AFTER INSERT ON main.mls_tree_node BEGIN UPDATE node_writes SET n = n + 1; END;
            CREATE TEMP TRIGGER count_update AFTER UPDATE ON main.mls_tree_node BEGIN UPDATE node_writes SET n = n + 1; END;
            CREATE TEMP TRIGGER count_delete AFTER DELETE ON main.mls_tree_node BEGIN UPDATE node_writes SET n = n + 1; END;
            """)
        try s.checkpoint()
        #expect(s.walBytes() == 0)
        // A commit along one direct path of a 1024-leaf tree: 11 nodes change, one is blanked.
        let path: [UInt32] = [0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 1023]
        try s.write(batch {
            $0.groups = [GroupWrite(groupID: g, epoch: 2, record: bytes("r2"), replacing: .unconditional, stamp: testStamp, upsertNodes: path.map { (index: $0, blob: [UInt8](repeating: 0xCD, count: 96)) },
                                    deleteNodes: [2])]
        })
        let pathWrite = s.walBytes()
        #expect(try s.fetchIntForTesting("SELECT n FROM node_writes") == path.count + 1)
        #expect(pathWrite > 0)
        #expect(pathWrite * 4 < fullWrite, "path commit appended \(pathWrite) WAL bytes, full tree \(fullWrite)")
        #expect(try s.readGroup(g)?.nodes.count == 2046)
        #expect(try s.readGroup(g)?.nodes[1023] == [UInt8](repeating: 0xCD, count: 96))
    }
}
