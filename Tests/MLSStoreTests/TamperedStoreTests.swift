import Foundation
import GRDB
@_spi(Engine) import MLS
import Testing
@_spi(Engine) @testable import MLSStore

/// A tampered store is hostile input too (Docs/Security.md): values of the wrong type in the
/// SQLite file, and records describing trees beyond the configured limits, are typed errors.
@Suite struct TamperedStoreTests {
    /// A store holding one group at epoch 3 with one node, tampered with `sql` behind
    /// SQLiteStorage's back, then opened again; `body` gets the reopened store.
    static func tampered(_ sql: String, group: [UInt8], _ body: (SQLiteStorage) throws -> Void) throws {
        let dir = try Fixture.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("store.sqlite").path
        do {
            let storage = try SQLiteStorage(path: path)
            var batch = StorageBatch()
            batch.groups = [GroupWrite(groupID: group, epoch: 3, record: [9], replacing: .unconditional, stamp: testStamp, upsertNodes: [(index: 0, blob: [1])], replaceAllNodes: true)]
            try storage.write(batch)
        }
        let db = try DatabaseQueue(path: path)
        try db.write { try $0.execute(sql: sql) }
        try db.close()
        try body(try SQLiteStorage(path: path))
    }

    /// Rows written by someone else: SQLite lets a TEXT, REAL or BLOB value into an INTEGER
    /// column of a non-STRICT table, where GRDB's non-optional subscripts would trap.
    @Test(arguments: ["'seven'", "1.5", "x'00'"])
    func wrongTypeInAnIntegerColumn(_ value: String) throws {
        try Self.tampered("UPDATE mls_group SET epoch = \(value)", group: [1, 2, 3]) { storage in
            #expect(throws: StorageError.self) { _ = try storage.readGroup([1, 2, 3]) }
            #expect(throws: StorageError.self) { _ = try storage.contents() }
        }
    }

    /// The compare-and-swap stamp is read from the file too: a value of the wrong type or length
    /// is a typed error on load, on `contents()`, and for a write that names the stored record,
    /// never a trap and never taken for a match.
    @Test(arguments: ["'0123456789abcdef'", "1.5", "7", "x'0102'", "zeroblob(17)"])
    func tamperedStamp(_ value: String) throws {
        try Self.tampered("UPDATE mls_group SET stamp = \(value)", group: [5]) { storage in
            #expect(throws: StorageError.self) { _ = try storage.readGroup([5]) }
            #expect(throws: StorageError.self) { _ = try storage.contents() }
            var batch = StorageBatch()
            batch.groups = [GroupWrite(groupID: [5], epoch: 4, record: [9], replacing: .current(epoch: 3, stamp: testStamp))]
            #expect(throws: StorageError.self) { try storage.write(batch) }
        }
    }

    @Test func nodeIndexOfTheWrongType() throws {
        try Self.tampered("UPDATE mls_tree_node SET node_index = 'zero'", group: [4]) { storage in
            #expect(throws: StorageError.self) { _ = try storage.readGroup([4]) }
        }
    }
}
