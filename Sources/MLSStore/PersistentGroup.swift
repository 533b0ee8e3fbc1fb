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

    /// The state as last written or loaded, this member's pending commit stored with it, and
    /// the stamp of its stored record.
    private struct Current: Sendable {
        var group: MLSGroup
        var pending: PendingCommit?
        var stamp: RecordStamp
    }

    private let current: Mutex<Current>

    /// Wraps a group whose record is stored under `stamp` in exactly this state.
    init(store: GroupStore, group: MLSGroup, pendingCommit: PendingCommit? = nil, stamp: RecordStamp) {
        self.store = store
        groupID = group.groupID
        current = Mutex(Current(group: group, pending: pendingCommit, stamp: stamp))
    }

    /// The group as last written or loaded (a copy: changing it changes nothing stored).
    public var group: MLSGroup { current.withLock { $0.group } }

    /// The epoch of the group as last written or loaded.
    public var epoch: UInt64 { current.withLock { $0.group.epoch } }

    /// This member's commit awaiting acceptance by the delivery service (RFC 9420 §14), made
    /// with ``commit(_:with:)`` or ``prepareCommit(_:)``. The handle keeps it beside the group
    /// and writes it in the group's record, so the application need not hold it and a restarted
    /// process can still merge it or recognise its echo. ``process(_:with:)`` passes it to
    /// `MLSGroup.process(_:pending:)`; once the group leaves the epoch the commit was made in
    /// (its own echo or another member's commit), it is dropped.
    public var pendingCommit: PendingCommit? { current.withLock { $0.pending } }

    /// The stamp of the stored record this handle last wrote or loaded: what its next write
    /// names as the record it replaces.
    public var stamp: RecordStamp { current.withLock { $0.stamp } }

    /// Runs `body` on a copy of the group, stores the result atomically together with `extra`,
    /// then adopts it. Returns what `body` returned.
    ///
    /// The pending commit is kept while the group stays in its epoch. A commit made inside
    /// `body` is not held by the handle (merge it there, or use ``commit(_:with:)``), and an
    /// own commit's echo processed there is refused unless `body` passes ``pendingCommit``:
    /// ``process(_:with:)`` does that.
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
        try prepare { group, _ in try body(&group) }
    }

    /// Creates a commit (`MLSGroup.commit(_:)`), stores the group with the commit pending
    /// (together with `extra`, e.g. the outgoing message), and returns the messages to send.
    /// The group stays in its epoch until ``process(_:with:)`` sees the commit come back or
    /// ``mergePendingCommit(with:)`` is called. A pending commit made earlier is replaced.
    @discardableResult
    public func commit(_ options: CommitOptions = CommitOptions(), with extra: StorageBatch = StorageBatch()) throws -> CommitOutput {
        let (output, transition) = try prepareCommit(options)
        try store.commit(transition, with: extra)
        return output
    }

    /// ``commit(_:with:)`` without the write: the transition holds the pending commit.
    public func prepareCommit(_ options: CommitOptions = CommitOptions()) throws -> (result: CommitOutput, transition: GroupTransition) {
        try prepare { group, pending in
            let output = try group.commit(options)
            pending = output.pending
            return output
        }
    }

    /// Processes a message with this handle's pending commit (`MLSGroup.process(_:pending:)`):
    /// the echo of the pending commit merges it; any other commit moves the group on and the
    /// pending commit is dropped. The result is stored together with `extra`.
    @discardableResult
    public func process(_ message: MLSMessage, with extra: StorageBatch = StorageBatch()) throws -> ProcessedMessage {
        let (result, transition) = try prepareProcess(message)
        try store.commit(transition, with: extra)
        return result
    }

    /// ``process(_:with:)`` without the write.
    public func prepareProcess(_ message: MLSMessage) throws -> (result: ProcessedMessage, transition: GroupTransition) {
        try prepare { group, pending in try group.process(message, pending: pending) }
    }

    /// Merges the pending commit (`MLSGroup.merge(_:)`) once the delivery service accepted it
    /// without echoing it, and stores the new epoch together with `extra`.
    ///
    /// - Throws: ``GroupError/noPendingCommit`` without one; ``GroupError/stalePendingCommit``
    ///   if it can no longer be merged (nothing is written in either case).
    public func mergePendingCommit(with extra: StorageBatch = StorageBatch()) throws {
        try store.commit(try prepareMergePendingCommit(), with: extra)
    }

    /// ``mergePendingCommit(with:)`` without the write.
    public func prepareMergePendingCommit() throws -> GroupTransition {
        try prepare { group, pending in
            guard let commit = pending else { throw GroupError.noPendingCommit }
            try group.merge(commit)
        }.transition
    }

    /// Drops the pending commit (the delivery service rejected it) and stores the group
    /// without it, together with `extra`. Without a pending commit only `extra` is written.
    public func discardPendingCommit(with extra: StorageBatch = StorageBatch()) throws {
        let (_, transition) = try prepare { _, pending in pending = nil }
        try store.commit(transition, with: extra)
    }

    /// The one way a transition is prepared: `body` changes a copy of the group and of the
    /// pending commit. A pending commit that no longer belongs to the resulting state's epoch
    /// (the group merged it, processed another member's commit, or was removed) is dropped
    /// here, so the handle never stores one that could not be merged.
    private func prepare<R>(_ body: (inout MLSGroup, inout PendingCommit?) throws -> R) throws -> (result: R, transition: GroupTransition) {
        let base = current.withLock { $0 }
        var next = base.group
        var pending = base.pending
        let result = try body(&next, &pending)
        if let p = pending, !next.isBase(of: p) { pending = nil }
        let write = try store.groupWrite(for: next, pending: pending, relativeTo: base.group,
                                         replacing: .current(epoch: base.group.epoch, stamp: base.stamp))
        return (result, GroupTransition(next: next, pendingCommit: pending, store: store, handle: self, write: write, base: base.stamp))
    }

    /// Replaces this handle's state with what the store holds, after a ``StorageError/conflict``
    /// (or to see another process's progress). The group's configuration is kept.
    ///
    /// - Throws: ``StorageError/groupNotFound`` if the group is no longer stored; the errors of
    ///   ``GroupStore/open(_:configuration:)`` for a stored state that does not load.
    public func reload() throws {
        let configuration = current.withLock { $0.group.configuration }
        guard let stored = try store.load(groupID, configuration: configuration) else { throw StorageError.groupNotFound }
        current.withLock { $0 = Current(group: stored.group, pending: stored.pendingCommit, stamp: stored.stamp) }
    }

    /// Takes the state a committed transition wrote, unless the handle has moved past `base`
    /// meanwhile (a later transition of this handle, or a reload, already holds newer state).
    func adopt(_ next: MLSGroup, pendingCommit: PendingCommit?, stamp: RecordStamp, replacing base: RecordStamp) {
        current.withLock { state in
            if state.stamp == base { state = Current(group: next, pending: pendingCommit, stamp: stamp) }
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
    /// The pending commit stored with ``next`` (see ``PersistentGroup/pendingCommit``).
    public let pendingCommit: PendingCommit?
    let store: GroupStore
    /// The handle that moves to ``next``; `nil` when the transition stores a new group (created
    /// or joined), whose handle the commit creates.
    let handle: PersistentGroup?
    let write: GroupWrite
    /// The stamp of the record the transition replaces (when it has a handle).
    let base: RecordStamp?
    /// Writes that belong to the transition itself: a join's deletion of the used KeyPackage.
    let ownWrites: StorageBatch

    init(next: MLSGroup, pendingCommit: PendingCommit? = nil, store: GroupStore, handle: PersistentGroup?, write: GroupWrite,
         base: RecordStamp? = nil, ownWrites: StorageBatch = StorageBatch()) {
        self.next = next
        self.pendingCommit = pendingCommit
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
            handle.adopt(next, pendingCommit: pendingCommit, stamp: write.stamp, replacing: base)
            return handle
        }
        return PersistentGroup(store: store, group: next, pendingCommit: pendingCommit, stamp: write.stamp)
    }
}
