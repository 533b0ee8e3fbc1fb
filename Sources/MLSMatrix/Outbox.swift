import Foundation
import MLSCodec
import MLSCrypto
import MLSStore

/// One queued request: a room event or a to-device message. Its transaction ID is fixed when it
/// is queued and reused on every retry, so the homeserver deduplicates a retry after a timeout or
/// a crash instead of creating a second event.
struct OutboxItem: Sendable {
    enum Kind: String, Codable { case room, toDevice }
    var kind: Kind
    var roomID: String
    var type: String
    var transactionID: String
    /// The event content (room) or `{"messages": …}` (to-device), as JSON bytes.
    var json: [UInt8]

    init(kind: Kind, roomID: String, type: String, transactionID: String, content: JSONObject) {
        self.kind = kind
        self.roomID = roomID
        self.type = type
        self.transactionID = transactionID
        json = (try? JSONSerialization.data(withJSONObject: content, options: [.sortedKeys])).map { [UInt8]($0) } ?? []
    }

    struct Stored: Codable {
        var kind: Kind, roomID: String, type: String, transactionID: String, json: String
    }

    var encoded: [UInt8] {
        (try? JSONEncoder().encode(Stored(kind: kind, roomID: roomID, type: type, transactionID: transactionID, json: String(decoding: json, as: UTF8.self))))
            .map { [UInt8]($0) } ?? []
    }

    init(decoding bytes: [UInt8]) throws {
        let s = try JSONDecoder().decode(Stored.self, from: Data(bytes))
        kind = s.kind
        roomID = s.roomID
        type = s.type
        transactionID = s.transactionID
        json = Array(s.json.utf8)
    }

    var content: JSONObject { ((try? JSONSerialization.jsonObject(with: Data(json))) as? JSONObject) ?? [:] }

    static func key(_ sequence: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64($0))) } }
    static func sequence(_ key: [UInt8]) -> UInt64 { key.reduce(0) { $0 << 8 | UInt64($1) } }
}

extension MatrixMLSClient {
    /// Adds queue entries to `batch`, which the caller writes together with the MLS transition
    /// that produced them.
    func append(_ items: [OutboxItem], to batch: inout StorageBatch) throws {
        for item in items {
            batch.putValues.append(try store.valueWrite(namespace: Self.outboxNS, key: OutboxItem.key(outboxSequence), value: item.encoded))
            outboxSequence += 1
        }
    }

    /// Number of queued, unsent items.
    public func pendingOutgoing() throws -> Int { try store.values(namespace: Self.outboxNS).count }

    /// Sends every queued item in order, each with its own transaction ID, retrying transient
    /// failures (429 after `Retry-After`, 5xx and network errors with back-off). An item leaves
    /// the queue only after the homeserver accepted it.
    public func flush() async throws {
        let api = self.api
        for (key, value) in try store.values(namespace: Self.outboxNS) {
            let item = try OutboxItem(decoding: value)
            var content = item.content
            switch item.kind {
            case .room:
                // A commit or message too large for one event (a commit adding hundreds of members
                // by value) goes to the media repository; the event carries its URI and hash.
                if let text = content["ciphertext"] as? String, let bytes = Base64.decode(text), bytes.count > Self.inlineLimit {
                    let uri = try await retry.run { try await api.uploadMedia(bytes) }
                    mediaUploads += 1
                    content["ciphertext"] = nil
                    content["ciphertext_url"] = uri
                    content["ciphertext_sha256"] = Hex.encode(suite.digest(bytes))
                }
                _ = try await retry.run { try await api.send(roomID: item.roomID, type: item.type, transactionID: item.transactionID, content: content) }
            case .toDevice:
                // A Welcome too large for one event goes to the media repository; a retry after a
                // crash may upload it twice, which wastes space but cannot duplicate the message.
                if var messages = content["messages"] as? [String: [String: JSONObject]] {
                    for (user, devices) in messages {
                        for (device, var c) in devices {
                            if let pending = c["media_pending"] as? String, let bytes = Base64.decode(pending) {
                                let uri = try await retry.run { try await api.uploadMedia(bytes) }
                                mediaUploads += 1
                                c["media_pending"] = nil
                                c["welcome_url"] = uri
                                messages[user]?[device] = c
                            }
                        }
                    }
                    content["messages"] = messages
                }
                let messages = content["messages"] as? [String: [String: JSONObject]] ?? [:]
                try await retry.run { try await api.sendToDevice(type: item.type, transactionID: item.transactionID, messages: messages) }
            }
            try store.deleteValue(namespace: Self.outboxNS, key: key)
        }
    }
}
