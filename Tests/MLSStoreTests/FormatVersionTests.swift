import Foundation
import GRDB
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLS
@_spi(Engine) @testable import MLSStore

/// Stores written by the previous format (record version 1, SQLite schema v1, records sealed
/// without a stamp) load, and their next transition rewrites them in the current format.
///
/// The version 1 fixture is generated here by the version 1 encoder that the record structure
/// keeps for exactly this purpose (`snapshot(relativeTo:formatVersion:)`), written into a file
/// whose schema stops at the v1 migration, the way the previous build left its files.
@Suite struct FormatVersionTests {
    let cast = Cast()
    let config = GroupConfiguration()

    /// A member with everything a record can hold: past epochs and a pending commit.
    func richState() throws -> (me: MLSGroup, others: [MLSGroup], pendingCommit: CommitOutput) {
        var groups = try cast.members(3)
        let out = try groups[1].commit()
        try groups[1].merge(out.pending)
        for i in [0, 2] { _ = try groups[i].process(out.commit) }
        let pending = try groups[0].commit()
        return (groups[0], [groups[1], groups[2]], pending)
    }

    @Test("version 1 and 2 records differ only in the tagged epoch secrets, and both restore to the same state")
    func recordVersions() throws {
        let (me, _, out) = try richState()
        let v1 = me.snapshot(relativeTo: nil, pending: out.pending, formatVersion: 1).record.unsafeCopiedBytes()
        let v2 = me.snapshot(pending: out.pending).record.unsafeCopiedBytes()
        #expect(Array(v1[4..<6]) == [0, 1] && Array(v2[4..<6]) == [0, 2])
        // Eleven tags and a two-byte vector length, in the member state and again in the
        // pending commit's.
        #expect(v2.count - v1.count == 2 * (11 + 2))
        let nodes = Dictionary(uniqueKeysWithValues: me.snapshot().tree.nodes.compactMap { i, n in n.map { (i, $0) } })
        let restored = try MLSGroup.restoring(record: SecretBytes(v1), nodes: nodes, configuration: config)
        expectSameState(restored.group, me)
        #expect(restored.pendingCommit?.epoch == me.epoch)
    }

    /// A member that a commit removed keeps an inactive state; it must persist and restore
    /// like any other, whichever leaf it held (the last leaf's removal also truncates the tree).
    @Test("a removed member's state restores", arguments: [1, 2])
    func removedMemberRestores(leaf: Int) throws {
        var groups = try cast.members(3)
        let out = try groups[0].commit(CommitOptions(proposals: [.remove(LeafIndex(UInt32(leaf)))]))
        try groups[0].merge(out.pending)
        let processed = try groups[leaf].process(out.commit)
        guard case let .commit(description) = processed.content else { Issue.record("not a commit"); return }
        #expect(description.removedSelf)
        #expect(!groups[leaf].isActive)
        let snapshot = groups[leaf].snapshot()
        let nodes = Dictionary(uniqueKeysWithValues: snapshot.tree.nodes.compactMap { i, n in n.map { (i, $0) } })
        let restored = try MLSGroup.restoring(record: snapshot.record, nodes: nodes, configuration: config)
        expectSameState(restored.group, groups[leaf])
        #expect(!restored.group.isActive)
        var group = restored.group
        #expect(throws: GroupError.inactive) { _ = try group.encrypt([1]) }
    }

    @Test("epoch secrets are tagged: a swapped, missing or extra secret is refused")
    func taggedEpochSecrets() throws {
        let (me, _, _) = try richState()
        let record = EpochSecretsRecord(me.epochSecrets)
        var w = TLSWriter()
        record.encode(to: &w, version: 2)
        let good = w.takeBytes()
        var r = TLSReader(good)
        let back = try EpochSecretsRecord(decoding: &r, version: 2)
        #expect(back.initSecret == record.initSecret && back.joinerSecret == record.joinerSecret)
        // The vector is [two-byte length][tag 1][one-byte length][secret][tag 2]...; swap the
        // first two tags.
        let length = Int(me.suite.kdfLength)
        var swapped = good
        let first = 2, second = 2 + 1 + 1 + length
        #expect(swapped[first] == 1 && swapped[second] == 2)
        swapped.swapAt(first, second)
        var sr = TLSReader(swapped)
        #expect(throws: GroupStateError.self) { _ = try EpochSecretsRecord(decoding: &sr, version: 2) }
    }

    /// Writes `me` as the previous build did into a fresh file: schema v1, record version 1,
    /// sealed (when `key` is given) with the binding of that build (group key and epoch).
    func writeVersion1Store(_ me: MLSGroup, pending: PendingCommit, path: String, key: SecretBytes?) throws {
        let db = try DatabaseQueue(path: path)
        try SQLiteStorage.migrator.migrate(db, upTo: "v1")
        // Only the store's encoding and sealing are used from the current code; the row goes in by hand.
        let encoder = try GroupStore(backend: InMemoryStorage(), encryptionKey: key)
        let write = try encoder.groupWrite(snapshot: me.snapshot(relativeTo: nil, pending: pending, formatVersion: 1), referenceWidth: nil,
                                           replacing: .unconditional, stamp: .legacy)
        try db.write { db in
            try db.execute(sql: "INSERT INTO mls_group(group_id, epoch, record) VALUES (?, ?, ?)",
                           arguments: [Data(write.groupID), Int64(bitPattern: write.epoch), Data(write.record)])
            for node in write.upsertNodes {
                try db.execute(sql: "INSERT INTO mls_tree_node(group_id, node_index, blob) VALUES (?, ?, ?)",
                               arguments: [Data(write.groupID), Int64(node.index), Data(node.blob)])
            }
        }
        try db.close()
    }

    @Test("a store written by the previous format loads, continues, and is rewritten in the current format", arguments: [false, true])
    func version1StoreLoads(sealed: Bool) throws {
        let (me, others, pendingCommit) = try richState()
        let path = sqliteFile()
        let key = sealed ? SecretBytes(randomCount: 32) : nil
        try writeVersion1Store(me, pending: pendingCommit.pending, path: path, key: key)

        let store = try GroupStore(backend: try SQLiteStorage(path: path), encryptionKey: key)
        let handle = try #require(try store.open(cast.groupID, configuration: config))
        #expect(handle.stamp == .legacy)
        expectSameState(handle.group, me)
        #expect(handle.pendingCommit?.epoch == me.epoch)

        // The session goes on: the pending commit comes back and merges, a message decrypts.
        _ = try handle.process(pendingCommit.commit)
        #expect(handle.pendingCommit == nil)
        #expect(!handle.stamp.isLegacy)
        var peer = others[1]
        _ = try peer.process(pendingCommit.commit)
        #expect(handle.group.epochAuthenticator == peer.epochAuthenticator)
        let ct = try peer.encrypt(Array("weiter".utf8))
        #expect(try handle.process(ct).content == .application(Array("weiter".utf8)))

        // Reopened: the row is in the current format, stamped and bound to its stamp.
        let reopened = try GroupStore(backend: try SQLiteStorage(path: path), encryptionKey: key)
        let rows = try #require(try reopened.backend.readGroup(reopened.groupKey(cast.groupID)))
        #expect(rows.stamp == handle.stamp)
        let record = try reopened.sealing.open(rows.record, kind: .groupRecord,
                                               binding: reopened.recordBinding(rows.groupID, epoch: rows.epoch, stamp: rows.stamp))
        #expect(Array(record.unsafeCopiedBytes()[4..<6]) == [0, 2])
        expectSameState(try #require(try reopened.loadGroup(cast.groupID, configuration: config)), handle.group)
    }
}
