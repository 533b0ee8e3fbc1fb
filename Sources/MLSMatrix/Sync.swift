import Foundation
import MLS
import MLSCodec
import MLSCrypto
import MLSStore

extension MatrixMLSClient {
    /// The `/sync` filter: only our event types and `m.room.encrypted`, with a raised timeline
    /// limit (the default of 10 would make bursts `limited`).
    var syncFilter: JSONObject {
        let types = [Self.commitType, Self.proposalType, Self.applicationType]
        return [
            "room": ["timeline": ["types": types, "limit": 100], "state": ["types": [String]()], "ephemeral": ["types": [String]()],
                     "account_data": ["types": [String]()]],
            "presence": ["types": [String]()], "account_data": ["types": [String]()],
        ]
    }

    /// One `/sync` round: to-device Welcomes first, then each room's timeline in order (filling a
    /// `limited` gap from `/messages`), then `next_batch` is persisted. Returns the messages
    /// received in this round (they are also kept for ``takeMessages()``).
    @discardableResult
    public func syncOnce(timeout: Int = 0) async throws -> [MailboxMessage] {
        let api = self.api
        if filterID == nil {
            let filter = JSONDocument(object: syncFilter)
            let user = session.userID
            filterID = try await retry.run { try await api.createFilter(userID: user, filter: filter.object) }
        }
        let since = nextBatch
        let filter = filterID
        let response = try await retry.run { try await api.sync(since: since, filter: filter, timeout: timeout) }.object
        let before = inbox.count
        for event in (response["to_device"] as? JSONObject)?["events"] as? [JSONObject] ?? [] {
            try await handleToDevice(event)
        }
        let joined = (response["rooms"] as? JSONObject)?["join"] as? JSONObject ?? [:]
        for (roomID, value) in joined.sorted(by: { $0.key < $1.key }) {
            guard let room = value as? JSONObject, let timeline = room["timeline"] as? JSONObject else { continue }
            var events = timeline["events"] as? [JSONObject] ?? []
            if timeline["limited"] as? Bool == true, let prev = timeline["prev_batch"] as? String {
                events = try await backfill(roomID: roomID, from: prev) + events
            }
            for event in events { try await handleRoomEvent(event, roomID: roomID) }
        }
        if let next = response["next_batch"] as? String {
            // Written only after the whole batch was applied: a crash before this line replays
            // the batch, and the per-event records make the replay a no-op.
            try store.putValue(namespace: Self.accountNS, key: Array("next_batch".utf8), value: Array(next.utf8))
            nextBatch = next
        }
        if let counts = response["device_one_time_keys_count"] as? [String: Int], (counts[keyPackageAlgorithm] ?? 0) < 2 {
            try await publishKeyPackages(count: 5, lastResort: false)
        }
        // Welcomes released by confirmed commits, and anything left from before a restart.
        try await flush()
        return Array(inbox[before...])
    }

    /// Events before a `limited` timeline, oldest first, back to where we already are.
    func backfill(roomID: String, from token: String) async throws -> [JSONObject] {
        let api = self.api
        var collected: [JSONObject] = []
        var from = token
        for _ in 0..<20 {
            let f = filterID
            let page = try await retry.run { try await api.messages(roomID: roomID, from: from, limit: 100, filter: f) }.object
            let chunk = page["chunk"] as? [JSONObject] ?? []
            // Stop at the first event already applied: everything before it was seen too.
            var reachedKnown = false
            for e in chunk {
                if let id = e["event_id"] as? String, try seen(id) { reachedKnown = true; break }
                collected.append(e)
            }
            guard !reachedKnown, let end = page["end"] as? String, !chunk.isEmpty else { break }
            from = end
        }
        backfilledEvents += collected.count
        return collected.reversed()
    }

    func seen(_ eventID: String) throws -> Bool {
        try store.value(namespace: Self.seenNS, key: Array(eventID.utf8)) != nil
    }

    func seenWrite(_ id: String) throws -> (namespace: String, key: [UInt8], blob: [UInt8]) {
        try store.valueWrite(namespace: Self.seenNS, key: Array(id.utf8), value: [1])
    }

    /// A Welcome: join the room and the group. Duplicates (a homeserver restart may deliver
    /// to-device messages twice) are recognised by the Welcome's digest.
    func handleToDevice(_ event: JSONObject) async throws {
        guard event["type"] as? String == Self.welcomeType, let content = event["content"] as? JSONObject,
              let roomID = content["room_id"] as? String else { return }
        guard let bytes = await binaryField("welcome", in: content), let welcome = try? MLSMessage(tlsSerialized: bytes) else { return }
        let id = "welcome:" + Hex.encode(suite.digest(bytes))
        guard try !seen(id), groups[roomID] == nil else { return }
        let api = self.api
        try await retry.run { try await api.join(roomID: roomID) }
        var state = RoomState(epochParent: "", pendingTransaction: nil, pendingIntent: [])
        state.epochParent = content["commit_event"] as? String ?? ""
        var extra = try roomWrite(roomID, state)
        extra.putValues.append(try seenWrite(id))
        do {
            let (group, batch) = try store.prepareJoin(welcome: welcome, with: extra)
            guard group.groupID == Array(roomID.utf8) else { return }
            try store.backend.write(batch)
            groups[roomID] = PersistentGroup(store: store, stored: group)
            rooms[roomID] = state
        } catch StorageError.noMatchingKeyPackage {
            return
        }
    }

    /// A parsed event handed in from outside the actor.
    func handleRoomEvent(_ event: JSONDocument, roomID: String) async throws {
        try await handleRoomEvent(event.object, roomID: roomID)
    }

    /// One timeline event, applied in one atomic write together with the record that it was seen.
    func handleRoomEvent(_ event: JSONObject, roomID: String) async throws {
        guard let eventID = event["event_id"] as? String, let type = event["type"] as? String,
              let content = event["content"] as? JSONObject, try !seen(eventID) else { return }
        guard groups[roomID] != nil, rooms[roomID]?.removed == false else { return }
        let sender = event["sender"] as? String ?? ""
        let transaction = (event["unsigned"] as? JSONObject)?["transaction_id"] as? String
        let payload = await binaryField("ciphertext", in: content)
        // The actor may have run other work while downloading: re-read the state.
        guard var handle = groups[roomID], var state = rooms[roomID], !state.removed else { return }
        guard let bytes = payload, let message = try? MLSMessage(tlsSerialized: bytes) else {
            try store.backend.write(markSeen(eventID))
            return
        }
        var batch = try markSeen(eventID)
        switch type {
        case Self.commitType:
            // A hostile event may carry any number here: convert without trapping.
            let epoch = (content["epoch"] as? Int).flatMap { UInt64(exactly: $0) }
            let parent = content["parent"] as? String ?? ""
            // A joiner learns its epoch's parent from the Welcome's `commit_event`, or else from the
            // first commit it sees for the epoch before its own.
            if state.epochParent.isEmpty, handle.group.epoch > 0, let e = epoch, e + 1 == handle.group.epoch {
                state.epochParent = eventID
                batch.putValues += try roomWrite(roomID, state).putValues
                break
            }
            // The first valid commit for the current epoch, built on the current epoch's commit,
            // wins. A joiner that never saw its epoch's commit (it was sent before the joiner
            // could read the room) takes the first valid commit for its epoch.
            guard epoch == handle.group.epoch, parent == state.epochParent || (state.epochParent.isEmpty && handle.group.epoch > 0) else { break }
            let ours = transaction != nil && transaction == state.pendingTransaction
            let lostIntent = ours ? nil : state.pendingTransaction.map { _ in (state.pendingIntent, state.pendingRecipients) }
            guard let prepared = try? handle.prepareUpdate(with: batch, { try $0.process(message) }) else { break }
            batch = prepared.batch
            handle.adopt(prepared.next)
            state.epochParent = eventID
            state.pendingTransaction = nil
            if ours, let held = state.heldWelcome {
                var item = try OutboxItem(decoding: Array(held.utf8))
                var content = item.content
                if var messages = content["messages"] as? [String: [String: JSONObject]] {
                    for (user, devices) in messages {
                        for device in devices.keys { messages[user]?[device]?["commit_event"] = eventID }
                    }
                    content["messages"] = messages
                }
                item = OutboxItem(kind: item.kind, roomID: item.roomID, type: item.type, transactionID: item.transactionID, content: content)
                try append([item], to: &batch)
            }
            state.heldWelcome = nil
            state.pendingIntent = []
            state.pendingRecipients = []
            if case .commit(removed: true) = prepared.result.content {
                state.removed = true
                batch.deleteGroups.append(store.groupKey(handle.group.groupID))
            }
            batch.putValues += try roomWrite(roomID, state).putValues
            try store.backend.write(batch)
            groups[roomID] = state.removed ? nil : handle
            rooms[roomID] = state
            if let lostIntent { reproposals[roomID] = lostIntent }
            return
        case Self.applicationType, Self.proposalType:
            if sender == session.userID, transaction != nil { break }  // our own: its key is consumed
            guard let prepared = try? handle.prepareUpdate(with: batch, { try $0.process(message) }) else { break }
            batch = prepared.batch
            handle.adopt(prepared.next)
            try store.backend.write(batch)
            groups[roomID] = handle
            if case let .application(data) = prepared.result.content {
                inbox.append(MailboxMessage(roomID: roomID, eventID: eventID, sender: sender, plaintext: data))
            }
            return
        default:
            break
        }
        try store.backend.write(batch)
    }

    func markSeen(_ eventID: String) throws -> StorageBatch {
        var b = StorageBatch()
        b.putValues.append(try seenWrite(eventID))
        return b
    }

    /// Re-proposes the changes of commits of ours that lost to another member's commit, on top
    /// of the winner (proposals that no longer apply are dropped).
    public func reproposeLostCommits() async throws {
        for (roomID, (intent, recipients)) in reproposals {
            reproposals[roomID] = nil
            guard let g = groups[roomID]?.group else { continue }
            let proposals: [Proposal] = intent.compactMap { Base64.decode($0).flatMap { try? Proposal(tlsSerialized: $0) } }.filter { p in
                switch p {
                case let .remove(r): return g.tree.leaf(LeafIndex(r.removed)) != nil
                case let .add(a): return !g.members.contains { g.tree.leaf($0)?.signatureKey == a.keyPackage.leafNode.signatureKey }
                default: return true
                }
            }
            let stillAdded = Set(proposals.compactMap { p -> String? in
                if case let .add(a) = p, case let .basic(id) = a.keyPackage.leafNode.credential { return String(decoding: id, as: UTF8.self) }
                return nil
            })
            try commit(roomID, proposals: proposals, welcomeTo: recipients.filter { stillAdded.contains($0[0]) }.map { ($0[0], $0[1]) })
        }
        try await flush()
    }
}

extension MatrixMLSClient {
    /// Syncs each client in turn (re-proposing lost commits, sending what is queued) until none has
    /// a commit pending or anything queued and every member of `room` among them is in the same
    /// epoch. Returns whether that happened within `rounds`. For applications that drive several
    /// clients in one process (tests, demos, a backend hosting several clerks).
    public static func settle(_ clients: [MatrixMLSClient], room: String, rounds: Int = 50,
                              pause: Duration = .milliseconds(200)) async throws -> Bool {
        for _ in 0..<rounds {
            var busy = false
            var epochs = Set<UInt64>()
            for c in clients {
                try await c.syncOnce(timeout: 0)
                try await c.reproposeLostCommits()
                let queued = try await c.pendingOutgoing()
                if await c.hasPendingCommit(in: room) || queued > 0 { busy = true }
            }
            for c in clients { if let e = await c.epoch(of: room) { epochs.insert(e) } }
            if !busy, epochs.count <= 1 { return true }
            try await Task.sleep(for: pause)
        }
        return false
    }
}
