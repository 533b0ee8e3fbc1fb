import Foundation
import GRDB

/// The embedded ``StorageBackend``: one SQLite file (via GRDB) in WAL mode, written with one
/// transaction per ``StorageBatch``.
///
/// The layout keeps one row per non-blank tree node, keyed by (group, node index), so a commit
/// that changes k nodes rewrites k small rows plus the group record: O(log N) rows per commit,
/// never the whole tree.
///
/// Durability and hygiene settings, applied to every connection:
/// - `journal_mode=WAL` so a commit appends to the log instead of rewriting pages in place and
///   a torn write can never damage committed state;
/// - `synchronous=FULL` so the WAL is fsynced at every commit: once ``write(_:)`` returns, the
///   batch survives a kill or a power loss. `NORMAL`, the usual WAL choice and GRDB's default,
///   can roll back the last commits on power loss, which would bring back secrets a transition
///   had already deleted (a used message key, a consumed KeyPackage) after the peer moved on;
/// - `secure_delete=ON` so deleted rows (used KeyPackage private keys, old epochs' nodes) are
///   overwritten with zeros in the database file rather than left in free space;
/// - `foreign_keys=ON` so no node row can exist without its group row.
///
/// Deleted bytes can still linger in the `-wal` file (old page images) until a checkpoint
/// copies the pages back and the log is reset; ``checkpoint()`` truncates it.
public final class SQLiteStorage: StorageBackend {
    /// The database file, or `nil` for an in-memory database.
    public let path: String?

    // A DatabaseQueue (one connection) rather than a DatabasePool: the backend's reads are
    // point lookups that take microseconds, so concurrent readers would buy little, while a
    // single connection makes per-connection settings (wal_autocheckpoint, cached statements)
    // apply to every access, keeps `checkpoint(TRUNCATE)` from being blocked by a reader
    // holding an old snapshot, and works for in-memory databases, which a pool cannot open.
    private let dbQueue: DatabaseQueue

    // The placeholder for every BLOB parameter. SQLite binds a blob given a null pointer as
    // NULL, and an empty `Data` may hand GRDB a null base address (platform-dependent), which
    // would turn an empty record, key or ID into NULL: a NOT NULL failure on write and a miss on
    // lookup. None of these parameters is ever meant to be NULL, so NULL is mapped back to x''.
    private static let B = "coalesce(?, x'')"

    /// Opens or creates the database file at `path` and brings its schema up to date.
    ///
    /// - Throws: ``StorageError/backend(_:)`` if the file cannot be opened, is not a database,
    ///   or cannot be put in WAL mode (for example on a file system without shared memory).
    public convenience init(path: String) throws {
        try self.init(path: path, queue: { try DatabaseQueue(path: path, configuration: $0) })
    }

    /// A private database in memory, gone when the instance is released: for tests that want
    /// SQLite's semantics without a file. The journal mode is `memory`, not WAL.
    public static func inMemory() throws -> SQLiteStorage {
        try SQLiteStorage(path: nil, queue: { try DatabaseQueue(configuration: $0) })
    }

    private init(path: String?, queue: (Configuration) throws -> DatabaseQueue) throws {
        self.path = path
        var config = Configuration()
        config.label = "MLSStore.SQLiteStorage"
        config.foreignKeysEnabled = true
        // Another process holding the write lock for a moment should delay us, not fail us.
        config.busyMode = .timeout(5)
        // Error messages must never echo bound arguments: those are keys and secrets.
        config.publicStatementArguments = false
        // `journalMode` stays `.default`: GRDB's `.wal` setup runs after `prepareDatabase` and
        // lowers `synchronous` to NORMAL, which would silently undo the durability guarantee.
        config.prepareDatabase { db in
            let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            // An in-memory database reports "memory" and has no WAL to speak of.
            if mode != "wal", mode != "memory" {
                throw DatabaseError(message: "could not enable WAL mode (journal_mode is \(mode ?? "unknown"))")
            }
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA secure_delete = ON")
            // secure_delete wipes freed pages in the database file, but superseded page images
            // (old records holding since-deleted keys) also sit in the WAL until a checkpoint
            // resets it. A size limit of 0 truncates the WAL at every reset, so those frames
            // leave the file at the next (auto)checkpoint instead of lingering until overwritten.
            try db.execute(sql: "PRAGMA journal_size_limit = 0")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        do {
            dbQueue = try queue(config)
            try Self.migrator.migrate(dbQueue)
        } catch {
            throw Self.mapError(error)
        }
    }

    /// The schema, versioned so later releases can migrate files written by this one. Internal
    /// so tests can build a file of an older schema (`migrate(_:upTo:)`).
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            // WITHOUT ROWID: every table is looked up by its (blob) primary key only, so
            // clustering rows on that key saves the separate rowid b-tree and one lookup.
            try db.execute(sql: """
                CREATE TABLE mls_group(
                    group_id BLOB PRIMARY KEY,
                    epoch INTEGER NOT NULL,
                    record BLOB NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE mls_tree_node(
                    group_id BLOB NOT NULL REFERENCES mls_group(group_id) ON DELETE CASCADE,
                    node_index INTEGER NOT NULL,
                    blob BLOB NOT NULL,
                    PRIMARY KEY(group_id, node_index)
                ) WITHOUT ROWID;
                CREATE TABLE mls_key_package(
                    ref BLOB PRIMARY KEY,
                    blob BLOB NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE mls_psk(
                    id BLOB PRIMARY KEY,
                    blob BLOB NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE mls_value(
                    namespace TEXT NOT NULL,
                    key BLOB NOT NULL,
                    blob BLOB NOT NULL,
                    PRIMARY KEY(namespace, key)
                ) WITHOUT ROWID;
                """)
        }
        m.registerMigration("v2") { db in
            // The stamp each record is written under, for compare-and-swap writes. Rows of a v1
            // file get the empty (legacy) stamp, which their next write replaces.
            try db.execute(sql: "ALTER TABLE mls_group ADD COLUMN stamp BLOB NOT NULL DEFAULT x''")
        }
        return m
    }

    // MARK: - Writing

    /// Applies the batch in one IMMEDIATE transaction, so it is all-or-nothing and, with
    /// `synchronous=FULL`, durable once this returns.
    ///
    /// Compare-and-swap: before each group write, its ``GroupWrite/replacing`` is checked
    /// against the row inside the same transaction. IMMEDIATE holds the file's write lock from
    /// the start, so no other connection or process can commit between that check and this
    /// commit; a precondition that does not hold throws ``StorageError/conflict`` and rolls the
    /// whole batch back.
    ///
    /// Within each group write the order is: record, full node wipe, node deletions,
    /// truncation, node upserts, so an upsert always wins over a deletion of the same index.
    /// Group deletions come after all group writes, then KeyPackages, PSKs and values (puts
    /// before deletes). ``InMemoryStorage`` follows the same order.
    public func write(_ batch: StorageBatch) throws {
        if batch.isEmpty { return }
        do {
            try dbQueue.writeWithoutTransaction { db in
                // IMMEDIATE takes the write lock up front: a DEFERRED transaction that has to
                // upgrade from a read lock can fail with SQLITE_BUSY halfway through.
                try db.inTransaction(.immediate) {
                    try Self.apply(batch, in: db)
                    return .commit
                }
            }
        } catch {
            throw Self.mapError(error)
        }
    }

    private static func apply(_ batch: StorageBatch, in db: Database) throws {
        // Cached statements: a benchmark writes thousands of small batches, and re-preparing the
        // same SQL for each would dominate the cost of a commit.
        if !batch.groups.isEmpty {
            let upsertGroup = try db.cachedStatement(sql: """
                INSERT INTO mls_group(group_id, epoch, record, stamp) VALUES (\(Self.B), ?, \(Self.B), \(Self.B))
                ON CONFLICT(group_id) DO UPDATE SET epoch = excluded.epoch, record = excluded.record, stamp = excluded.stamp
                """)
            for g in batch.groups {
                let gid = blob(g.groupID)
                try checkPrecondition(g, in: db)
                try run(upsertGroup, [gid, epochValue(g.epoch), blob(g.record), blob(g.stamp.bytes)])
                if g.replaceAllNodes {
                    try run(db.cachedStatement(sql: "DELETE FROM mls_tree_node WHERE group_id = \(Self.B)"), [gid])
                }
                if !g.deleteNodes.isEmpty {
                    let deleteNode = try db.cachedStatement(sql: "DELETE FROM mls_tree_node WHERE group_id = \(Self.B) AND node_index = ?")
                    for i in g.deleteNodes { try run(deleteNode, [gid, Int64(i)]) }
                }
                if let t = g.truncateFrom {
                    try run(db.cachedStatement(sql: "DELETE FROM mls_tree_node WHERE group_id = \(Self.B) AND node_index >= ?"), [gid, Int64(t)])
                }
                if !g.upsertNodes.isEmpty {
                    let upsertNode = try db.cachedStatement(sql: """
                        INSERT INTO mls_tree_node(group_id, node_index, blob) VALUES (\(Self.B), ?, \(Self.B))
                        ON CONFLICT(group_id, node_index) DO UPDATE SET blob = excluded.blob
                        """)
                    for n in g.upsertNodes { try run(upsertNode, [gid, Int64(n.index), blob(n.blob)]) }
                }
            }
        }
        if !batch.deleteGroups.isEmpty {
            // Node rows are deleted explicitly rather than left to ON DELETE CASCADE, so a file
            // whose foreign_keys setting was somehow off still never keeps orphaned nodes.
            let deleteNodes = try db.cachedStatement(sql: "DELETE FROM mls_tree_node WHERE group_id = \(Self.B)")
            let deleteGroup = try db.cachedStatement(sql: "DELETE FROM mls_group WHERE group_id = \(Self.B)")
            for id in batch.deleteGroups {
                try run(deleteNodes, [blob(id)])
                try run(deleteGroup, [blob(id)])
            }
        }
        try writeKeyed(table: "mls_key_package", key: "ref", puts: batch.putKeyPackages.map { ($0.ref, $0.blob) },
                       deletes: batch.deleteKeyPackages, in: db)
        try writeKeyed(table: "mls_psk", key: "id", puts: batch.putPSKs.map { ($0.id, $0.blob) }, deletes: batch.deletePSKs, in: db)
        if !batch.putValues.isEmpty {
            let put = try db.cachedStatement(sql: """
                INSERT INTO mls_value(namespace, key, blob) VALUES (?, \(Self.B), \(Self.B))
                ON CONFLICT(namespace, key) DO UPDATE SET blob = excluded.blob
                """)
            for v in batch.putValues { try run(put, [v.namespace, blob(v.key), blob(v.blob)]) }
        }
        if !batch.deleteValues.isEmpty {
            let delete = try db.cachedStatement(sql: "DELETE FROM mls_value WHERE namespace = ? AND key = \(Self.B)")
            for v in batch.deleteValues { try run(delete, [v.namespace, blob(v.key)]) }
        }
    }

    /// Throws ``StorageError/conflict`` unless the stored row is the one `write` says it
    /// replaces. Runs inside the batch's transaction, after the batch's earlier writes.
    private static func checkPrecondition(_ write: GroupWrite, in db: Database) throws {
        if case .unconditional = write.replacing { return }
        let statement = try db.cachedStatement(sql: "SELECT epoch, stamp FROM mls_group WHERE group_id = \(B)")
        let row = try Row.fetchOne(statement, arguments: [blob(write.groupID)])
        switch (write.replacing, row) {
        case (.absent, nil):
            return
        case let (.current(epoch, stamp), row?):
            // A stored epoch or stamp of the wrong type or length is a tampered row: a typed
            // error, never a trap, and never mistaken for a match.
            let storedEpoch = UInt64(bitPattern: try integer(row, 0))
            let storedStamp = try RecordStamp(validating: try strictBlob(row, 1))
            guard storedEpoch == epoch, storedStamp == stamp else { throw StorageError.conflict }
        default:
            throw StorageError.conflict
        }
    }

    /// Upserts and deletes rows of a `(key BLOB PRIMARY KEY, blob BLOB)` table: the KeyPackage and
    /// PSK tables share this layout. `table` and `key` are fixed names from this file, never input.
    private static func writeKeyed(table: String, key: String, puts: [([UInt8], [UInt8])], deletes: [[UInt8]], in db: Database) throws {
        if !puts.isEmpty {
            let put = try db.cachedStatement(sql: """
                INSERT INTO \(table)(\(key), blob) VALUES (\(Self.B), \(Self.B))
                ON CONFLICT(\(key)) DO UPDATE SET blob = excluded.blob
                """)
            for (k, v) in puts { try run(put, [blob(k), blob(v)]) }
        }
        if !deletes.isEmpty {
            let delete = try db.cachedStatement(sql: "DELETE FROM \(table) WHERE \(key) = \(Self.B)")
            for k in deletes { try run(delete, [blob(k)]) }
        }
    }

    // MARK: - Reading

    /// The group row and all its node rows, read in one snapshot so the nodes always belong to
    /// the record returned with them.
    public func readGroup(_ groupID: [UInt8]) throws -> StoredGroupRows? {
        try read { db in
            var result: StoredGroupRows?
            // Our own writes cannot interleave (one connection, one queue), but another process
            // writing the same file could commit between the two SELECTs.
            try db.inTransaction(.deferred) {
                result = try Self.readGroup(groupID, in: db)
                return .commit
            }
            return result
        }
    }

    private static func readGroup(_ groupID: [UInt8], in db: Database) throws -> StoredGroupRows? {
        let gid = blob(groupID)
        let groupStatement = try db.cachedStatement(sql: "SELECT epoch, record, stamp FROM mls_group WHERE group_id = \(B)")
        guard let row = try Row.fetchOne(groupStatement, arguments: [gid]) else { return nil }
        let epoch = UInt64(bitPattern: try integer(row, 0))
        let record = try bytes(row, 1)
        let stamp = try RecordStamp(validating: try strictBlob(row, 2))
        var nodes: [UInt32: [UInt8]] = [:]
        let nodeStatement = try db.cachedStatement(sql: "SELECT node_index, blob FROM mls_tree_node WHERE group_id = \(B)")
        let cursor = try Row.fetchCursor(nodeStatement, arguments: [gid])
        while let n = try cursor.next() {
            let rawIndex = try integer(n, 0)
            guard let index = UInt32(exactly: rawIndex) else {
                throw StorageError.corrupt("node index \(rawIndex) out of range")
            }
            nodes[index] = try bytes(n, 1)
        }
        return StoredGroupRows(groupID: groupID, epoch: epoch, record: record, stamp: stamp, nodes: nodes)
    }

    /// All group IDs in SQLite's BLOB order (memcmp, then length), which is the byte order the
    /// protocol asks for.
    public func groupIDs() throws -> [[UInt8]] {
        try read { db in
            let cursor = try Row.fetchCursor(db.cachedStatement(sql: "SELECT group_id FROM mls_group ORDER BY group_id"))
            var ids: [[UInt8]] = []
            while let row = try cursor.next() { ids.append(try Self.bytes(row, 0)) }
            return ids
        }
    }

    /// A KeyPackage's private material by KeyPackageRef.
    public func readKeyPackage(_ ref: [UInt8]) throws -> [UInt8]? {
        try readBlob("SELECT blob FROM mls_key_package WHERE ref = \(Self.B)", [Self.blob(ref)])
    }

    /// An external PSK by PSK ID.
    public func readPSK(_ id: [UInt8]) throws -> [UInt8]? {
        try readBlob("SELECT blob FROM mls_psk WHERE id = \(Self.B)", [Self.blob(id)])
    }

    /// An application value.
    public func readValue(namespace: String, key: [UInt8]) throws -> [UInt8]? {
        try readBlob("SELECT blob FROM mls_value WHERE namespace = ? AND key = \(Self.B)", [namespace, Self.blob(key)])
    }

    /// A namespace's values ordered by key bytes (SQLite's BLOB order).
    public func values(namespace: String) throws -> [(key: [UInt8], blob: [UInt8])] {
        try read { db in
            let statement = try db.cachedStatement(sql: "SELECT key, blob FROM mls_value WHERE namespace = ? ORDER BY key")
            let cursor = try Row.fetchCursor(statement, arguments: [namespace])
            var out: [(key: [UInt8], blob: [UInt8])] = []
            while let row = try cursor.next() { out.append((key: try Self.bytes(row, 0), blob: try Self.bytes(row, 1))) }
            return out
        }
    }

    /// Every row of the store as one batch of puts (each group with `replaceAllNodes`), read in
    /// one snapshot: writing it to an empty backend reproduces this store, and its
    /// ``StorageBatch/canonicalDigest()`` compares whole stores across backends. Lists come in
    /// key order; the cost is a full scan, so this is for tests and tools, not the hot path.
    public func contents() throws -> StorageBatch {
        try read { db in
            var batch = StorageBatch()
            try db.inTransaction(.deferred) {
                batch = try Self.contents(in: db)
                return .commit
            }
            return batch
        }
    }

    private static func contents(in db: Database) throws -> StorageBatch {
        var batch = StorageBatch()
        var position: [[UInt8]: Int] = [:]
        let groups = try Row.fetchCursor(db, sql: "SELECT group_id, epoch, record, stamp FROM mls_group ORDER BY group_id")
        while let row = try groups.next() {
            let id = try bytes(row, 0)
            position[id] = batch.groups.count
            batch.groups.append(GroupWrite(groupID: id, epoch: UInt64(bitPattern: try integer(row, 1)), record: try bytes(row, 2),
                                           replacing: .unconditional, stamp: try RecordStamp(validating: try strictBlob(row, 3)),
                                           replaceAllNodes: true))
        }
        let nodes = try Row.fetchCursor(db, sql: "SELECT group_id, node_index, blob FROM mls_tree_node ORDER BY group_id, node_index")
        while let row = try nodes.next() {
            let rawIndex = try integer(row, 1)
            guard let i = position[try bytes(row, 0)], let index = UInt32(exactly: rawIndex) else {
                throw StorageError.corrupt("node row without its group, or index \(rawIndex) out of range")
            }
            batch.groups[i].upsertNodes.append((index: index, blob: try bytes(row, 2)))
        }
        let keyPackages = try Row.fetchCursor(db, sql: "SELECT ref, blob FROM mls_key_package ORDER BY ref")
        while let row = try keyPackages.next() { batch.putKeyPackages.append((ref: try bytes(row, 0), blob: try bytes(row, 1))) }
        let psks = try Row.fetchCursor(db, sql: "SELECT id, blob FROM mls_psk ORDER BY id")
        while let row = try psks.next() { batch.putPSKs.append((id: try bytes(row, 0), blob: try bytes(row, 1))) }
        let values = try Row.fetchCursor(db, sql: "SELECT namespace, key, blob FROM mls_value ORDER BY namespace, key")
        while let row = try values.next() {
            batch.putValues.append((namespace: try text(row, 0), key: try bytes(row, 1), blob: try bytes(row, 2)))
        }
        return batch
    }

    // MARK: - Maintenance and measurement

    /// Copies every committed page from the WAL into the database file and truncates the WAL to
    /// zero bytes, so old page images (which may hold deleted secrets) leave the log and the
    /// next benchmark interval starts from an empty file.
    public func checkpoint() throws {
        do {
            try dbQueue.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        } catch {
            throw Self.mapError(error)
        }
    }

    /// The current size of the `-wal` file in bytes (0 if absent or in memory): with
    /// ``setAutoCheckpoint(_:)`` set to 0 and a ``checkpoint()`` first, the growth across a
    /// write is the bytes that commit appended to the log.
    public func walBytes() -> Int {
        guard let path else { return 0 }
        let values = try? URL(fileURLWithPath: path + "-wal").resourceValues(forKeys: [.fileSizeKey])
        return values?.fileSize ?? 0
    }

    /// Sets how many WAL pages trigger an automatic checkpoint on commit (SQLite's default is
    /// 1000; 0 or a negative value disables it), so a benchmark can keep checkpoints from
    /// resetting the log mid-measurement.
    public func setAutoCheckpoint(_ pages: Int) throws {
        do {
            try dbQueue.writeWithoutTransaction { db in
                _ = try Row.fetchOne(db, sql: "PRAGMA wal_autocheckpoint = \(pages)")
            }
        } catch {
            throw Self.mapError(error)
        }
    }

    /// Diagnostic: the current value of a read-only PRAGMA (for example `journal_mode`,
    /// `secure_delete`, `synchronous`, `foreign_keys`) as text, or `nil` if it returns no row.
    /// Numeric settings come back as numbers (`secure_delete` ON is `"1"`, `synchronous` FULL
    /// is `"2"`). `name` must be a bare identifier; anything else is refused.
    public func pragma(_ name: String) throws -> String? {
        guard !name.isEmpty, name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) else {
            throw StorageError.backend("invalid pragma name")
        }
        // GRDB's isolated read (query_only) rather than ``read(_:)``: a diagnostic must not be able
        // to change the database even if handed a PRAGMA with side effects; speed is irrelevant.
        do {
            return try dbQueue.read { db in try Self.pragmaValue(name, in: db) }
        } catch {
            throw Self.mapError(error)
        }
    }

    private static func pragmaValue(_ name: String, in db: Database) throws -> String? {
        guard let row = try Row.fetchOne(db, sql: "PRAGMA \(name)") else { return nil }
        let value: DatabaseValue = row[0]
        switch value.storage {
        case .null: return nil
        case let .int64(i): return String(i)
        case let .double(d): return String(d)
        case let .string(s): return s
        case let .blob(b): return b.map { String(format: "%02x", $0) }.joined()
        }
    }

    // MARK: - Test hooks

    /// Runs raw SQL on the connection, for tests that need to inject failures (a trigger that
    /// aborts mid-batch) or count row writes. Not public: no production caller may bypass the
    /// batch semantics.
    func executeForTesting(_ sql: String) throws {
        do { try dbQueue.writeWithoutTransaction { try $0.execute(sql: sql) } } catch { throw Self.mapError(error) }
    }

    /// Fetches one integer with raw SQL, for the same tests as ``executeForTesting(_:)``.
    func fetchIntForTesting(_ sql: String) throws -> Int? {
        do { return try dbQueue.read { try Int.fetchOne($0, sql: sql) } } catch { throw Self.mapError(error) }
    }

    // MARK: - Helpers

    /// Runs a read on the connection without GRDB's isolation wrapper. `DatabaseQueue.read`
    /// brackets every access with a savepoint and two `PRAGMA query_only` toggles, which cost
    /// more than the point lookup itself (measured: ~8x slower for a missing key). That
    /// isolation buys nothing here: every caller runs SELECTs only, a single SELECT already
    /// reads one consistent snapshot, and ``readGroup(_:)``, the one multi-statement read,
    /// opens its own transaction.
    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try dbQueue.unsafeRead(body)
        } catch {
            throw Self.mapError(error)
        }
    }

    private func readBlob(_ sql: String, _ arguments: StatementArguments) throws -> [UInt8]? {
        try read { db in
            try Row.fetchOne(db.cachedStatement(sql: sql), arguments: arguments).map { try Self.bytes($0, 0) }
        }
    }

    private static func run(_ statement: Statement, _ arguments: StatementArguments) throws {
        // The argument count is fixed by the SQL above, so GRDB's per-call validation is skipped.
        statement.setUncheckedArguments(arguments)
        try statement.execute()
    }

    private static func blob(_ bytes: [UInt8]) -> DatabaseValue {
        Data(bytes).databaseValue
    }

    /// Epochs are stored as the Int64 with the same bits: SQLite integers are signed 64-bit, and
    /// a UInt64 above Int64.max must still round-trip rather than fail the write.
    private static func epochValue(_ epoch: UInt64) -> Int64 { Int64(bitPattern: epoch) }

    /// Copies a BLOB column straight from SQLite's buffer into the array, skipping the
    /// intermediate `Data` copy GRDB would otherwise make.
    private static func bytes(_ row: Row, _ index: Int) throws -> [UInt8] {
        try row.withUnsafeData(atIndex: index) { $0.map { [UInt8]($0) } ?? [] }
    }

    /// An INTEGER column, or `.corrupt`: GRDB's non-optional subscripts trap on NULL or a value
    /// of another type, and the file may have been written by someone else (a tampered store).
    private static func integer(_ row: Row, _ index: Int) throws -> Int64 {
        let value: DatabaseValue = row[index]
        guard case let .int64(i) = value.storage else { throw StorageError.corrupt("column \(index) is not an integer") }
        return i
    }

    /// A BLOB column, or `.corrupt`: unlike ``bytes(_:_:)``, which reads whatever a column
    /// holds as bytes, this refuses text, numbers and NULL, for columns (the record stamp) whose
    /// value is compared rather than opened, so a wrong type cannot pass as some byte string.
    private static func strictBlob(_ row: Row, _ index: Int) throws -> [UInt8] {
        let value: DatabaseValue = row[index]
        guard case let .blob(data) = value.storage else { throw StorageError.corrupt("column \(index) is not a blob") }
        return [UInt8](data)
    }

    /// A TEXT column, or `.corrupt`.
    private static func text(_ row: Row, _ index: Int) throws -> String {
        let value: DatabaseValue = row[index]
        guard case let .string(s) = value.storage else { throw StorageError.corrupt("column \(index) is not text") }
        return s
    }

    /// Every failure leaves this type as ``StorageError``; store-level errors raised inside a
    /// transaction pass through unchanged.
    private static func mapError(_ error: any Error) -> StorageError {
        if let e = error as? StorageError { return e }
        if let e = error as? DatabaseError { return .backend(e.description) }
        return .backend(String(describing: error))
    }
}
