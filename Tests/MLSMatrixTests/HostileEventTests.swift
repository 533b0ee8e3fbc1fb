import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
@_spi(Engine) import MLSStore
import Testing
@_spi(Engine) @testable import MLSMatrix

/// Room events are untrusted input: malformed ones are recorded as seen and change nothing.
/// No homeserver is needed; events are fed to the sync handler directly.
@Suite struct HostileEventTests {
    @Test("malformed or out-of-place room events never trap and leave the group unchanged")
    func hostileRoomEvents() async throws {
        let suite = CipherSuite(id: 1)!
        let store = try GroupStore(backend: InMemoryStorage())
        let keys = InMemorySigner.generate(suite.signature)
        let session = MatrixSession(userID: "@authority:localhost", deviceID: "AUTH", accessToken: "unused")
        let client = try MatrixMLSClient(api: MatrixAPI(baseURL: "http://127.0.0.1:9"), session: session, store: store, suite: suite, signer: keys)
        let room = "!room"
        let bundle = try KeyPackageBundle.generate(suite: suite, credential: .basic(identity: Array(session.userID.utf8)),
                                                   signer: keys)
        let group = try MLSGroup.create(suite: suite, groupID: Array(room.utf8), creator: bundle)
        await client.install(room: room, group: try store.create(group))
        let before = await client.epochAuthenticator(of: room)
        var other = try MLSGroup.create(suite: suite, groupID: Array("other".utf8), creator: bundle)
        let valid = Base64.encode(try other.encrypt([1]).tlsSerialized)
        let events: [JSONObject] = [
            ["event_id": "$1", "type": MatrixMLSClient.commitType, "content": ["epoch": -1, "parent": "", "ciphertext": "AAAA"]],
            ["event_id": "$2", "type": MatrixMLSClient.commitType, "content": ["epoch": Int.max, "ciphertext": "not base64!"]],
            ["event_id": "$3", "type": MatrixMLSClient.commitType, "content": ["epoch": 0, "parent": "", "ciphertext": Base64.encode([0, 1, 0, 3, 255])]],
            ["event_id": "$4", "type": MatrixMLSClient.applicationType, "content": ["ciphertext": valid]],  // another group's message
            ["event_id": "$5", "type": MatrixMLSClient.applicationType, "content": ["ciphertext": 17]],
            ["event_id": "$6", "type": MatrixMLSClient.proposalType, "content": "not an object"],
            ["type": MatrixMLSClient.commitType, "content": [String: Any]()],
            ["event_id": "$7", "type": MatrixMLSClient.commitType, "content": ["epoch": 0, "ciphertext_url": "https://not-mxc", "ciphertext_sha256": "00"]],
        ]
        let batch: JSONObject = ["next_batch": "s1", "rooms": ["join": [room: ["timeline": ["events": events]]]]]
        _ = try await client.apply(syncResponse: JSONDocument(object: batch))
        #expect(await client.nextBatch == "s1")
        // Each is recorded with its reason, except the commit for an epoch that is not ours to
        // apply ($2): commits that lost are ordinary.
        let reasons = Dictionary(await client.takeFailures().map { ($0.eventID ?? "-", $0.reason) }, uniquingKeysWith: { a, _ in a })
        #expect(Set(reasons.keys) == ["$1", "$3", "$4", "$5", "$6", "$7", "-"])
        if case .rejected = reasons["$4"] {} else { Issue.record("foreign message: \(String(describing: reasons["$4"]))") }
        if case .mediaUnavailable = reasons["$7"] {} else { Issue.record("bad media URI: \(String(describing: reasons["$7"]))") }
        #expect(await client.epochAuthenticator(of: room) == before)
        #expect(await client.epoch(of: room) == 0)
        #expect(await client.takeMessages().isEmpty)
        let seenFirst = try await client.seen("$1")
        let seenForeign = try await client.seen("$4")
        #expect(seenFirst && seenForeign)
    }
}
