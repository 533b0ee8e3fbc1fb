@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// One group's rows as a backend holds them: the encoded group record and the non-blank nodes
/// of its current ratchet tree, each a blob the ``GroupStore`` wrote (sealed when the store
/// encrypts at rest).
public struct StoredGroupRows: Sendable, Equatable {
    /// The group ID (the key of every row).
    public var groupID: [UInt8]
    /// The epoch the record was written for, kept in the clear so a sealed record can be bound
    /// to it.
    public var epoch: UInt64
    /// The group record blob: everything but the current tree's nodes.
    public var record: [UInt8]
    /// The stamp the record was written under: what the next write of this group names as the
    /// record it replaces.
    public var stamp: RecordStamp
    /// Non-blank tree nodes by node index; an absent index is blank.
    public var nodes: [UInt32: [UInt8]]

    /// Assembles rows.
    public init(groupID: [UInt8], epoch: UInt64, record: [UInt8], stamp: RecordStamp, nodes: [UInt32: [UInt8]]) {
        self.groupID = groupID
        self.epoch = epoch
        self.record = record
        self.stamp = stamp
        self.nodes = nodes
    }
}

/// Identifies one written version of a group's record, so that a write can name the record it
/// replaces (compare-and-swap; see ``RecordPrecondition``).
///
/// Every write of a record draws a fresh random stamp rather than counting up: a counter starts
/// again when a group is deleted and stored anew, so a handle still holding the old group's
/// count could replace the new group's record (an ABA race); 128 random bits never repeat.
/// With encryption at rest the stamp is also bound to the sealed record, so a stamp edited in
/// the database makes the record fail to open.
public struct RecordStamp: Sendable, Hashable, CustomStringConvertible {
    /// Length of every stamp written.
    public static let byteCount = 16
    /// The stamp of a record written before stamps existed (a store created by an older build):
    /// empty, and replaced by the record's next write.
    public static let legacy = RecordStamp(unchecked: [])

    /// The stamp's bytes: ``byteCount`` random bytes, or none for ``legacy``.
    public let bytes: [UInt8]

    private init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// A fresh random stamp.
    public static func random() -> RecordStamp {
        RecordStamp(unchecked: SecretBytes(randomCount: byteCount).unsafeCopiedBytes())
    }

    /// A stamp read from storage: ``byteCount`` bytes, or empty for ``legacy``.
    ///
    /// - Throws: ``StorageError/corrupt(_:)`` for any other length (a tampered row).
    public init(validating bytes: [UInt8]) throws(StorageError) {
        guard bytes.count == Self.byteCount || bytes.isEmpty else { throw StorageError.corrupt("record stamp of \(bytes.count) bytes") }
        self.bytes = bytes
    }

    /// Whether this is the stamp of a record written before stamps existed.
    public var isLegacy: Bool { bytes.isEmpty }

    /// The stamp in hex, or `legacy`, for logs and test output.
    public var description: String { isLegacy ? "legacy" : Hex.encode(bytes) }
}

/// Which stored record a ``GroupWrite`` replaces: the compare half of its compare-and-swap. A
/// backend checks it inside the write's transaction and, if the stored row differs, refuses the
/// whole batch with ``StorageError/conflict`` and writes nothing.
public enum RecordPrecondition: Sendable, Equatable {
    /// The group must not be stored: a group created here or joined from a Welcome.
    case absent
    /// The stored record must be the one written at `epoch` under `stamp`: the state a handle
    /// loaded or last wrote. Anything else means another handle or process wrote in between.
    case current(epoch: UInt64, stamp: RecordStamp)
    /// No check: the write replaces whatever is stored. For copying or restoring whole stores
    /// (``StorageBackend/contents()``) and for tests; a ``GroupStore`` never writes a group so.
    case unconditional
}

/// The change to one group within a ``StorageBatch``: a new record and the tree nodes that
/// changed since the rows the backend holds.
public struct GroupWrite: Sendable, Equatable {
    /// The group ID.
    public var groupID: [UInt8]
    /// The epoch of the new record.
    public var epoch: UInt64
    /// The new record blob; it replaces the stored one.
    public var record: [UInt8]
    /// Which stored record this write replaces; checked before anything of the batch is written.
    public var replacing: RecordPrecondition
    /// The stamp the new record is stored under.
    public var stamp: RecordStamp
    /// Node rows to insert or replace.
    public var upsertNodes: [(index: UInt32, blob: [UInt8])]
    /// Node rows to delete (nodes that became blank).
    public var deleteNodes: [UInt32]
    /// Every node row at this index or above is deleted (the tree was truncated); `nil` keeps
    /// them.
    public var truncateFrom: UInt32?
    /// When true, every existing node row of the group is deleted before `upsertNodes` are
    /// written (a full rewrite, as for a newly created or joined group).
    public var replaceAllNodes: Bool

    /// Assembles a group write. `replacing` has no default: every write says which record it
    /// replaces, or says explicitly that it does not care.
    public init(groupID: [UInt8], epoch: UInt64, record: [UInt8], replacing: RecordPrecondition, stamp: RecordStamp = .random(),
                upsertNodes: [(index: UInt32, blob: [UInt8])] = [], deleteNodes: [UInt32] = [], truncateFrom: UInt32? = nil,
                replaceAllNodes: Bool = false) {
        self.groupID = groupID
        self.epoch = epoch
        self.record = record
        self.replacing = replacing
        self.stamp = stamp
        self.upsertNodes = upsertNodes
        self.deleteNodes = deleteNodes
        self.truncateFrom = truncateFrom
        self.replaceAllNodes = replaceAllNodes
    }

    public static func == (a: GroupWrite, b: GroupWrite) -> Bool {
        a.groupID == b.groupID && a.epoch == b.epoch && a.record == b.record && a.replacing == b.replacing && a.stamp == b.stamp
            && a.deleteNodes == b.deleteNodes
            && a.truncateFrom == b.truncateFrom && a.replaceAllNodes == b.replaceAllNodes
            && a.upsertNodes.map(\.index) == b.upsertNodes.map(\.index) && a.upsertNodes.map(\.blob) == b.upsertNodes.map(\.blob)
    }

    /// Bytes of payload this write carries (record and node blobs).
    public var payloadBytes: Int { record.count + upsertNodes.reduce(0) { $0 + $1.blob.count } }
}

/// Everything one state transition writes, applied by a backend as a single atomic transaction:
/// either all of it is durable or none of it is.
///
/// A transition that consumes secrets carries their deletion in the same batch (a used
/// KeyPackage's private keys go with the join that used them), so a crash can never leave a
/// state that has both the new epoch and a secret the new epoch should have destroyed.
public struct StorageBatch: Sendable, Equatable {
    /// Group records and node changes.
    public var groups: [GroupWrite] = []
    /// Groups to delete entirely (record and nodes).
    public var deleteGroups: [[UInt8]] = []
    /// KeyPackage private material to store, by KeyPackageRef.
    public var putKeyPackages: [(ref: [UInt8], blob: [UInt8])] = []
    /// KeyPackageRefs whose private material is deleted.
    public var deleteKeyPackages: [[UInt8]] = []
    /// External PSKs to store, by PSK ID.
    public var putPSKs: [(id: [UInt8], blob: [UInt8])] = []
    /// External PSK IDs to delete.
    public var deletePSKs: [[UInt8]] = []
    /// Application values (a transport's sync token or outgoing queue) to store, by namespace and key.
    public var putValues: [(namespace: String, key: [UInt8], blob: [UInt8])] = []
    /// Application values to delete.
    public var deleteValues: [(namespace: String, key: [UInt8])] = []

    /// An empty batch.
    public init() {}

    /// Whether the batch changes nothing.
    public var isEmpty: Bool {
        groups.isEmpty && deleteGroups.isEmpty && putKeyPackages.isEmpty && deleteKeyPackages.isEmpty && putPSKs.isEmpty
            && deletePSKs.isEmpty && putValues.isEmpty && deleteValues.isEmpty
    }

    /// Bytes of payload in the batch (all blobs), for write-amplification reports.
    public var payloadBytes: Int {
        groups.reduce(0) { $0 + $1.payloadBytes } + putKeyPackages.reduce(0) { $0 + $1.blob.count }
            + putPSKs.reduce(0) { $0 + $1.blob.count } + putValues.reduce(0) { $0 + $1.blob.count }
    }

    public static func == (a: StorageBatch, b: StorageBatch) -> Bool {
        a.groups == b.groups && a.deleteGroups == b.deleteGroups
            && a.putKeyPackages.map(\.ref) == b.putKeyPackages.map(\.ref) && a.putKeyPackages.map(\.blob) == b.putKeyPackages.map(\.blob)
            && a.deleteKeyPackages == b.deleteKeyPackages
            && a.putPSKs.map(\.id) == b.putPSKs.map(\.id) && a.putPSKs.map(\.blob) == b.putPSKs.map(\.blob) && a.deletePSKs == b.deletePSKs
            && a.putValues.map(\.namespace) == b.putValues.map(\.namespace) && a.putValues.map(\.key) == b.putValues.map(\.key)
            && a.putValues.map(\.blob) == b.putValues.map(\.blob)
            && a.deleteValues.map(\.namespace) == b.deleteValues.map(\.namespace) && a.deleteValues.map(\.key) == b.deleteValues.map(\.key)
    }
}

/// Where a ``GroupStore`` keeps its rows: a byte-level key-value layout with one atomic write
/// per state transition. The backend never interprets blobs; encoding, sealing and the group
/// logic live in ``GroupStore``.
///
/// Implementations: ``InMemoryStorage`` (tests) and ``SQLiteStorage`` (the embedded default).
public protocol StorageBackend: Sendable {
    /// Applies every change in `batch` atomically: after a crash at any instant, either all of
    /// the batch or none of it is visible. Within a batch, a deletion wins over a write of the
    /// same row. Deletions must not leave the deleted bytes readable in the backend's files
    /// where the backend can prevent it.
    ///
    /// Each group write's ``GroupWrite/replacing`` is checked, in batch order, against the
    /// stored row inside the same transaction (so no other writer, in this process or another,
    /// can slip in between check and write); if any does not hold, the backend throws
    /// ``StorageError/conflict`` and writes nothing of the batch. The written row keeps the
    /// write's epoch and ``GroupWrite/stamp``.
    func write(_ batch: StorageBatch) throws
    /// The rows of one group, or `nil` if the group is not stored.
    func readGroup(_ groupID: [UInt8]) throws -> StoredGroupRows?
    /// The IDs of all stored groups, in byte order.
    func groupIDs() throws -> [[UInt8]]
    /// A stored KeyPackage's private material, by KeyPackageRef.
    func readKeyPackage(_ ref: [UInt8]) throws -> [UInt8]?
    /// A stored external PSK, by PSK ID.
    func readPSK(_ id: [UInt8]) throws -> [UInt8]?
    /// An application value.
    func readValue(namespace: String, key: [UInt8]) throws -> [UInt8]?
    /// All application values of a namespace, ordered by key bytes.
    func values(namespace: String) throws -> [(key: [UInt8], blob: [UInt8])]
    /// Every row, as a batch of puts in key order (groups with all their nodes, their stamps,
    /// `replaceAllNodes` and ``RecordPrecondition/unconditional``): for copying a store and for
    /// comparing whole stores by ``StorageBatch/canonicalDigest()``.
    func contents() throws -> StorageBatch
}

/// Why the storage layer refused or failed an operation.
public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The backend's database failed (I/O error, corruption, locked beyond its timeout).
    case backend(String)
    /// A blob carries a format version this build does not know; it is refused, never guessed at.
    case unsupportedVersion(kind: String, version: UInt16)
    /// A blob is malformed.
    case corrupt(String)
    /// A sealed blob did not open: wrong key, or the blob was altered or moved to another group,
    /// node or epoch.
    case sealOpenFailed
    /// A sealed blob was found but the store has no key, or a plaintext blob was found in a
    /// store that encrypts at rest (a downgrade).
    case sealingMismatch
    /// The stored state is not the one this handle last wrote or loaded (another handle or
    /// process wrote the group in between), or a group to be created or joined is already
    /// stored. Nothing of the batch was written.
    case conflict
    /// A transition was committed through a store over another backend than the one its handle
    /// writes to; it could not be part of that store's atomic write.
    case foreignTransition
    /// No KeyPackage of ours matches the Welcome.
    case noMatchingKeyPackage
    /// The group is not stored.
    case groupNotFound

    public var description: String {
        switch self {
        case let .backend(m): "storage backend failed: \(m)"
        case let .unsupportedVersion(kind, v): "unsupported \(kind) format version \(v)"
        case let .corrupt(m): "stored state is corrupt: \(m)"
        case .sealOpenFailed: "sealed state did not authenticate (wrong key, or altered or moved)"
        case .sealingMismatch: "stored state's encryption does not match the store's configuration"
        case .conflict: "stored state changed underneath this handle"
        case .foreignTransition: "a transition of a group in another backend cannot be committed here"
        case .noMatchingKeyPackage: "no stored KeyPackage matches the Welcome"
        case .groupNotFound: "the group is not stored"
        }
    }
}

extension StorageBatch {
    /// Adds every change of `other` after this batch's own, list by list.
    mutating func append(_ other: StorageBatch) {
        groups += other.groups
        deleteGroups += other.deleteGroups
        putKeyPackages += other.putKeyPackages
        deleteKeyPackages += other.deleteKeyPackages
        putPSKs += other.putPSKs
        deletePSKs += other.deletePSKs
        putValues += other.putValues
        deleteValues += other.deleteValues
    }
}
