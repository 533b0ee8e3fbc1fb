@_spi(Engine) import MLS
import Synchronization

/// A group whose every transition is written to a ``GroupStore`` before it takes effect
/// (RFC 9420 §8, §9.2, §14).
///
/// ``update(with:_:)`` runs an operation on a copy of the group, writes the resulting state in
/// one atomic backend write, and only then adopts it. An operation that throws, or a write that
/// fails, leaves both the handle and the store as they were; a crash at any instant leaves the
/// store at the state before or after the transition. This ordering is what keeps forward
/// secrecy across restarts: a message key handed out by `encrypt` or consumed by `process` is
/// deleted from storage before the ciphertext leaves or the plaintext is returned, so a restarted
/// process can never reuse or re-derive it.
///
/// The handle is a class: copying it copies the reference, so every part of a program works on
/// the same state. Handles do not silently overwrite each other either. Each write names the
/// stored record it replaces (the epoch and ``RecordStamp`` this handle loaded or last wrote),
/// and the backend checks that inside the write's transaction: if another handle, in this
/// process or another one, wrote the group meanwhile, the write fails with
/// ``StorageError/conflict``, nothing is written, and this handle keeps its state. Call
/// ``reload()`` to continue from what the store holds.
///
/// The handle is `Sendable`; its state is guarded by a lock that is held only to read or swap
/// the state, never while an operation runs or the store writes. Transitions of one handle
/// started concurrently from the same state are therefore not queued: the store accepts the
/// first to write, and the others fail with ``StorageError/conflict``, after which the handle
/// already holds the winner's state (so a retry needs no reload).
public final class PersistentGroup: Sendable {
    /// Where the group lives.
    public let store: GroupStore
    /// The group ID.
    public let groupID: [UInt8]

    /// The state as last written or loaded, and the stamp of its stored record.
    private struct Current: Sendable {
        var group: MLSGroup
        var stamp: RecordStamp
    }

    private let current: Mutex<Current>

    /// Wraps a group whose record is stored under `stamp` in exactly this state.
    init(store: GroupStore, group: MLSGroup, stamp: RecordStamp) {
        self.store = store
        groupID = group.groupID
        current = Mutex(Current(group: group, stamp: stamp))
    }

    /// The group as last written or loaded (a copy: changing it changes nothing stored).
    public var group: MLSGroup { current.withLock { $0.group } }

    /// The epoch of the group as last written or loaded.
    public var epoch: UInt64 { current.withLock { $0.group.epoch } }

    /// The stamp of the stored record this handle last wrote or loaded: what its next write
    /// names as the record it replaces.
    public var stamp: RecordStamp { current.withLock { $0.stamp } }

    /// Runs `body` on a copy of the group, stores the result atomically together with `extra`,
    /// then adopts it. Returns what `body` returned.
    ///
    /// - Throws: what `body` throws (nothing is written); ``StorageError/conflict`` if the group
    ///   was written by someone else since this handle loaded or last wrote it (nothing is
    ///   written, the handle is unchanged; ``reload()`` takes the stored state); other
    ///   ``StorageError``s if the write failed.
    @discardableResult
    public func update<R>(with extra: StorageBatch = StorageBatch(), _ body: (inout MLSGroup) throws -> R) throws -> R {
        let (result, transition) = try prepareUpdate(body)
        try store.commit(transition, with: extra)
        return result
    }

    /// Runs `body` on a copy of the group and returns its result with the transition to the new
    /// state, unwritten. Commit the transition with ``GroupStore/commit(_:with:)->PersistentGroup``,
    /// together with writes that depend on the result (a transport's outgoing queue entry for the
    /// ciphertext) or with other groups' transitions; the handle adopts the new state only once
    /// that write succeeded. A transition that is never committed changes nothing.
    public func prepareUpdate<R>(_ body: (inout MLSGroup) throws -> R) throws -> (result: R, transition: GroupTransition) {
        let base = current.withLock { $0 }
        var next = base.group
        let result = try body(&next)
        let write = try store.groupWrite(for: next, relativeTo: base.group, replacing: .current(epoch: base.group.epoch, stamp: base.stamp))
        return (result, GroupTransition(next: next, store: store, handle: self, write: write, base: base.stamp))
    }

    /// Replaces this handle's state with what the store holds, after a ``StorageError/conflict``
    /// (or to see another process's progress). The group's configuration is kept.
    ///
    /// - Throws: ``StorageError/groupNotFound`` if the group is no longer stored; the errors of
    ///   ``GroupStore/open(_:configuration:)`` for a stored state that does not load.
    public func reload() throws {
        let configuration = current.withLock { $0.group.configuration }
        guard let stored = try store.load(groupID, configuration: configuration) else { throw StorageError.groupNotFound }
        current.withLock { $0 = Current(group: stored.group, stamp: stored.stamp) }
    }

    /// Takes the state a committed transition wrote, unless the handle has moved past `base`
    /// meanwhile (a later transition of this handle, or a reload, already holds newer state).
    func adopt(_ next: MLSGroup, stamp: RecordStamp, replacing base: RecordStamp) {
        current.withLock { state in
            if state.stamp == base { state = Current(group: next, stamp: stamp) }
        }
    }
}

/// A group's transition computed but not yet written: from ``PersistentGroup/prepareUpdate(_:)``,
/// ``GroupStore/prepareCreate(_:)`` or ``GroupStore/prepareJoin(welcome:ratchetTree:configuration:)``.
///
/// It takes effect only through ``GroupStore/commit(_:with:)->PersistentGroup``, which writes
/// it (with other transitions and writes, atomically) and then moves its handle to ``next``, so no
/// caller ever adopts a state by hand. Committing it after its group changed, or twice, fails with
/// ``StorageError/conflict``.
public struct GroupTransition: Sendable {
    /// The state the transition leads to (for reading; committing stores exactly this state).
    public let next: MLSGroup
    let store: GroupStore
    /// The handle that moves to ``next``; `nil` when the transition stores a new group (created
    /// or joined), whose handle the commit creates.
    let handle: PersistentGroup?
    let write: GroupWrite
    /// The stamp of the record the transition replaces (when it has a handle).
    let base: RecordStamp?
    /// Writes that belong to the transition itself: a join's deletion of the used KeyPackage.
    let ownWrites: StorageBatch

    init(next: MLSGroup, store: GroupStore, handle: PersistentGroup?, write: GroupWrite, base: RecordStamp? = nil,
         ownWrites: StorageBatch = StorageBatch()) {
        self.next = next
        self.store = store
        self.handle = handle
        self.write = write
        self.base = base
        self.ownWrites = ownWrites
    }

    /// The group ID.
    public var groupID: [UInt8] { next.groupID }

    /// Backend keys of the KeyPackages whose private keys the transition deletes (a join's
    /// one-time KeyPackage), for a caller that drops the transition but must still delete them
    /// (a Welcome it refused).
    public var consumedKeyPackages: [[UInt8]] { ownWrites.deleteKeyPackages }

    /// Bytes of payload the transition writes (record, nodes), for write-volume reports.
    public var payloadBytes: Int { write.payloadBytes }

    /// Moves the handle to the written state, or creates the handle of a new group.
    func adopt() -> PersistentGroup {
        if let handle, let base {
            handle.adopt(next, stamp: write.stamp, replacing: base)
            return handle
        }
        return PersistentGroup(store: store, group: next, stamp: write.stamp)
    }
}
