import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
@_spi(Engine) import MLSStore

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
    ///
    /// An event that cannot be applied is recorded (``takeFailures()``) and skipped: no failure
    /// of one event leaves this function, so `next_batch` always advances and no event can wedge
    /// the sync. What does leave it is the `/sync` request failing, and the local store failing
    /// (then nothing could be recorded, and replaying the batch later is right).
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
        let response = try await retry.run { try await api.sync(since: since, filter: filter, timeout: timeout) }
        let received = try await apply(syncResponse: response)
        if let counts = response.object["device_one_time_keys_count"] as? [String: Int], (counts[keyPackageAlgorithm] ?? 0) < 2 {
            try await publishKeyPackages(count: 5, lastResort: false)
        }
        // Welcomes released by confirmed commits, and anything left from before a restart.
        try await flush()
        return received
    }

    /// Applies one `/sync` answer: to-device events, then each joined room's timeline, then
    /// persists its `next_batch`. Returns the application messages it carried. Each event's
    /// failure is recorded and skipped (see ``syncOnce(timeout:)``).
    func apply(syncResponse document: JSONDocument) async throws -> [MailboxMessage] {
        let response = document.object
        mediaBudget = mediaLimits.maxBytesPerSync
        // This round's messages are collected here, not sliced out of `inbox` afterwards: the
        // awaits below let `takeMessages()` run and empty `inbox` in between.
        var received: [MailboxMessage] = []
        for event in (response["to_device"] as? JSONObject)?["events"] as? [Any] ?? [] {
            guard let event = event as? JSONObject else {
                record(.malformed("to-device event is not an object"), roomID: nil, eventID: nil, sender: nil)
                continue
            }
            do {
                try await handleToDevice(event)
            } catch {
                try recordFailure(error, roomID: event["content"].flatMap { ($0 as? JSONObject)?["room_id"] as? String },
                                  eventID: nil, sender: event["sender"] as? String)
            }
        }
        let joined = (response["rooms"] as? JSONObject)?["join"] as? JSONObject ?? [:]
        for (roomID, value) in joined.sorted(by: { $0.key < $1.key }) {
            guard let room = value as? JSONObject, let timeline = room["timeline"] as? JSONObject else { continue }
            var events = timeline["events"] as? [Any] ?? []
            if timeline["limited"] as? Bool == true, let prev = timeline["prev_batch"] as? String {
                do {
                    events = try await backfill(roomID: roomID, from: prev) + events
                } catch let error as StorageError {
                    throw error
                } catch {
                    // The gap stays unfilled (its commits will be missing and later ones fail
                    // to apply, each recorded); the events we have are still applied.
                    record(.backfillFailed("\(error)"), roomID: roomID, eventID: nil, sender: nil)
                }
            }
            for event in events {
                guard let event = event as? JSONObject else {
                    record(.malformed("timeline event is not an object"), roomID: roomID, eventID: nil, sender: nil)
                    continue
                }
                do {
                    if let message = try await handleRoomEvent(event, roomID: roomID) { received.append(message) }
                } catch {
                    try recordFailure(error, roomID: roomID, eventID: event["event_id"] as? String, sender: event["sender"] as? String)
                }
            }
        }
        if let next = response["next_batch"] as? String {
            // Written only after the whole batch was applied: a crash before this line replays
            // the batch, and the per-event records make the replay a no-op.
            try store.putValue(namespace: Self.accountNS, key: Array("next_batch".utf8), value: Array(next.utf8))
            nextBatch = next
        }
        return received
    }

    /// Turns the failure of one incoming event into a record. Only a failing store is rethrown:
    /// the event's effect and its "seen" record could not be written, so the batch must be
    /// replayed rather than skipped. Everything else (the event's own fault, MLS refusing it, a
    /// request made on its behalf failing) is recorded, and a timeline event is marked seen so
    /// that a backfill does not apply it again.
    func recordFailure(_ error: any Error, roomID: String?, eventID: String?, sender: String?) throws {
        if let error = error as? StorageError {
            if case .backend = error { throw error }
            record(.corruptState("\(error)"), roomID: roomID, eventID: eventID, sender: sender)
            return
        }
        record((error as? EventFailureReason) ?? .rejected("\(error)"), roomID: roomID, eventID: eventID, sender: sender)
        // Only timeline events pass an event ID (a Welcome that failed to join stays
        // unrecorded, so a redelivery may try again).
        if let eventID { try? store.backend.write(markSeen(eventID)) }
    }

    /// Events before a `limited` timeline, oldest first, back to where we already are.
    func backfill(roomID: String, from token: String) async throws -> [Any] {
        let api = self.api
        var collected: [Any] = []
        var from = token
        // Bounded: a homeserver that keeps answering pages cannot keep this loop going.
        for _ in 0..<20 {
            let f = filterID
            let page = try await retry.run { try await api.messages(roomID: roomID, from: from, limit: 100, filter: f) }.object
            let chunk = page["chunk"] as? [Any] ?? []
            // Stop at the first event already applied: everything before it was seen too.
            var reachedKnown = false
            for e in chunk {
                if let id = (e as? JSONObject)?["event_id"] as? String, try seen(id) { reachedKnown = true; break }
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

    /// A Welcome opened and verified, not yet stored.
    struct OpenedWelcome {
        /// Stores the group (and deletes the KeyPackage it used) when committed.
        var transition: GroupTransition
        var origin: WelcomeOrigin
        /// Deletes the one-time KeyPackage the Welcome used (written also when it is refused).
        var consumedKeyPackages: [[UInt8]] { transition.consumedKeyPackages }
    }

    /// Opens a Welcome without touching the network or the store (RFC 9420 §12.4.3.1): finds the
    /// KeyPackage of ours it is for, joins the group (decrypting the secrets and GroupInfo,
    /// verifying the GroupInfo signature and the whole ratchet tree, checking the confirmation
    /// tag), checks that the group is the room the message names and that its epoch fits the
    /// mapping, and identifies the GroupInfo's signer in the verified tree.
    func openWelcome(_ bytes: [UInt8], roomID: String, matrixSender: String) throws -> OpenedWelcome {
        guard let message = try? MLSMessage(serialized: bytes, limits: MLSLimits()), case let .welcome(welcome) = message.body else {
            throw EventFailureReason.malformed("welcome is not an MLSMessage(Welcome)")
        }
        // The same entry `prepareJoin` uses: the first whose KeyPackage we hold.
        var ours: StoredKeyPackage?
        for entry in welcome.secrets {
            if let stored = try store.keyPackage(ref: entry.newMember) { ours = stored; break }
        }
        guard let ours else { throw EventFailureReason.welcomeNotForThisDevice }
        let transition: GroupTransition
        do {
            transition = try store.prepareJoin(welcome: message, configuration: groupConfiguration)
        } catch let error as StorageError {
            if case .noMatchingKeyPackage = error { throw EventFailureReason.welcomeNotForThisDevice }
            throw error
        } catch {
            throw EventFailureReason.welcomeInvalid("\(error)")
        }
        let group = transition.next
        guard group.groupID == Array(roomID.utf8) else { throw EventFailureReason.welcomeRoomMismatch }
        guard Int(exactly: group.epoch) != nil else { throw EventFailureReason.outOfRange("epoch \(group.epoch)") }
        // The join verified the GroupInfo but does not return it; open it again for its signer.
        // Our Welcomes carry no PSKs (a Welcome with PSKs would need them here too).
        let signer: UInt32
        do {
            let secrets = try WelcomeCrypto.decryptGroupSecrets(welcome, keyPackage: ours.bundle.keyPackage, initPrivateKey: ours.bundle.initPrivateKey)
            guard secrets.psks.isEmpty else { throw EventFailureReason.welcomeInvalid("PSKs are not used by this mapping") }
            signer = try WelcomeCrypto.decryptGroupInfo(welcome, joinerSecret: secrets.joinerSecret, pskSecret: nil).signer
        } catch let error as EventFailureReason {
            throw error
        } catch {
            throw EventFailureReason.welcomeInvalid("\(error)")
        }
        guard let credential = group.tree.leaf(LeafIndex(signer))?.credential else {
            throw EventFailureReason.welcomeInvalid("GroupInfo signer is not a member")
        }
        let origin = WelcomeOrigin(matrixSender: matrixSender, roomID: roomID, signerLeaf: signer, signerCredential: credential, epoch: group.epoch)
        return OpenedWelcome(transition: transition, origin: origin)
    }

    /// A Welcome: verified first, then offered to the ``WelcomePolicy``, and only then is the
    /// Matrix room joined and the group stored. Nothing in the message is acted on before it has
    /// proved itself: the room ID it names is joined only for a Welcome that opened with our
    /// KeyPackage into a group whose ID is that room. Duplicates (a homeserver restart may
    /// deliver to-device messages twice) are recognised by the Welcome's digest.
    func handleToDevice(_ event: JSONObject) async throws {
        guard event["type"] as? String == Self.welcomeType else { return }
        let matrixSender = event["sender"] as? String ?? ""
        guard let content = event["content"] as? JSONObject, let roomID = content["room_id"] as? String else {
            throw EventFailureReason.malformed("welcome without content.room_id")
        }
        let bytes = try await binaryField("welcome", in: content)
        let id = "welcome:" + Hex.encode(suite.digest(bytes))
        guard try !seen(id), groups[roomID] == nil else { return }
        var state = RoomState(epochParent: "", pendingTransaction: nil, pendingIntent: [])
        state.epochParent = content["commit_event"] as? String ?? ""
        let opened = try openWelcome(bytes, roomID: roomID, matrixSender: matrixSender)
        guard welcomePolicy(opened.origin) else {
            // Refused for good: remember it, and delete the one-time KeyPackage it consumed.
            var refused = StorageBatch()
            refused.putValues.append(try seenWrite(id))
            refused.deleteKeyPackages = opened.consumedKeyPackages
            try store.backend.write(refused)
            throw EventFailureReason.welcomeRefused
        }
        let api = self.api
        welcomeJoinAttempts += 1
        do {
            try await retry.run { try await api.join(roomID: roomID) }
        } catch {
            // Not recorded as seen: a redelivered Welcome may try again.
            throw EventFailureReason.joinFailed("\(error)")
        }
        // The actor may have handled the same Welcome (or another one for this room) meanwhile.
        guard try !seen(id), groups[roomID] == nil else { return }
        var extra = try roomWrite(roomID, state)
        extra.putValues.append(try seenWrite(id))
        groups[roomID] = try store.commit(opened.transition, with: extra)
        rooms[roomID] = state
    }

    /// A parsed event handed in from outside the actor.
    @discardableResult
    func handleRoomEvent(_ event: JSONDocument, roomID: String) async throws -> MailboxMessage? {
        try await handleRoomEvent(event.object, roomID: roomID)
    }

    /// One timeline event, applied in one atomic write together with the record that it was
    /// seen. Returns the application message it carried, if any. Throws the reason an event of
    /// ours could not be applied (the caller records it and marks the event seen); events of
    /// other types, already seen, or of rooms we are not in are ignored. Whatever can be decided
    /// from the JSON alone is decided before any media is downloaded.
    func handleRoomEvent(_ event: JSONObject, roomID: String) async throws -> MailboxMessage? {
        guard let eventID = event["event_id"] as? String else { throw EventFailureReason.malformed("no event_id") }
        guard let type = event["type"] as? String, [Self.commitType, Self.proposalType, Self.applicationType].contains(type) else { return nil }
        guard try !seen(eventID), groups[roomID] != nil, rooms[roomID]?.removed == false else { return nil }
        guard let content = event["content"] as? JSONObject else { throw EventFailureReason.malformed("content is not an object") }
        let sender = event["sender"] as? String ?? ""
        let transaction = (event["unsigned"] as? JSONObject)?["transaction_id"] as? String
        // Our own application message or proposal: its key is consumed, nothing to download.
        if type != Self.commitType, sender == session.userID, transaction != nil {
            try store.backend.write(markSeen(eventID))
            return nil
        }
        var epoch: UInt64?
        if type == Self.commitType {
            // A hostile event may carry any number here: convert without trapping.
            guard let e = (content["epoch"] as? Int).flatMap({ UInt64(exactly: $0) }) else { throw EventFailureReason.malformed("commit without a valid epoch") }
            epoch = e
            guard let handle = groups[roomID], let state = rooms[roomID] else { return nil }
            let current = handle.epoch
            // A joiner learns its epoch's parent from the Welcome's `commit_event`, or else from
            // the first commit it sees for the epoch before its own.
            if state.epochParent.isEmpty, current > 0, e == current - 1 {
                var learned = state
                learned.epochParent = eventID
                var batch = try markSeen(eventID)
                batch.putValues += try roomWrite(roomID, learned).putValues
                try store.backend.write(batch)
                rooms[roomID] = learned
                return nil
            }
            // Commits for other epochs lost (or are not ours to apply): ordinary, not a failure.
            let parent = content["parent"] as? String ?? ""
            guard e == current, parent == state.epochParent || (state.epochParent.isEmpty && current > 0) else {
                try store.backend.write(markSeen(eventID))
                return nil
            }
        }
        let bytes = try await binaryField("ciphertext", in: content)
        guard let message = try? MLSMessage(serialized: bytes, limits: MLSLimits()) else { throw EventFailureReason.malformed("ciphertext is not an MLSMessage") }
        // The event type decides the ordering (a commit applies only as the first valid
        // `NS.commit` of its epoch, on its parent), but `process` applies whatever the message
        // holds: a commit sent as a proposal or application event would change the epoch outside
        // that order, unrecorded (a removal then left a group state that no longer loads), and a
        // proposal or application message sent as a commit would be taken as the epoch's commit.
        guard let carried = Self.contentType(of: message), carried == Self.contentType(ofEvent: type) else {
            throw EventFailureReason.malformed("\(type) event does not carry a \(Self.contentType(ofEvent: type))")
        }
        // The actor may have run other work while downloading: re-read the state.
        guard let handle = groups[roomID], var state = rooms[roomID], !state.removed, try !seen(eventID) else { return nil }
        var batch = try markSeen(eventID)
        switch type {
        case Self.commitType:
            // The first valid commit for the current epoch, built on the current epoch's commit,
            // wins. A joiner that never saw its epoch's commit (it was sent before the joiner
            // could read the room) takes the first valid commit for its epoch.
            let parent = content["parent"] as? String ?? ""
            let current = handle.epoch
            guard epoch == current, parent == state.epochParent || (state.epochParent.isEmpty && current > 0) else { break }
            let ours = transaction != nil && transaction == state.pendingTransaction
            let lostIntent = ours ? nil : state.pendingTransaction.map { _ in (state.pendingIntent, state.pendingRecipients) }
            let prepared: (result: ProcessedMessage, transition: GroupTransition)
            do { prepared = try handle.prepareProcess(message) } catch let error as StorageError { throw error } catch {
                throw EventFailureReason.rejected("\(error)")
            }
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
            if prepared.result.content.commit?.removedSelf == true {
                state.removed = true
                // Deletions come after the batch's group writes: the transition is written (so
                // the compare-and-swap still guards it) and then the whole group goes.
                batch.deleteGroups.append(store.groupKey(handle.groupID))
            }
            batch.putValues += try roomWrite(roomID, state).putValues
            try store.commit(prepared.transition, with: batch)
            groups[roomID] = state.removed ? nil : handle
            rooms[roomID] = state
            if let lostIntent { reproposals[roomID] = lostIntent }
            return nil
        case Self.applicationType, Self.proposalType:
            let prepared: (result: ProcessedMessage, transition: GroupTransition)
            do { prepared = try handle.prepareProcess(message) } catch let error as StorageError { throw error } catch {
                throw EventFailureReason.rejected("\(error)")
            }
            var delivered: MailboxMessage?
            if case let .application(data) = prepared.result.content {
                // The author is the member MLS authenticated (RFC 9420 §6, §15: application data
                // is only ever sent by members), resolved in the tree of the epoch it was sent in.
                guard case let .member(author) = prepared.result.author else {
                    throw EventFailureReason.rejected("application message not from a member")
                }
                delivered = MailboxMessage(roomID: roomID, eventID: eventID, sender: sender, plaintext: data, author: author,
                                           expectedSender: matrixUserMapping(author.credential))
            }
            try store.commit(prepared.transition, with: batch)
            if let delivered { inbox.append(delivered) }
            return delivered
        default:
            break
        }
        try store.backend.write(batch)
        return nil
    }

    /// The content type an event of `type` (one of ours) must carry.
    static func contentType(ofEvent type: String) -> ContentType {
        switch type {
        case commitType: .commit
        case proposalType: .proposal
        default: .application
        }
    }

    /// The content type a handshake or application message's framing states, read before any
    /// key is used (a PrivateMessage's is authenticated as part of its AAD, RFC 9420 §6.3.1).
    static func contentType(of message: MLSMessage) -> ContentType? {
        switch message.body {
        case let .publicMessage(m): m.content.content.contentType
        case let .privateMessage(m): m.contentType
        case .welcome, .groupInfo, .keyPackage: nil
        }
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
                case let .remove(r): return g.tree.leaf(r) != nil
                case let .add(a): return !g.members.contains { g.tree.leaf($0)?.signatureKey == a.leafNode.signatureKey }
                default: return true
                }
            }
            let stillAdded = Set(proposals.compactMap { p -> String? in
                if case let .add(a) = p, case let .basic(id) = a.leafNode.credential { return String(decoding: id, as: UTF8.self) }
                return nil
            })
            try commit(roomID, proposals: proposals, welcomeTo: recipients.filter { stillAdded.contains($0.user) }.map { ($0.user, $0.device) })
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
