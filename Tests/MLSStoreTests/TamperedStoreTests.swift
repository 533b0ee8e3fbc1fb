import Foundation
import GRDB
import MLS
import Testing
@testable import MLSStore

/// A tampered store is hostile input too (Docs/Security.md): values of the wrong type in the
/// SQLite file, and records describing trees beyond the configured limits, are typed errors.
@Suite struct TamperedStoreTests {
    /// Rows written by someone else: SQLite lets a TEXT or REAL value into an INTEGER column of a
    /// non-STRICT table, where GRDB's non-optional subscripts would trap.
    @Test(arguments: ["'seven'", "1.5", "x'00'"])
    func wrongTypeInAnIntegerColumn(_ value: String) throws {
        let dir = try Fixture.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("store.sqlite").path
        let group: [UInt8] = [1, 2, 3]
        do {
            let storage = try SQLiteStorage(path: path)
            var batch = StorageBatch()
            batch.groups = [GroupWrite(groupID: group, epoch: 3, record: [9], upsertNodes: [(index: 0, blob: [1])], replaceAllNodes: true)]
            try storage.write(batch)
        }
        let db = try DatabaseQueue(path: path)
        try db.write { try $0.execute(sql: "UPDATE mls_group SET epoch = \(value)") }
        try db.close()
        let storage = try SQLiteStorage(path: path)
        #expect(throws: StorageError.self) { _ = try storage.readGroup(group) }
        #expect(throws: StorageError.self) { _ = try storage.contents() }
    }

    @Test func nodeIndexOfTheWrongType() throws {
        let dir = try Fixture.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("store.sqlite").path
        let group: [UInt8] = [4]
        do {
            let storage = try SQLiteStorage(path: path)
            var batch = StorageBatch()
            batch.groups = [GroupWrite(groupID: group, epoch: 3, record: [9], upsertNodes: [(index: 0, blob: [1])], replaceAllNodes: true)]
            try storage.write(batch)
        }
        let db = try DatabaseQueue(path: path)
        try db.write { try $0.execute(sql: "UPDATE mls_tree_node SET node_index = 'zero'") }
        try db.close()
        let storage = try SQLiteStorage(path: path)
        #expect(throws: StorageError.self) { _ = try storage.readGroup(group) }
    }
}
