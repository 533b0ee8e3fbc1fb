import Synchronization

/// A ``StorageBackend`` that keeps every row in process memory: the reference semantics the
/// SQLite backend is tested against, and a fast store for tests that do not need durability.
///
/// Nothing survives the process, so "durable" here only means "visible to later reads of the
/// same instance". A write builds the whole new state on a copy and swaps it in under the lock,
/// so a concurrent reader sees either none or all of a batch.
public final class InMemoryStorage: StorageBackend {
    /// A group's rows as the tables would hold them.
    private struct GroupRow {
        var epoch: UInt64
        var record: [UInt8]
        var stamp: RecordStamp
        var nodes: [UInt32: [UInt8]]
    }

    /// The value table is keyed by (namespace, key); a struct keeps that composite key hashable
    /// without concatenation tricks that could collide.
    private struct ValueKey: Hashable {
        var namespace: String
        var key: [UInt8]
    }

    private struct State {
        var groups: [[UInt8]: GroupRow] = [:]
        var keyPackages: [[UInt8]: [UInt8]] = [:]
        var psks: [[UInt8]: [UInt8]] = [:]
        var values: [ValueKey: [UInt8]] = [:]
        var bytesWritten = 0
        var writeCount = 0
    }

    private let state = Mutex(State())

    /// An empty store.
    public init() {}

    /// The sum of ``StorageBatch/payloadBytes`` over every batch written, so tests can compare
    /// the write volume of a code path against what it should need.
    public var bytesWritten: Int { state.withLock { $0.bytesWritten } }

    /// How many batches were written (empty ones included), so tests can assert that a
    /// transition costs exactly one write.
    public var writeCount: Int { state.withLock { $0.writeCount } }

    /// Applies the batch in the same order as ``SQLiteStorage`` so both backends agree on the
    /// outcome of batches that touch one row twice (for example a write and a delete of the same
    /// group: the delete wins).
    ///
    /// Compare-and-swap: each group write's precondition is checked under the lock, against the
    /// state as the batch's earlier writes left it; one that does not hold throws
    /// ``StorageError/conflict`` before anything is assigned, so the batch leaves no trace.
    public func write(_ batch: StorageBatch) throws {
        try state.withLock { current throws(StorageError) in
            // Build on a copy and assign at the end, so a conflict found halfway through the
            // batch leaves the store as it was.
            var next = current
            for g in batch.groups {
                let existing = next.groups[g.groupID]
                switch g.replacing {
                case .absent:
                    guard existing == nil else { throw StorageError.conflict }
                case let .current(epoch, stamp):
                    guard let existing, existing.epoch == epoch, existing.stamp == stamp else { throw StorageError.conflict }
                case .unconditional:
                    break
                }
                var row = existing ?? GroupRow(epoch: g.epoch, record: g.record, stamp: g.stamp, nodes: [:])
                row.epoch = g.epoch
                row.record = g.record
                row.stamp = g.stamp
                if g.replaceAllNodes { row.nodes.removeAll() }
                for i in g.deleteNodes { row.nodes[i] = nil }
                if let t = g.truncateFrom { row.nodes = row.nodes.filter { $0.key < t } }
                for n in g.upsertNodes { row.nodes[n.index] = n.blob }
                next.groups[g.groupID] = row
            }
            for id in batch.deleteGroups { next.groups[id] = nil }
            for kp in batch.putKeyPackages { next.keyPackages[kp.ref] = kp.blob }
            for ref in batch.deleteKeyPackages { next.keyPackages[ref] = nil }
            for p in batch.putPSKs { next.psks[p.id] = p.blob }
            for id in batch.deletePSKs { next.psks[id] = nil }
            for v in batch.putValues { next.values[ValueKey(namespace: v.namespace, key: v.key)] = v.blob }
            for v in batch.deleteValues { next.values[ValueKey(namespace: v.namespace, key: v.key)] = nil }
            next.bytesWritten += batch.payloadBytes
            next.writeCount += 1
            current = next
        }
    }

    /// The group's rows, or `nil` if it is not stored.
    public func readGroup(_ groupID: [UInt8]) throws -> StoredGroupRows? {
        state.withLock { s in
            s.groups[groupID].map { StoredGroupRows(groupID: groupID, epoch: $0.epoch, record: $0.record, stamp: $0.stamp, nodes: $0.nodes) }
        }
    }

    /// All group IDs, sorted by unsigned byte order to match SQLite's BLOB ordering (memcmp,
    /// shorter prefix first).
    public func groupIDs() throws -> [[UInt8]] {
        state.withLock { Array($0.groups.keys) }.sorted(by: Self.byteOrder)
    }

    /// A KeyPackage's private material by KeyPackageRef.
    public func readKeyPackage(_ ref: [UInt8]) throws -> [UInt8]? {
        state.withLock { $0.keyPackages[ref] }
    }

    /// An external PSK by PSK ID.
    public func readPSK(_ id: [UInt8]) throws -> [UInt8]? {
        state.withLock { $0.psks[id] }
    }

    /// An application value.
    public func readValue(namespace: String, key: [UInt8]) throws -> [UInt8]? {
        state.withLock { $0.values[ValueKey(namespace: namespace, key: key)] }
    }

    /// A namespace's values in the same key order as ``groupIDs()``.
    public func values(namespace: String) throws -> [(key: [UInt8], blob: [UInt8])] {
        let rows: [(key: [UInt8], blob: [UInt8])] = state.withLock { s in
            s.values.compactMap { $0.key.namespace == namespace ? (key: $0.key.key, blob: $0.value) : nil }
        }
        return rows.sorted { Self.byteOrder($0.key, $1.key) }
    }

    /// Every row as one batch of puts (each group with `replaceAllNodes`), in the same order as
    /// ``SQLiteStorage/contents()``: writing it to an empty backend reproduces this store, and its
    /// ``StorageBatch/canonicalDigest()`` compares whole stores across backends.
    public func contents() throws -> StorageBatch {
        let s = state.withLock { $0 }
        var batch = StorageBatch()
        batch.groups = s.groups.sorted { Self.byteOrder($0.key, $1.key) }.map { id, row in
            GroupWrite(groupID: id, epoch: row.epoch, record: row.record, replacing: .unconditional, stamp: row.stamp,
                       upsertNodes: row.nodes.sorted { $0.key < $1.key }.map { (index: $0.key, blob: $0.value) },
                       replaceAllNodes: true)
        }
        batch.putKeyPackages = s.keyPackages.sorted { Self.byteOrder($0.key, $1.key) }.map { (ref: $0.key, blob: $0.value) }
        batch.putPSKs = s.psks.sorted { Self.byteOrder($0.key, $1.key) }.map { (id: $0.key, blob: $0.value) }
        // SQLite orders TEXT by its UTF-8 bytes (BINARY collation), so compare those, not Strings.
        batch.putValues = s.values
            .sorted { a, b in
                a.key.namespace == b.key.namespace
                    ? Self.byteOrder(a.key.key, b.key.key)
                    : a.key.namespace.utf8.lexicographicallyPrecedes(b.key.namespace.utf8)
            }
            .map { (namespace: $0.key.namespace, key: $0.key.key, blob: $0.value) }
        return batch
    }

    /// SQLite compares BLOBs with memcmp and breaks ties by length; this is the same order.
    private static func byteOrder(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.lexicographicallyPrecedes(b)
    }
}
