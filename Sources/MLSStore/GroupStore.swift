@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// A KeyPackage's private material as the store keeps it until a Welcome uses it (RFC 9420 §10).
public struct StoredKeyPackage: Sendable {
    /// The KeyPackage and its private keys.
    public let bundle: KeyPackageBundle
    /// A last-resort KeyPackage is kept after use, so a client is never unreachable when its
    /// one-time KeyPackages run out (§10, §16.8); every other one is deleted when used.
    public let lastResort: Bool
}

/// One client's persisted MLS state over a ``StorageBackend``: its groups, its KeyPackages'
/// private keys, external PSKs and application values (RFC 9420 §8, §10, §16.8).
///
/// Groups are worked with through ``PersistentGroup`` handles (``open(_:configuration:)``,
/// ``create(_:with:)``, ``join(welcome:ratchetTree:configuration:with:)``), whose every
/// transition the store writes before it takes effect, as a compare-and-swap on the stored
/// record. Every state transition is one atomic backend write. A group's record is rewritten on every
/// transition, but of its ratchet tree only the nodes that changed are written, so a commit
/// costs O(log n) node rows rather than the whole tree. With an `encryptionKey`, every blob is
/// sealed with XChaCha20-Poly1305 and bound to its group and epoch (records), node index (tree
/// nodes), ref or key.
///
/// Several clients may share one backend: each store's rows are keyed by its `clientID`.
public final class GroupStore: Sendable {
    /// The backend the rows live in.
    public let backend: any StorageBackend
    /// The client whose state this store holds (a prefix of every group key).
    public let clientID: [UInt8]
    let sealing: BlobSealing
    /// The client's signer when it keeps its key outside MLSKit (an HSM): records then hold no
    /// signature key, and this signer is used for them on load.
    let signer: (any MLSSigner)?

    /// Opens a client's state in `backend`.
    ///
    /// - Parameters:
    ///   - clientID: distinguishes clients sharing one backend; empty for a backend of its own.
    ///   - encryptionKey: 32 bytes to seal all state at rest, or `nil` to store it in the clear.
    ///   - signer: the client's signer if its key is held outside MLSKit; `nil` when the client
    ///     signs with `InMemorySigner`s, whose keys are stored (sealed) with the state.
    public init(backend: any StorageBackend, clientID: [UInt8] = [], encryptionKey: SecretBytes? = nil, signer: (any MLSSigner)? = nil) throws {
        if let key = encryptionKey, key.count != XChaCha20Poly1305.keyLength {
            throw CryptoError.invalidLength("storage encryption key is \(key.count) bytes, expected \(XChaCha20Poly1305.keyLength)")
        }
        self.backend = backend
        self.clientID = clientID
        self.signer = signer
        sealing = BlobSealing(key: encryptionKey)
    }

    // MARK: Keys

    /// The backend key of a group, KeyPackage, PSK or value: `opaque client_id<V> || opaque
    /// id<V>`, so one client's state can never be read as another's.
    func storageKey(_ id: [UInt8]) -> [UInt8] {
        var w = TLSWriter()
        w.writeOpaque(clientID)
        w.writeOpaque(id)
        return w.takeBytes()
    }

    /// The id inside a backend key of this client's, or `nil` for another client's key.
    func ownID(_ key: [UInt8]) -> [UInt8]? {
        var r = TLSReader(key)
        guard let client = try? r.readOpaque(), client == clientID, let id = try? r.readOpaque(), r.isAtEnd else { return nil }
        return id
    }

    /// What a sealed record is bound to: its group, its epoch and its stamp, so a record moved
    /// to another group, relabelled with another epoch, or given another stamp does not open.
    func recordBinding(_ key: [UInt8], epoch: UInt64, stamp: RecordStamp) -> [UInt8] {
        var w = TLSWriter()
        w.writeOpaque(key)
        w.writeUInt64(epoch)
        // Records written before stamps existed were bound to group and epoch only; the next
        // write of such a group binds its new stamp.
        if !stamp.isLegacy { w.writeOpaque(stamp.bytes) }
        return w.takeBytes()
    }

    private func nodeBinding(_ key: [UInt8], index: UInt32) -> [UInt8] {
        var w = TLSWriter()
        w.writeOpaque(key)
        w.writeUInt32(index)
        return w.takeBytes()
    }

    // MARK: Groups

    /// The IDs of this client's stored groups.
    public func groupIDs() throws -> [[UInt8]] {
        try backend.groupIDs().compactMap(ownID)
    }

    /// Opens a stored group for reading and writing; `nil` if the store has none with this ID.
    ///
    /// The configuration is required: it is the application's policy (credential validation,
    /// proposal policy, PSK lookup, limits) and is not stored, so the caller states it on every
    /// load rather than getting defaults silently (see Docs/Storage.md, "Configuration").
    public func open(_ groupID: [UInt8], configuration: GroupConfiguration) throws -> PersistentGroup? {
        try load(groupID, configuration: configuration).map { PersistentGroup(store: self, group: $0.group, pendingCommit: $0.pendingCommit, stamp: $0.stamp) }
    }

    /// A copy of a stored group for reading, or `nil` if it is not stored. Changes to the copy
    /// cannot be written back; use ``open(_:configuration:)`` for a group to work with.
    public func loadGroup(_ groupID: [UInt8], configuration: GroupConfiguration) throws -> MLSGroup? {
        try load(groupID, configuration: configuration)?.group
    }

    /// Loads a group, the pending commit stored with it, and the stamp of the record they came
    /// from. The rebuilt tree is checked against the stored GroupContext's tree hash, so lost,
    /// altered or mixed-in nodes are refused.
    func load(_ groupID: [UInt8], configuration: GroupConfiguration) throws -> (group: MLSGroup, pendingCommit: PendingCommit?, stamp: RecordStamp)? {
        let key = storageKey(groupID)
        guard let rows = try backend.readGroup(key) else { return nil }
        let record = try sealing.open(rows.record, kind: .groupRecord, binding: recordBinding(key, epoch: rows.epoch, stamp: rows.stamp))
        var nodes: [UInt32: Node] = [:]
        nodes.reserveCapacity(rows.nodes.count)
        for (index, blob) in rows.nodes {
            let plain = try sealing.open(blob, kind: .treeNode, binding: nodeBinding(key, index: index))
            nodes[index] = try GroupStateSnapshot.decodeNode(plain.unsafeCopiedBytes())
        }
        let (group, pending) = try MLSGroup.restoring(record: record, nodes: nodes, configuration: configuration, signer: signer)
        guard group.groupID == groupID, group.epoch == rows.epoch else { throw StorageError.corrupt("record does not match its row") }
        return (group, pending, rows.stamp)
    }

    /// The write that takes the stored state of `group` from `reference` (the state last stored
    /// or loaded, `nil` for a group not yet stored) to `group`: the new record under `stamp`
    /// and the tree nodes that differ. The record carries `pending`, the handle's pending commit.
    func groupWrite(for group: MLSGroup, pending: PendingCommit? = nil, relativeTo reference: MLSGroup?, replacing: RecordPrecondition,
                    stamp: RecordStamp = .random()) throws -> GroupWrite {
        try groupWrite(snapshot: group.snapshot(relativeTo: reference, pending: pending), referenceWidth: reference?.tree.nodeWidth, replacing: replacing, stamp: stamp)
    }

    /// The write of a snapshot; separate so tests can write snapshots in an older record format.
    func groupWrite(snapshot: GroupStateSnapshot, referenceWidth: UInt32?, replacing: RecordPrecondition, stamp: RecordStamp) throws -> GroupWrite {
        let key = storageKey(snapshot.groupID)
        var upserts: [(index: UInt32, blob: [UInt8])] = []
        var deletes: [UInt32] = []
        for (index, node) in snapshot.tree.nodes {
            if let node {
                var bytes = GroupStateSnapshot.encodeNode(node)
                upserts.append((index, try sealing.seal(&bytes, kind: .treeNode, binding: nodeBinding(key, index: index))))
            } else {
                deletes.append(index)
            }
        }
        let shrunk = !snapshot.isComplete && (referenceWidth ?? 0) > snapshot.tree.nodeWidth
        return GroupWrite(
            groupID: key, epoch: snapshot.epoch,
            record: try sealing.seal(snapshot.record, kind: .groupRecord, binding: recordBinding(key, epoch: snapshot.epoch, stamp: stamp)),
            replacing: replacing, stamp: stamp,
            upsertNodes: upserts, deleteNodes: deletes, truncateFrom: shrunk ? snapshot.tree.nodeWidth : nil,
            replaceAllNodes: snapshot.isComplete)
    }

    /// Stores a group that is not stored yet (one just created with `MLSGroup.create`) in full,
    /// in one atomic write together with `extra`, and returns its handle.
    ///
    /// - Throws: ``StorageError/conflict`` if a group with this ID is already stored.
    @discardableResult
    public func create(_ group: MLSGroup, with extra: StorageBatch = StorageBatch()) throws -> PersistentGroup {
        try commit(try prepareCreate(group), with: extra)
    }

    /// The transition that stores a new group, for a caller that commits it together with other
    /// writes (see ``commit(_:with:)->PersistentGroup``).
    public func prepareCreate(_ group: MLSGroup) throws -> GroupTransition {
        GroupTransition(next: group, store: self, handle: nil, write: try groupWrite(for: group, relativeTo: nil, replacing: .absent))
    }

    /// Writes a prepared transition in one atomic write together with `extra`, then adopts it:
    /// the transition's handle moves to the new state, or, for a created or joined group, a new
    /// handle is returned.
    ///
    /// - Throws: ``StorageError/conflict`` if the stored group is no longer the state the
    ///   transition was prepared from (or, for a new group, if it is already stored); nothing is
    ///   written and the handle keeps its state.
    @discardableResult
    public func commit(_ transition: GroupTransition, with extra: StorageBatch = StorageBatch()) throws -> PersistentGroup {
        try commit([transition], with: extra)[0]
    }

    /// Writes several prepared transitions (of groups in this store or in other stores over the
    /// same backend) and `extra` in one atomic write, then adopts each; returns their handles in
    /// order. Either every transition takes effect or none does.
    ///
    /// - Throws: ``StorageError/conflict`` if any transition's group changed since it was
    ///   prepared (nothing is written, no handle changes); ``StorageError/foreignTransition`` if a
    ///   transition belongs to a store over another backend.
    @discardableResult
    public func commit(_ transitions: [GroupTransition], with extra: StorageBatch = StorageBatch()) throws -> [PersistentGroup] {
        var batch = StorageBatch()
        for t in transitions {
            guard t.store.backendIdentity == backendIdentity else { throw StorageError.foreignTransition }
            batch.groups.append(t.write)
            batch.append(t.ownWrites)
        }
        batch.append(extra)
        try backend.write(batch)
        return transitions.map { $0.adopt() }
    }

    /// The backend instance, for telling whether two stores write to the same one. A backend
    /// that is not a class (none is today) gets a fresh box here, so it only matches itself
    /// through the same store.
    var backendIdentity: ObjectIdentifier { ObjectIdentifier(backend as AnyObject) }

    /// Deletes a group's state (after it was removed, or when the application leaves it). This is
    /// unconditional: a handle of the group that writes afterwards gets ``StorageError/conflict``.
    public func deleteGroup(_ groupID: [UInt8]) throws {
        var batch = StorageBatch()
        batch.deleteGroups.append(storageKey(groupID))
        try backend.write(batch)
    }

    /// The backend key under which `groupID` is stored, for a batch that deletes it.
    public func groupKey(_ groupID: [UInt8]) -> [UInt8] { storageKey(groupID) }

    // MARK: KeyPackages

    private static let keyPackageVersion: UInt8 = 1

    /// The write that stores a KeyPackage's private material under its KeyPackageRef (§5.2);
    /// `ref` is the backend key (client ID and KeyPackageRef).
    public func keyPackageWrite(_ bundle: KeyPackageBundle, lastResort: Bool = false) throws -> (ref: [UInt8], blob: [UInt8]) {
        guard let suite = CipherSuite(id: bundle.keyPackage.cipherSuite) else { throw GroupError.cipherSuiteMismatch }
        let ref = bundle.keyPackage.ref(suite: suite)
        var w = TLSWriter(capacity: 1024)
        w.writeUInt8(Self.keyPackageVersion)
        w.writeUInt8(lastResort ? 1 : 0)
        w.write(bundle.keyPackage)
        // An external signer's key is not ours to store: an empty key stands for the store's signer.
        let signatureKey = (bundle.signer as? InMemorySigner)?.privateKey ?? SecretBytes(zeros: 0)
        for s in [bundle.initPrivateKey, bundle.encryptionPrivateKey, signatureKey] { s.withUnsafeBytes { w.writeOpaque($0) } }
        var bytes = w.takeBytes()
        let key = storageKey(ref)
        return (key, try sealing.seal(&bytes, kind: .keyPackage, binding: key))
    }

    /// Stores a KeyPackage's private material; returns its KeyPackageRef.
    @discardableResult
    public func storeKeyPackage(_ bundle: KeyPackageBundle, lastResort: Bool = false) throws -> [UInt8] {
        let entry = try keyPackageWrite(bundle, lastResort: lastResort)
        var batch = StorageBatch()
        batch.putKeyPackages.append(entry)
        try backend.write(batch)
        return ownID(entry.ref) ?? []
    }

    /// The batch entry that deletes a KeyPackage's private material.
    public func keyPackageKey(ref: [UInt8]) -> [UInt8] { storageKey(ref) }

    /// A stored KeyPackage by KeyPackageRef.
    public func keyPackage(ref: [UInt8]) throws -> StoredKeyPackage? {
        let key = storageKey(ref)
        guard let blob = try backend.readKeyPackage(key) else { return nil }
        var bytes = try sealing.open(blob, kind: .keyPackage, binding: key).unsafeCopiedBytes()
        defer { SecretBytes.zeroize(&bytes) }
        var r = TLSReader(bytes)
        do {
            let version = try r.readUInt8()
            guard version == Self.keyPackageVersion else { throw StorageError.unsupportedVersion(kind: "key package", version: UInt16(version)) }
            let lastResort = try r.readPresence("last_resort")
            let kp = try r.read(KeyPackage.self)
            func secret() throws -> SecretBytes {
                var raw = try r.readOpaque()
                return SecretBytes(zeroizing: &raw)
            }
            let initKey = try secret(), encryptionKey = try secret(), signatureKey = try secret()
            let keyPackageSigner: any MLSSigner
            if signatureKey.count == 0 {
                guard let signer else { throw StorageError.corrupt("KeyPackage signed by an external signer, and the store has none") }
                keyPackageSigner = signer
            } else {
                guard let suite = CipherSuite(id: kp.cipherSuite),
                      let s = try? InMemorySigner(scheme: suite.signature, privateKey: signatureKey) else { throw StorageError.corrupt("KeyPackage signature key") }
                keyPackageSigner = s
            }
            guard keyPackageSigner.publicKey == kp.leafNode.signatureKey else { throw StorageError.corrupt("KeyPackage signature key is not its leaf's") }
            let bundle = KeyPackageBundle(keyPackage: kp, initPrivateKey: initKey, encryptionPrivateKey: encryptionKey, signer: keyPackageSigner)
            try r.finish()
            return StoredKeyPackage(bundle: bundle, lastResort: lastResort)
        } catch let e as StorageError {
            throw e
        } catch {
            throw StorageError.corrupt("key package: \(error)")
        }
    }

    /// Joins a group from a Welcome with one of the stored KeyPackages (§12.4.3.1), stores the
    /// new group in the same atomic write that deletes the KeyPackage's private keys (unless it
    /// is a last-resort one) and applies `extra`, and returns its handle. The configuration is
    /// required for the reason given at ``open(_:configuration:)``.
    ///
    /// - Throws: ``StorageError/noMatchingKeyPackage`` if no stored KeyPackage matches;
    ///   ``StorageError/conflict`` if the group is already stored.
    public func join(welcome: MLSMessage, ratchetTree: RatchetTreeNodes? = nil, configuration: GroupConfiguration,
                     with extra: StorageBatch = StorageBatch()) throws -> PersistentGroup {
        try commit(try prepareJoin(welcome: welcome, ratchetTree: ratchetTree, configuration: configuration), with: extra)
    }

    /// Joins as ``join(welcome:ratchetTree:configuration:with:)`` does, but returns the
    /// transition instead of writing it, for a caller that decides later, or commits it together
    /// with writes of its own. Until it is committed nothing is stored and the KeyPackage stays.
    public func prepareJoin(welcome: MLSMessage, ratchetTree: RatchetTreeNodes? = nil, configuration: GroupConfiguration) throws -> GroupTransition {
        guard case let .welcome(w) = welcome.body else { throw GroupError.unexpectedWireFormat }
        for entry in w.secrets {
            guard let stored = try keyPackage(ref: entry.newMember) else { continue }
            let group = try MLSGroup.join(welcome: welcome, keyPackage: stored.bundle, ratchetTree: ratchetTree, configuration: configuration)
            var consumed = StorageBatch()
            if !stored.lastResort { consumed.deleteKeyPackages.append(storageKey(entry.newMember)) }
            return GroupTransition(next: group, store: self, handle: nil, write: try groupWrite(for: group, relativeTo: nil, replacing: .absent),
                                   ownWrites: consumed)
        }
        throw StorageError.noMatchingKeyPackage
    }

    // MARK: PSKs

    /// Stores an external PSK (§8.4).
    public func storePSK(id: [UInt8], secret: SecretBytes) throws {
        var batch = StorageBatch()
        let key = storageKey(id)
        batch.putPSKs.append((key, try sealing.seal(secret, kind: .psk, binding: key)))
        try backend.write(batch)
    }

    /// Deletes an external PSK.
    public func deletePSK(id: [UInt8]) throws {
        var batch = StorageBatch()
        batch.deletePSKs.append(storageKey(id))
        try backend.write(batch)
    }

    // MARK: Application values

    private func valueBinding(_ namespace: String, _ key: [UInt8]) -> [UInt8] {
        var w = TLSWriter()
        w.writeOpaque(Array(namespace.utf8))
        w.writeOpaque(key)
        return w.takeBytes()
    }

    /// The batch entry that deletes an application value.
    public func valueDeletion(namespace: String, key: [UInt8]) -> (namespace: String, key: [UInt8]) {
        (namespace, storageKey(key))
    }

    /// The write that stores an application value (a transport's sync token or queued message),
    /// for a batch that commits it together with a group transition.
    public func valueWrite(namespace: String, key: [UInt8], value: [UInt8]) throws -> (namespace: String, key: [UInt8], blob: [UInt8]) {
        var bytes = value
        let stored = storageKey(key)
        return (namespace, stored, try sealing.seal(&bytes, kind: .value, binding: valueBinding(namespace, stored)))
    }

    /// Stores an application value.
    public func putValue(namespace: String, key: [UInt8], value: [UInt8]) throws {
        var batch = StorageBatch()
        batch.putValues.append(try valueWrite(namespace: namespace, key: key, value: value))
        try backend.write(batch)
    }

    /// An application value.
    public func value(namespace: String, key: [UInt8]) throws -> [UInt8]? {
        let stored = storageKey(key)
        guard let blob = try backend.readValue(namespace: namespace, key: stored) else { return nil }
        return try sealing.open(blob, kind: .value, binding: valueBinding(namespace, stored)).unsafeCopiedBytes()
    }

    /// All of this client's values of a namespace, ordered by their backend key (for keys of
    /// equal length, by key bytes).
    public func values(namespace: String) throws -> [(key: [UInt8], value: [UInt8])] {
        try backend.values(namespace: namespace).compactMap { entry in
            guard let id = ownID(entry.key) else { return nil }
            return (id, try sealing.open(entry.blob, kind: .value, binding: valueBinding(namespace, entry.key)).unsafeCopiedBytes())
        }
    }

    /// Deletes an application value.
    public func deleteValue(namespace: String, key: [UInt8]) throws {
        var batch = StorageBatch()
        batch.deleteValues.append(valueDeletion(namespace: namespace, key: key))
        try backend.write(batch)
    }
}

extension GroupStore: PSKStore {
    /// The stored external PSK with this ID (`nil` if absent or unreadable).
    public func externalPSK(id: [UInt8]) -> SecretBytes? {
        let key = storageKey(id)
        guard let blob = try? backend.readPSK(key) else { return nil }
        return try? sealing.open(blob, kind: .psk, binding: key)
    }

    /// The resumption PSK of one of this client's stored groups (§8.6), if it is still retained.
    /// Only the group's record is read, not its tree, so no configuration is needed for it.
    public func resumptionPSK(groupID: [UInt8], epoch: UInt64) -> SecretBytes? {
        let key = storageKey(groupID)
        guard let rows = try? backend.readGroup(key),
              let record = try? sealing.open(rows.record, kind: .groupRecord, binding: recordBinding(key, epoch: rows.epoch, stamp: rows.stamp))
        else { return nil }
        return try? GroupStateSnapshot.resumptionPSK(inRecord: record, epoch: epoch)
    }
}
