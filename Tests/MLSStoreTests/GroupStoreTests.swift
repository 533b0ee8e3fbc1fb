import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLSStore

/// A small cast for persistence tests: every member's state lives in one shared backend, each
/// under its own client ID.
struct Cast {
    let suite = CipherSuite(id: 1)!
    let groupID = Array("mailbox-17".utf8)

    static func bundle(_ name: String, suite: CipherSuite) throws -> KeyPackageBundle {
        try MLSClient.basic(identity: Array(name.utf8), suite: suite).makeKeyPackage()
    }

    /// A group of `count` members, all merged into epoch 1.
    func members(_ count: Int) throws -> [MLSGroup] {
        var creator = try MLSGroup.create(suite: suite, groupID: groupID, creator: try Self.bundle("m0", suite: suite))
        guard count > 1 else { return [creator] }
        let bundles = try (1..<count).map { try Self.bundle("m\($0)", suite: suite) }
        let out = try creator.commit(CommitOptions(proposals: bundles.map { .add($0.keyPackage) }))
        try creator.merge(out.pending)
        let welcome = try #require(out.welcome)
        return [creator] + (try bundles.map { try MLSGroup.join(welcome: welcome, keyPackage: $0) })
    }
}

func sqliteFile() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("mlskit-test-\(UUID().uuidString).sqlite").path
}

/// The complete persisted form, for comparing states.
func fingerprint(_ g: MLSGroup) -> (SecretBytes, TreeDelta) {
    let s = g.snapshot()
    return (s.record, s.tree)
}

func expectSameState(_ a: MLSGroup, _ b: MLSGroup, sourceLocation: SourceLocation = #_sourceLocation) {
    let (ra, ta) = fingerprint(a)
    let (rb, tb) = fingerprint(b)
    #expect(ra == rb, "records differ", sourceLocation: sourceLocation)
    #expect(ta == tb, "trees differ", sourceLocation: sourceLocation)
}

@Suite struct GroupStoreTests {
    let cast = Cast()

    static let backends: [String] = ["memory", "sqlite"]

    func backend(_ kind: String) throws -> any StorageBackend {
        kind == "memory" ? InMemoryStorage() : try SQLiteStorage(path: sqliteFile())
    }

    @Test("a stored group loads back identical, and the session continues", arguments: backends)
    func roundTrip(kind: String) throws {
        let backend = try backend(kind)
        var groups = try cast.members(4)
        let stores = try (0..<4).map { try GroupStore(backend: backend, clientID: Array("m\($0)".utf8)) }
        for (g, s) in zip(groups, stores) { try s.create(g) }
        for i in 0..<4 {
            let loaded = try #require(try stores[i].loadGroup(cast.groupID, configuration: GroupConfiguration()))
            expectSameState(loaded, groups[i])
            groups[i] = loaded
        }
        let ct = try groups[2].encrypt(Array("Bescheid".utf8))
        for i in [0, 1, 3] {
            #expect(try groups[i].process(ct).content == .application(Array("Bescheid".utf8)))
        }
        let out = try groups[1].commit()
        try groups[1].merge(out.pending)
        for i in [0, 2, 3] { _ = try groups[i].process(out.commit) }
        #expect(Set(groups.map(\.epochAuthenticator)).count == 1)
    }

    @Test("the encoding is deterministic and versioned: unknown versions and foreign bytes are refused")
    func versioning() throws {
        let g = try cast.members(2)[0]
        #expect(g.snapshot().record == g.snapshot().record)
        var bytes = g.snapshot().record.unsafeCopiedBytes()
        let nodes = Dictionary(uniqueKeysWithValues: g.snapshot().tree.nodes.compactMap { i, n in n.map { (i, $0) } })
        let config = GroupConfiguration()
        #expect(bytes[4] == 0 && bytes[5] == 2, "format version 2 is written")
        bytes[5] = 3  // format version 2 -> 3
        #expect(throws: GroupStateError.unsupportedVersion(3)) { try MLSGroup(restoringRecord: SecretBytes(bytes), nodes: nodes, configuration: config) }
        bytes[5] = 0
        #expect(throws: GroupStateError.unsupportedVersion(0)) { try MLSGroup(restoringRecord: SecretBytes(bytes), nodes: nodes, configuration: config) }
        bytes[0] = 0x00
        #expect(throws: GroupStateError.notGroupState) { try MLSGroup(restoringRecord: SecretBytes(bytes), nodes: nodes, configuration: config) }
        var node = GroupStateSnapshot.encodeNode(nodes[0]!)
        node[0] = 9
        #expect(throws: GroupStateError.unsupportedVersion(9)) { try GroupStateSnapshot.decodeNode(node) }
        // Every truncation of a record is refused with a typed error, never a trap.
        let good = g.snapshot().record.unsafeCopiedBytes()
        for cut in stride(from: 0, to: good.count, by: 7) {
            #expect(throws: GroupStateError.self) { try MLSGroup(restoringRecord: SecretBytes(good[..<cut]), nodes: nodes, configuration: config) }
        }
        // A missing node is caught by the tree-hash check.
        var fewer = nodes
        fewer.removeValue(forKey: 2)
        #expect(throws: GroupStateError.treeHashMismatch) { try MLSGroup(restoringRecord: g.snapshot().record, nodes: fewer, configuration: config) }
    }

    @Test("a commit writes O(log n) tree nodes, not the whole tree")
    func commitWritesFewNodes() throws {
        let groups = try cast.members(64)
        let store = try GroupStore(backend: InMemoryStorage())
        let handle = try store.create(groups[5])
        let (_, pending) = try handle.prepareCommit()
        // The pending commit's new path lives in the record; the current tree is unchanged.
        #expect(pending.write.upsertNodes.isEmpty && pending.write.deleteNodes.isEmpty)
        try store.commit(pending)
        let merge = try handle.prepareMergePendingCommit()
        // Leaf plus the six parents on a 64-leaf direct path.
        let write = merge.write
        #expect(write.upsertNodes.count <= 7, "\(write.upsertNodes.count) nodes written")
        #expect(write.upsertNodes.count >= 2)
        #expect(!write.replaceAllNodes)
        try store.commit(merge)
        expectSameState(try #require(try store.loadGroup(cast.groupID, configuration: GroupConfiguration())), handle.group)
    }

    @Test("a pending commit survives a restart and merges when it comes back", arguments: backends)
    func pendingCommit(kind: String) throws {
        var groups = try cast.members(3)
        let store = try GroupStore(backend: try backend(kind))
        let handle = try store.create(groups[0])
        let out = try handle.commit()
        #expect(handle.pendingCommit?.epoch == groups[0].epoch && handle.epoch == groups[0].epoch)
        // Restart.
        let reloaded = try #require(try store.open(cast.groupID, configuration: GroupConfiguration()))
        #expect(reloaded.pendingCommit?.epoch == groups[0].epoch)
        #expect(reloaded.pendingCommit?.description.epoch == out.description.epoch)
        expectSameState(reloaded.group, handle.group)
        // Without the pending commit the echo is the member's own commit, which it cannot process.
        #expect(throws: GroupError.framing(.ownCommitNotPending)) { try reloaded.update { try $0.process(out.commit) } }
        #expect(reloaded.pendingCommit != nil)
        let processed = try reloaded.process(out.commit)
        #expect(processed.content.commit?.removedSelf == false)
        #expect(reloaded.pendingCommit == nil)
        for i in 1..<3 { _ = try groups[i].process(out.commit) }
        #expect(reloaded.group.epochAuthenticator == groups[1].epochAuthenticator)
        let ct = try groups[2].encrypt([1, 2, 3])
        #expect(try reloaded.process(ct).content == .application([1, 2, 3]))
    }

    @Test("a pending commit survives a restart and merges without an echo", arguments: backends)
    func pendingCommitMergedAfterRestart(kind: String) throws {
        var groups = try cast.members(3)
        let store = try GroupStore(backend: try backend(kind))
        let handle = try store.create(groups[0])
        let out = try handle.commit(CommitOptions(proposals: [.remove(LeafIndex(2))]))
        let reloaded = try #require(try store.open(cast.groupID, configuration: GroupConfiguration()))
        try reloaded.mergePendingCommit()
        #expect(reloaded.pendingCommit == nil && reloaded.epoch == out.description.epoch)
        _ = try groups[1].process(out.commit)
        #expect(reloaded.group.epochAuthenticator == groups[1].epochAuthenticator)
        // The merged state is what the store holds, without a pending commit.
        let again = try #require(try store.open(cast.groupID, configuration: GroupConfiguration()))
        #expect(again.pendingCommit == nil)
        expectSameState(again.group, reloaded.group)
        #expect(throws: GroupError.noPendingCommit) { try again.mergePendingCommit() }
    }

    @Test("another member's commit drops the stored pending commit; a discarded one is gone after a restart", arguments: backends)
    func pendingCommitDroppedOrDiscarded(kind: String) throws {
        var groups = try cast.members(3)
        let store = try GroupStore(backend: try backend(kind))
        let handle = try store.create(groups[0])
        let mine = try handle.commit()
        let theirs = try groups[1].commit()
        _ = try handle.process(theirs.commit)
        #expect(handle.pendingCommit == nil)
        #expect(try #require(try store.open(cast.groupID, configuration: GroupConfiguration())).pendingCommit == nil)
        try groups[1].merge(theirs.pending)
        #expect(handle.group.epochAuthenticator == groups[1].epochAuthenticator)
        #expect(throws: GroupError.self) { try handle.process(mine.commit) }

        _ = try handle.commit()
        #expect(handle.pendingCommit != nil)
        try handle.discardPendingCommit()
        #expect(handle.pendingCommit == nil)
        #expect(try #require(try store.open(cast.groupID, configuration: GroupConfiguration())).pendingCommit == nil)
    }

    @Test("a consumed message key stays consumed across a restart (forward secrecy)", arguments: backends)
    func consumedKeysStayDeleted(kind: String) throws {
        var groups = try cast.members(2)
        let store = try GroupStore(backend: try backend(kind))
        let handle = try store.create(groups[1])
        let ct = try groups[0].encrypt(Array("Antrag".utf8))
        _ = try handle.process(ct)
        let restarted = try #require(try store.open(cast.groupID, configuration: GroupConfiguration()))
        #expect(throws: GroupError.self) { try restarted.process(ct) }
        // A key handed out by encrypt is stored as consumed before the ciphertext is used.
        let sender = try GroupStore(backend: InMemoryStorage()).create(groups[0])
        let first = try sender.update { try $0.encrypt([1]) }
        let again = try #require(try sender.store.open(cast.groupID, configuration: GroupConfiguration()))
        var copy = again.group
        let second = try copy.encrypt([1])
        guard case let .privateMessage(a) = first.body, case let .privateMessage(b) = second.body else { Issue.record("not private"); return }
        #expect(a.encryptedSenderData != b.encryptedSenderData || a.ciphertext != b.ciphertext)
        #expect(try groups[1].process(first).content == .application([1]))
        #expect(try groups[1].process(second).content == .application([1]))
    }

    @Test("late messages of a retained past epoch decrypt after a restart")
    func pastEpochs() throws {
        var groups = try cast.members(3)
        let late = try groups[2].encrypt(Array("spät".utf8))
        let out = try groups[0].commit()
        try groups[0].merge(out.pending)
        for i in 1..<3 { _ = try groups[i].process(out.commit) }
        let store = try GroupStore(backend: InMemoryStorage())
        try store.create(groups[1])
        var loaded = try #require(try store.loadGroup(cast.groupID, configuration: GroupConfiguration()))
        expectSameState(loaded, groups[1])
        #expect(try loaded.process(late).content == .application(Array("spät".utf8)))
    }

    @Test("joining deletes the KeyPackage's private keys in the same write; a last-resort one is kept", arguments: [false, true])
    func keyPackageDeletedOnJoin(lastResort: Bool) throws {
        let backend = InMemoryStorage()
        let store = try GroupStore(backend: backend, clientID: Array("citizen".utf8))
        let bundle = try Cast.bundle("citizen", suite: cast.suite)
        let ref = try store.storeKeyPackage(bundle, lastResort: lastResort)
        #expect(try store.keyPackage(ref: ref)?.bundle.initPrivateKey == bundle.initPrivateKey)
        var authority = try cast.members(1)[0]
        let out = try authority.commit(CommitOptions(proposals: [.add(bundle.keyPackage)]))
        try authority.merge(out.pending)
        let writes = backend.writeCount
        let joined = try store.join(welcome: try #require(out.welcome), configuration: GroupConfiguration())
        #expect(backend.writeCount == writes + 1)
        #expect(joined.group.epochAuthenticator == authority.epochAuthenticator)
        #expect((try store.keyPackage(ref: ref) != nil) == lastResort)
        #expect(try store.loadGroup(cast.groupID, configuration: GroupConfiguration()) != nil)
        let other = try GroupStore(backend: backend, clientID: Array("clerk".utf8))
        #expect(throws: StorageError.noMatchingKeyPackage) { try other.join(welcome: try #require(out.welcome), configuration: GroupConfiguration()) }
        // The group is stored once: joining again (a redelivered Welcome, with a last-resort
        // KeyPackage still there) does not overwrite it.
        if lastResort {
            #expect(throws: StorageError.conflict) { try store.join(welcome: try #require(out.welcome), configuration: GroupConfiguration()) }
        }
    }

    @Test("sealed state: bound to group, epoch and node; wrong keys, moved rows and downgrades are refused")
    func encryptionAtRest() throws {
        let backend = InMemoryStorage()
        let key = SecretBytes(randomCount: 32)
        let groups = try cast.members(3)
        let alice = try GroupStore(backend: backend, clientID: Array("a".utf8), encryptionKey: key)
        let bob = try GroupStore(backend: backend, clientID: Array("b".utf8), encryptionKey: key)
        try alice.create(groups[0])
        try bob.create(groups[1])
        expectSameState(try #require(try alice.loadGroup(cast.groupID, configuration: GroupConfiguration())), groups[0])
        let aRows = try #require(try backend.readGroup(alice.storageKey(cast.groupID)))
        let bRows = try #require(try backend.readGroup(bob.storageKey(cast.groupID)))
        // No secret appears in the clear.
        let plain = groups[0].snapshot().record.unsafeCopiedBytes()
        let secretSample = Array(plain[plain.count / 2..<plain.count / 2 + 16])
        #expect(!(0...(aRows.record.count - 16)).contains { Array(aRows.record[$0..<$0 + 16]) == secretSample })
        // Wrong key.
        let thief = try GroupStore(backend: backend, clientID: Array("a".utf8), encryptionKey: SecretBytes(randomCount: 32))
        #expect(throws: StorageError.sealOpenFailed) { try thief.loadGroup(cast.groupID, configuration: GroupConfiguration()) }
        // Another member's record moved into Alice's row.
        var batch = StorageBatch()
        batch.groups = [GroupWrite(groupID: aRows.groupID, epoch: aRows.epoch, record: bRows.record, replacing: .unconditional, stamp: aRows.stamp)]
        try backend.write(batch)
        #expect(throws: StorageError.sealOpenFailed) { try alice.loadGroup(cast.groupID, configuration: GroupConfiguration()) }
        // The right record under another epoch number.
        batch.groups = [GroupWrite(groupID: aRows.groupID, epoch: aRows.epoch + 1, record: aRows.record, replacing: .unconditional, stamp: aRows.stamp)]
        try backend.write(batch)
        #expect(throws: StorageError.sealOpenFailed) { try alice.loadGroup(cast.groupID, configuration: GroupConfiguration()) }
        // The right record under another stamp, or relabelled as written before stamps existed:
        // the compare-and-swap stamp cannot be edited without the record failing to open.
        for stamp in [RecordStamp.random(), .legacy] {
            batch.groups = [GroupWrite(groupID: aRows.groupID, epoch: aRows.epoch, record: aRows.record, replacing: .unconditional, stamp: stamp)]
            try backend.write(batch)
            #expect(throws: StorageError.sealOpenFailed) { try alice.loadGroup(cast.groupID, configuration: GroupConfiguration()) }
        }
        // Nodes swapped between indices.
        var swapped = aRows.nodes
        swapped[0] = aRows.nodes[2]
        batch.groups = [GroupWrite(groupID: aRows.groupID, epoch: aRows.epoch, record: aRows.record, replacing: .unconditional, stamp: aRows.stamp,
                                   upsertNodes: swapped.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, replaceAllNodes: true)]
        try backend.write(batch)
        #expect(throws: StorageError.sealOpenFailed) { try alice.loadGroup(cast.groupID, configuration: GroupConfiguration()) }
        // A store without the key meets sealed rows; a store with a key meets plaintext rows.
        let keyless = try GroupStore(backend: backend, clientID: Array("b".utf8))
        #expect(throws: StorageError.sealingMismatch) { try keyless.loadGroup(cast.groupID, configuration: GroupConfiguration()) }
        let plainStore = try GroupStore(backend: backend, clientID: Array("c".utf8))
        try plainStore.create(groups[2])
        let sealedReader = try GroupStore(backend: backend, clientID: Array("c".utf8), encryptionKey: key)
        #expect(throws: StorageError.sealingMismatch) { try sealedReader.loadGroup(cast.groupID, configuration: GroupConfiguration()) }
        #expect(throws: CryptoError.self) { try GroupStore(backend: backend, encryptionKey: SecretBytes(randomCount: 16)) }
    }

    @Test("a randomized persisted session: after every transition the stored state equals the live one", arguments: backends)
    func randomizedSession(kind: String) throws {
        let backend = try backend(kind)
        var rng = SystemRandomNumberGenerator()
        var groups = try cast.members(3)
        var stores = try (0..<3).map { try GroupStore(backend: backend, clientID: Array("m\($0)".utf8), encryptionKey: kind == "sqlite" ? SecretBytes(randomCount: 32) : nil) }
        var handles = try zip(groups, stores).map { try $1.create($0) }
        var nextName = 3
        for _ in 0..<30 {
            let actor = Int.random(in: 0..<handles.count, using: &rng)
            let choice = Int.random(in: 0..<4, using: &rng)
            if choice == 0 || handles.count < 3 {
                // Add a member whose KeyPackage waits in the store.
                let name = Array("m\(nextName)".utf8)
                nextName += 1
                let store = try GroupStore(backend: backend, clientID: name, encryptionKey: stores[0].sealing.key)
                let bundle = try Cast.bundle(String(decoding: name, as: UTF8.self), suite: cast.suite)
                try store.storeKeyPackage(bundle)
                let out = try handles[actor].commit(CommitOptions(proposals: [.add(bundle.keyPackage)]))
                for i in handles.indices { _ = try handles[i].process(out.commit) }
                handles.append(try store.join(welcome: try #require(out.welcome), configuration: GroupConfiguration()))
                stores.append(store)
            } else if choice == 1, handles.count > 3 {
                // Remove someone else; the removed member's state is deleted.
                let victim = (actor + 1 + Int.random(in: 0..<(handles.count - 1), using: &rng)) % handles.count
                let victimLeaf = handles[victim].group.myLeaf.rawValue
                let out = try handles[actor].commit(CommitOptions(proposals: [.remove(LeafIndex(victimLeaf))]))
                for i in handles.indices { _ = try handles[i].process(out.commit) }
                try handles[victim].store.deleteGroup(cast.groupID)
                handles.remove(at: victim)
                stores.remove(at: victim)
            } else if choice == 2 {
                let out = try handles[actor].commit()
                for i in handles.indices { _ = try handles[i].process(out.commit) }
            } else {
                let ct = try handles[actor].update { try $0.encrypt(Array("note".utf8)) }
                for i in handles.indices where i != actor { _ = try handles[i].process(ct) }
            }
            for h in handles {
                let loaded = try #require(try h.store.loadGroup(cast.groupID, configuration: GroupConfiguration()))
                expectSameState(loaded, h.group)
            }
            #expect(Set(handles.map(\.group.epochAuthenticator)).count == 1)
        }
        groups = handles.map(\.group)
        #expect(groups.count >= 3)
    }
}

@Suite struct SecureDeletionTests {
    /// Whether `needle` occurs in the database file or its WAL.
    func fileContains(_ path: String, _ needle: [UInt8]) throws -> Bool {
        var found = false
        for p in [path, path + "-wal"] where FileManager.default.fileExists(atPath: p) {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: p)))
            guard bytes.count >= needle.count else { continue }
            found = found || (0...(bytes.count - needle.count)).contains { bytes[$0] == needle[0] && Array(bytes[$0..<$0 + needle.count]) == needle }
        }
        return found
    }

    @Test("a deleted KeyPackage's private key is gone from the SQLite files after a checkpoint")
    func deletedSecretsLeaveTheFile() throws {
        let path = sqliteFile()
        let backend = try SQLiteStorage(path: path)
        // Stored in the clear, so the test can see the key bytes while they exist.
        let store = try GroupStore(backend: backend, clientID: Array("citizen".utf8))
        let bundle = try Cast.bundle("citizen", suite: CipherSuite(id: 1)!)
        let secret = bundle.initPrivateKey.unsafeCopiedBytes()
        let ref = try store.storeKeyPackage(bundle)
        try backend.checkpoint()
        #expect(try fileContains(path, secret), "the test must see the key before deletion")
        var batch = StorageBatch()
        batch.deleteKeyPackages.append(store.keyPackageKey(ref: ref))
        try backend.write(batch)
        try backend.checkpoint()
        #expect(!(try fileContains(path, secret)))
    }
}

/// A group whose signer keeps its key outside MLSKit is stored without a signature key, and
/// cannot be restored without its signer.
@Suite struct ExternalSignerStoreTests {
    final class Device: MLSSigner {
        let scheme = SignatureScheme.ed25519
        let publicKey: [UInt8]
        private let key: SecretBytes
        init() { (key, publicKey) = SignatureScheme.ed25519.generateKeyPair() }
        func sign(_ message: [UInt8]) throws -> [UInt8] { try scheme.sign(message, privateKey: key) }
    }

    @Test func restoreNeedsTheSigner() throws {
        let suite = CipherSuite(id: 1)!
        let device = Device()
        let client = try MLSClient(credential: .basic(identity: Array("authority".utf8)), signer: device, suite: suite)
        let group = try client.createGroup(groupID: Array("hsm-group".utf8))
        let backend = InMemoryStorage()
        let writer = try GroupStore(backend: backend, signer: device)
        try writer.create(group)
        // The record holds no signature key, so without the signer the state is refused…
        let bare = try GroupStore(backend: backend)
        #expect(throws: GroupStateError.signerRequired) { try bare.loadGroup(group.groupID, configuration: GroupConfiguration()) }
        // …and with it, the restored group signs through the device.
        var restored = try #require(try GroupStore(backend: backend, signer: device).loadGroup(group.groupID, configuration: GroupConfiguration()))
        #expect(restored.epochAuthenticator == group.epochAuthenticator)
        _ = try restored.commit()
        // A store handed another client's signer is refused rather than signing under the wrong key.
        let other = try GroupStore(backend: backend, signer: Device())
        #expect(throws: GroupStateError.self) { try other.loadGroup(group.groupID, configuration: GroupConfiguration()) }
    }
}
