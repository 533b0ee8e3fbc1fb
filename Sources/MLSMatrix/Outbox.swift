import Foundation
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
@_spi(Engine) import MLSStore

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

}

extension MatrixMLSClient {
    /// Adds queue entries to `batch`, which the caller writes together with the MLS transition
    /// that produced them.
    func append(_ items: [OutboxItem], to batch: inout StorageBatch) throws {
        for item in items {
            // The counter continues from the largest stored key, which a damaged store could set
            // to UInt64.max: refuse rather than trap or wrap around onto older entries.
            let (next, overflow) = outboxSequence.addingReportingOverflow(1)
            guard !overflow else { throw MatrixClientError.corruptState("outgoing queue sequence exhausted") }
            batch.putValues.append(try store.valueWrite(namespace: Self.outboxNS, key: outboxSequence.tlsSerialized, value: item.encoded))
            outboxSequence = next
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
            var uploaded: [String: (uri: String, sha256: String)] = [:]
            switch item.kind {
            case .room:
                try await externalize("ciphertext", in: &content, uploaded: &uploaded)
                let event = JSONDocument(object: content)
                _ = try await retry.run { try await api.send(roomID: item.roomID, type: item.type, transactionID: item.transactionID, content: event.object) }
            case .toDevice:
                var messages = content["messages"] as? [String: [String: JSONObject]] ?? [:]
                for (user, devices) in messages {
                    for (device, var c) in devices {
                        try await externalize("welcome", in: &c, uploaded: &uploaded)
                        messages[user]?[device] = c
                    }
                }
                let body = JSONDocument(object: ["messages": messages])
                try await retry.run {
                    try await api.sendToDevice(type: item.type, transactionID: item.transactionID,
                                               messages: body.object["messages"] as? [String: [String: JSONObject]] ?? [:])
                }
            }
            try store.deleteValue(namespace: Self.outboxNS, key: key)
        }
    }
}
