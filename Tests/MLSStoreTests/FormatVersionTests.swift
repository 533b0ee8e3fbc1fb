import Foundation
import MLSCodec
import MLSCrypto
import Testing
@testable import MLS

/// Records of the previous format (version 1) load, and differ from the current one only where
/// the format changed.
///
/// The version 1 fixture is generated here by the version 1 encoder that the record structure
/// keeps for exactly this purpose (`snapshot(relativeTo:formatVersion:)`).
@Suite struct FormatVersionTests {
    let cast = Cast()
    let config = GroupConfiguration()

    /// A member with everything a record can hold: past epochs and a pending commit.
    func richState() throws -> (me: MLSGroup, others: [MLSGroup], pendingCommit: MLSMessage) {
        var groups = try cast.members(3)
        let out = try groups[1].commit()
        try groups[1].mergePendingCommit()
        for i in [0, 2] { _ = try groups[i].process(out.commit) }
        let pending = try groups[0].commit()
        return (groups[0], [groups[1], groups[2]], pending.commit)
    }

    @Test("version 1 and 2 records differ only in the tagged epoch secrets, and both restore to the same state")
    func recordVersions() throws {
        let (me, _, _) = try richState()
        let v1 = me.snapshot(relativeTo: nil, formatVersion: 1).record.unsafeCopiedBytes()
        let v2 = me.snapshot().record.unsafeCopiedBytes()
        #expect(Array(v1[4..<6]) == [0, 1] && Array(v2[4..<6]) == [0, 2])
        // Eleven tags and a two-byte vector length, in the member state and again in the
        // pending commit's.
        #expect(v2.count - v1.count == 2 * (11 + 2))
        let nodes = Dictionary(uniqueKeysWithValues: me.snapshot().tree.nodes.compactMap { i, n in n.map { (i, $0) } })
        let restored = try MLSGroup(restoringRecord: SecretBytes(v1), nodes: nodes, configuration: config)
        expectSameState(restored, me)
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
}
