import MLS

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
/// Keep one handle per group: the handle remembers the state last written, and writes only the
/// tree nodes that differ from it.
public struct PersistentGroup: Sendable {
    /// Where the group lives.
    public let store: GroupStore
    /// The group as last written.
    public private(set) var group: MLSGroup

    /// Wraps a group that is already stored in exactly this state (as `loadGroup` returned it or
    /// `join` stored it).
    public init(store: GroupStore, stored group: MLSGroup) {
        self.store = store
        self.group = group
    }

    /// Stores a group not yet in the store (a group just created) in full, and wraps it.
    public init(store: GroupStore, new group: MLSGroup, with extra: StorageBatch = StorageBatch()) throws {
        try store.save(group, relativeTo: nil, with: extra)
        self.store = store
        self.group = group
    }

    /// Loads a stored group; `nil` if the store has none with this ID.
    public static func load(_ groupID: [UInt8], from store: GroupStore, configuration: GroupConfiguration = GroupConfiguration()) throws -> PersistentGroup? {
        try store.loadGroup(groupID, configuration: configuration).map { PersistentGroup(store: store, stored: $0) }
    }

    /// Runs `body` on a copy of the group, stores the result atomically together with `extra`,
    /// then adopts it. Returns what `body` returned.
    @discardableResult
    public mutating func update<R>(with extra: StorageBatch = StorageBatch(), _ body: (inout MLSGroup) throws -> R) throws -> R {
        var next = group
        let result = try body(&next)
        try store.save(next, relativeTo: group, with: extra)
        group = next
        return result
    }

    /// Like ``update(with:_:)``, but returns the batch instead of writing it, so the caller can
    /// combine transitions of several handles into one atomic write; call ``adopt(_:)`` with the
    /// returned state once the batch is written.
    public func prepareUpdate<R>(with extra: StorageBatch = StorageBatch(), _ body: (inout MLSGroup) throws -> R) throws -> (result: R, next: MLSGroup, batch: StorageBatch) {
        var next = group
        let result = try body(&next)
        var batch = extra
        batch.groups.append(try store.groupWrite(for: next, relativeTo: group))
        return (result, next, batch)
    }

    /// Adopts a state prepared by ``prepareUpdate(with:_:)`` after its batch was written.
    public mutating func adopt(_ next: MLSGroup) {
        group = next
    }
}
