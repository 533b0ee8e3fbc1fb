import Foundation
import FuzzSupport
@_spi(Engine) import MLS
@_spi(Engine) @_spi(Fuzzing) import MLSMatrix

/// An MLS payload for a room event and how a well-behaved homeserver would carry it.
struct Payload {
    var bytes: [UInt8]
    var type: String
    var sender: String = authorityID
    /// The epoch the message was sent in (carried by commits and proposals).
    var epoch: UInt64?
    var transaction: String?
    var isCommit = false
}

/// Builds `/sync` answers (and the homeserver's other answers) from the fuzzer's choices. The
/// authority of each room is live: its application messages, proposals and commits are made by
/// the library for this input, so an unmutated event is one the client must accept, and every
/// choice the fuzzer adds is a mutation (FuzzInput reads 0 when exhausted, and 0 keeps the valid
/// value).
struct Generator {
    var inp: FuzzInput
    var authority: [MLSGroup]
    /// The event ID the next commit of each room names as its parent.
    var parent: [String]
    /// Every plaintext the authority wrote, per room: the only ones the client may deliver.
    var allowed: [Set<[UInt8]>]
    var ids: [String] = []
    var counter = 0
    var round = 0
    var media: [String: FuzzAnswer] = [:]
    var pages: [FuzzAnswer] = []
    /// Set when the text may be refused by the JSON parser (numbers beyond 64 bits or doubles,
    /// deep nesting, raw bytes): then the `/sync` request may fail, which is not a defect.
    var mayFailToParse = false
    /// Cleared when the document's `next_batch` is ambiguous (a duplicate key).
    var nextIsKnown = true

    init(_ bytes: [UInt8]) {
        inp = FuzzInput(bytes)
        authority = fx.rooms.map(\.authority)
        parent = fx.rooms.map(\.parent)
        allowed = fx.rooms.map { [$0.oldPlaintext] }
    }

    // MARK: Payloads

    mutating func application(_ r: Int, withData: Bool) -> Payload? {
        let plaintext = inp.bytes(max: withData ? 200 : 24)
        let data = withData ? inp.bytes(max: 16) : []
        guard let m = try? authority[r].encrypt(plaintext, authenticatedData: data) else { return nil }
        allowed[r].insert(plaintext)
        return Payload(bytes: m.tlsSerialized, type: applicationType)
    }

    mutating func proposal(_ r: Int) -> Payload? {
        let epoch = authority[r].epoch
        let m: MLSMessage?
        switch inp.int(4) {
        case 1: m = try? authority[r].proposeRemove(fx.rooms[r].clientLeaf)
        case 2: m = try? authority[r].proposeAdd(fx.third)
        case 3: m = try? authority[r].proposeRemove(LeafIndex(UInt32(inp.byte())))
        default: m = try? authority[r].proposeUpdate()
        }
        return m.map { Payload(bytes: $0.tlsSerialized, type: proposalType, epoch: epoch) }
    }

    mutating func commit(_ r: Int) -> Payload? {
        var options = CommitOptions()
        switch inp.int(5) {
        case 1: options.proposals = [.add(fx.third)]
        case 2: options.proposals = [.remove(fx.rooms[r].clientLeaf)]
        case 3: options.includePendingProposals = false
        case 4: options.alwaysIncludePath = false
        default: break
        }
        let epoch = authority[r].epoch
        guard let out = try? authority[r].commit(options) else { return nil }
        // The authority moves on at once, as the first committer of its epoch would.
        try? authority[r].merge(out.pending)
        return Payload(bytes: out.commit.tlsSerialized, type: commitType, epoch: epoch, isCommit: true)
    }

    mutating func payload(_ r: Int) -> Payload {
        switch inp.int(10) {
        case 1: if let p = proposal(r) { return p }
        case 2: if let p = commit(r) { return p }
        case 3:
            if let old = fx.rooms[r].oldMessage { return Payload(bytes: old, type: applicationType) }
        case 4:
            // The client's own commit, echoed as the homeserver does (R2 is the room it was sent to).
            return Payload(bytes: fx.ownCommit, type: commitType, sender: citizenID, epoch: fx.rooms[1].authority.epoch,
                           transaction: fx.ownTransaction, isCommit: true)
        case 5: if let p = application((r + 1) % authority.count, withData: false) { return p }
        case 6: return Payload(bytes: fx.welcomes[inp.int(fx.welcomes.count)], type: applicationType)
        case 7: return Payload(bytes: inp.bytes(max: 64), type: [applicationType, commitType, proposalType][inp.int(3)], epoch: authority[r].epoch)
        case 8: if let p = application(r, withData: true) { return p }
        default: break
        }
        // An authority with proposals of its own cannot send application data before committing them.
        return application(r, withData: false) ?? commit(r) ?? Payload(bytes: [], type: applicationType)
    }

    // MARK: Values

    mutating func fuzzString(max: Int = 8) -> String { String(decoding: inp.bytes(max: max), as: UTF8.self) }

    /// A number where an integer belongs: the value, its neighbours, 64-bit edges and beyond,
    /// other spellings of it, and other JSON types.
    mutating func number(keep: UInt64) -> J {
        switch inp.int(24) {
        case 0: return .uint(keep)
        case 1: return .uint(keep &+ 1)
        case 2: return .number(String(Int64(bitPattern: keep) &- 1))
        case 3: return .int(-1)
        case 4: return .int(0)
        case 5: return .number(String(Int64.max))
        case 6: mayFailToParse = true; return .number("9223372036854775808")
        case 7: return .number(String(Int64.min))
        case 8: mayFailToParse = true; return .number("-9223372036854775809")
        case 9: mayFailToParse = true; return .number(String(UInt64.max))
        case 10: mayFailToParse = true; return .number("18446744073709551616")
        case 11: mayFailToParse = true; return .number("1e400")
        case 12: mayFailToParse = true; return .number("-1e400")
        case 13: mayFailToParse = true; return .number("\(keep).0")
        case 14: mayFailToParse = true; return .number("\(keep).5")
        case 15: mayFailToParse = true; return .number("\(keep)e0")
        case 16: return .number("-0")
        case 17: return .string(String(keep))
        case 18: return .bool(true)
        case 19: return .null
        case 20: return .array([.uint(keep)])
        case 21: return .object([])
        case 22: mayFailToParse = true; return .number("0." + String(repeating: "0", count: 400) + "1")
        default: mayFailToParse = true; return .uint(inp.u64())
        }
    }

    /// Something that is not a string (or an odd string) where a string belongs.
    mutating func notAString() -> J? {
        switch inp.int(8) {
        case 0: return nil
        case 1: return .int(Int(inp.byte()))
        case 2: return .null
        case 3: return .string("")
        case 4: return .array([])
        case 5: return .object([])
        case 6: return .string(String(repeating: "x", count: 1 << 16))
        default: return .string(fuzzString())
        }
    }

    mutating func junk() -> J {
        switch inp.int(4) {
        case 1:
            let depth = [10, 100, 500, 511, 512, 513, 1000, 5000, 100_000][inp.int(9)]
            if depth > 500 { mayFailToParse = true }
            return .nested(depth)
        case 2: return .object([("age", number(keep: 0))])
        case 3: return .array(Array(repeating: .null, count: inp.int(5000)))
        default: return .string(fuzzString(max: 64))
        }
    }

    mutating func mutateBytes(_ bytes: inout [UInt8]) {
        switch inp.int(4) {
        case 1: bytes = Array(bytes.prefix(inp.int(bytes.count + 1)))
        case 2: bytes += inp.bytes(max: 16)
        case 3:
            let at = inp.int(bytes.count + 1)
            bytes.insert(contentsOf: inp.bytes(max: 8), at: at)
        default:
            guard !bytes.isEmpty else { return }
            for _ in 0..<(1 + inp.int(4)) { bytes[inp.int(bytes.count)] ^= max(1, inp.byte()) }
        }
    }

    /// The binary field `field` of `bytes`: inline base64 in some spelling, or a media reference
    /// that the homeserver serves (or fails to).
    mutating func binaryField(_ field: String, _ bytes: [UInt8], form: Int) -> [(String, J)] {
        switch form {
        case 1: return [(field, .string(b64(bytes) + "=="))]
        case 2:
            var s = b64(bytes)
            s.insert("\n", at: s.index(s.startIndex, offsetBy: inp.int(s.count + 1)))
            return [(field, .string(s))]
        case 3: return [(field, .string(b64(bytes).replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")))]
        case 4: return [(field, .string("not base64!"))]
        case 5: return notAString().map { [(field, $0)] } ?? []
        case 6: return media(field, bytes)
        default: return [(field, .string(b64(bytes)))]
        }
    }

    mutating func media(_ field: String, _ bytes: [UInt8]) -> [(String, J)] {
        let id = "m\(round)x\(media.count)"
        var served = bytes
        var answer: FuzzAnswer?
        switch inp.int(8) {
        case 1: served += [UInt8](repeating: 0x41, count: 4097)  // beyond the per-media limit
        case 2: answer = .http(status: 404, headers: [], body: Array(#"{"errcode":"M_NOT_FOUND"}"#.utf8))
        case 3: answer = .http(status: 500, headers: [], body: Array(fuzzString(max: 16).utf8))
        case 4: answer = .http(status: 429, headers: [("Retry-After", ["99999999999999999999", "-5", "0", "1"][inp.int(4)])],
                               body: Array(#"{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":9223372036854775807}"#.utf8))
        case 5: answer = .unreachable
        case 6: mutateBytes(&served)
        default: break
        }
        media[id] = answer ?? .http(status: 200, headers: [("Content-Type", "application/octet-stream")], body: served)
        var url: J? = .string("mxc://fuzz/\(id)")
        var sha: J? = .string(sha256Hex(bytes))
        switch inp.int(8) {
        case 1: sha = .string(sha256Hex(bytes).uppercased())
        case 2: sha = .string(sha256Hex(bytes + [0]))
        case 3: sha = notAString()
        case 4: url = .string("https://fuzz/\(id)")
        case 5: url = .string(["mxc://fuzz", "mxc:///", "mxc://", "mxc://fuzz/"][inp.int(4)])
        case 6: url = notAString()
        default: break
        }
        var out: [(String, J)] = []
        if let url { out.append((field + "_url", url)) }
        if let sha { out.append((field + "_sha256", sha)) }
        return out
    }

    // MARK: Events

    /// One timeline event of room `r`'s authority (or, mutated, of anyone).
    mutating func roomEvent(_ r: Int) -> J {
        counter += 1
        let fresh = "$e\(round)-\(counter)"
        let p = payload(r)
        var bytes = p.bytes
        var id: J? = .string(fresh)
        var type: J? = .string(p.type)
        var sender: J? = .string(p.sender)
        var epoch: J? = p.epoch.map { .uint($0) }
        var parentField: J? = p.epoch == nil ? nil : .string(parent[r])
        var unsigned: J? = p.transaction.map { .object([("transaction_id", .string($0))]) }
        var form = 0
        var contentOverride: J?
        var eventOverride: J?
        var extra: [(String, J)] = []
        var contentExtra: [(String, J)] = []
        for _ in 0..<inp.int(4) {
            switch inp.int(16) {
            case 0:
                switch inp.int(6) {
                case 0: id = ids.isEmpty ? id : .string(ids[inp.int(ids.count)])
                case 1: id = .string(fx.rooms[inp.int(fx.rooms.count)].parent)  // already seen
                default: id = notAString()
                }
            case 1: type = ([.string(commitType), .string(proposalType), .string(applicationType), .string("m.room.message"), .int(1), nil] as [J?])[inp.int(6)]
            case 2: sender = ([.string(citizenID), .string("@mallory:fuzz"), .int(7), nil, .string("")] as [J?])[inp.int(5)]
            case 3: contentOverride = ([.string("x"), .int(1), .array([]), .null] as [J])[inp.int(4)]
            case 4, 5: mutateBytes(&bytes)
            case 6:
                switch inp.int(4) {
                case 0: bytes = fx.welcomes[inp.int(fx.welcomes.count)]
                case 1: bytes = fx.ownCommit
                case 2: bytes = []
                default: bytes = inp.bytes(max: 48)
                }
            case 7: form = 1 + inp.int(5)
            case 8: form = 6
            case 9: epoch = number(keep: p.epoch ?? authority[r].epoch)
            case 10: parentField = inp.bool() ? .string(ids.isEmpty ? "" : ids[inp.int(ids.count)]) : notAString()
            case 11:
                switch inp.int(4) {
                case 0: unsigned = .object([("transaction_id", .string(fx.ownTransaction))])
                case 1: unsigned = .object([("transaction_id", notAString() ?? .null)])
                case 2: unsigned = ([.string("u"), .int(0), .array([])] as [J])[inp.int(3)]
                default: unsigned = nil
                }
            case 12:
                // Duplicate keys: which one a parser keeps is its choice, not ours.
                switch inp.int(3) {
                case 0: extra.append(("content", .object([("ciphertext", .string(b64(inp.bytes(max: 32))))])))
                case 1: extra.append(("event_id", .string("$dup")))
                default: contentExtra.append(("epoch", number(keep: p.epoch ?? 0)))
                }
            case 13: extra.append(("junk", junk()))
            case 14: eventOverride = ([.int(3), .string("event"), .array([]), .null] as [J])[inp.int(4)]
            default: epoch = inp.bool() ? nil : number(keep: authority[r].epoch)
            }
        }
        if case let .string(s)? = id { ids.append(s) }
        if p.isCommit, case let .string(s)? = id { parent[r] = s }
        if let eventOverride { return eventOverride }
        var content: [(String, J)] = [("algorithm", .string(algorithm))] + binaryField("ciphertext", bytes, form: form)
        if let epoch { content.append(("epoch", epoch)) }
        if let parentField { content.append(("parent", parentField)) }
        content += contentExtra
        var event: [(String, J)] = []
        if let id { event.append(("event_id", id)) }
        if let type { event.append(("type", type)) }
        if let sender { event.append(("sender", sender)) }
        event.append(("origin_server_ts", .int(1_700_000_000_000)))
        event.append(("content", contentOverride ?? .object(content)))
        if let unsigned { event.append(("unsigned", unsigned)) }
        return .object(event + extra)
    }

    /// A to-device Welcome (valid for R3 unless mutated).
    mutating func welcomeEvent() -> J {
        var bytes: [UInt8]
        var room: J? = .string(roomIDs[2])
        switch inp.int(7) {
        case 1: bytes = fx.welcomes[1]
        case 2: bytes = fx.welcomes[2]
        case 3: bytes = fx.welcomes[3]
        case 4: bytes = fx.welcomes[4]; room = .string(roomIDs[0])
        case 5: bytes = inp.bytes(max: 64)
        case 6: bytes = fx.rooms[0].oldMessage ?? []
        default: bytes = fx.welcomes[0]
        }
        var type: J? = .string(welcomeType)
        var sender: J? = .string(authorityID)
        var commitEvent: J? = .string(parent[2])
        var form = 0
        var contentOverride: J?
        var eventOverride: J?
        var extra: [(String, J)] = []
        for _ in 0..<inp.int(4) {
            switch inp.int(12) {
            case 0:
                room = ([.string(roomIDs[0]), .string(roomIDs[1]), .string(roomIDs[2]), .string(elsewhereID)] as [J])[inp.int(4)]
                if inp.bool() { room = notAString() }
            case 1, 2: mutateBytes(&bytes)
            case 3: form = 1 + inp.int(5)
            case 4: form = 6
            case 5: commitEvent = notAString()
            case 6: type = ([.string(commitType), .string("m.room_key"), .int(1), nil] as [J?])[inp.int(4)]
            case 7: sender = ([.string("@mallory:fuzz"), .int(1), nil] as [J?])[inp.int(3)]
            case 8: contentOverride = ([.string("x"), .int(1), .array([]), .null] as [J])[inp.int(4)]
            case 9: eventOverride = ([.int(3), .string("event"), .array([]), .null] as [J])[inp.int(4)]
            case 10: extra.append(("content", .object([("room_id", .string(roomIDs[2])), ("welcome", .string(b64(inp.bytes(max: 32))))])))
            default: extra.append(("junk", junk()))
            }
        }
        if let eventOverride { return eventOverride }
        var content: [(String, J)] = [("algorithm", .string(algorithm))]
        if let room { content.append(("room_id", room)) }
        content.append(("commit_transaction", .string("txn")))
        if let commitEvent { content.append(("commit_event", commitEvent)) }
        content += binaryField("welcome", bytes, form: form)
        var event: [(String, J)] = []
        if let type { event.append(("type", type)) }
        if let sender { event.append(("sender", sender)) }
        event.append(("content", contentOverride ?? .object(content)))
        return .object(event + extra)
    }

    /// `/messages` pages for a `limited` timeline of room `r`, newest first as the API returns them.
    mutating func makePages(_ r: Int) {
        for i in 0..<(1 + inp.int(3)) {
            switch inp.int(7) {
            case 1:
                let chunk = (0..<(1 + inp.int(4))).map { _ in roomEvent(r) }
                pages.append(page([("chunk", .array(chunk.reversed())), ("start", .string("p"))]))
            case 2: pages.append(page([("chunk", .array([])), ("end", .string("p-end"))]))
            case 3:
                let status = [403, 404, 429, 500, 502][inp.int(5)]
                pages.append(.http(status: status, headers: [], body: Array(#"{"errcode":"M_UNKNOWN","retry_after_ms":-1}"#.utf8)))
            case 4: pages.append(.unreachable)
            case 5: pages.append(.http(status: 200, headers: [], body: inp.bytes(max: 32)))
            case 6:
                // Events up to one the client has seen: backfill stops there.
                var chunk = (0..<(1 + inp.int(3))).map { _ in roomEvent(r) }
                chunk.insert(.object([("event_id", .string(fx.rooms[r].parent)), ("type", .string(commitType))]), at: 0)
                pages.append(page([("chunk", .array(chunk.reversed())), ("end", .string("p\(i)"))]))
            default:
                let chunk = (0..<(1 + inp.int(4))).map { _ in roomEvent(r) }
                pages.append(page([("chunk", .array(chunk.reversed())), ("end", notAString() ?? .string("p\(i)"))]))
            }
        }
    }

    func page(_ fields: [(String, J)]) -> FuzzAnswer {
        .http(status: 200, headers: [("Content-Type", "application/json")], body: J.object(fields).bytes)
    }

    // MARK: Documents

    /// A `/sync` answer, and the `next_batch` the client must hold after applying it (`nil`: the
    /// document does not carry a usable one, so the token stays as it was).
    mutating func document() -> (body: [UInt8], next: String?) {
        round += 1
        nextIsKnown = true
        var next: String? = "s\(round)-\(inp.byte())"
        var nextField: J? = next.map { .string($0) }
        let toDevice = (0..<inp.int(4)).map { _ in welcomeEvent() }
        var join: [(String, J)] = []
        for _ in 0..<(1 + inp.int(3)) {
            let pick = inp.int(6)
            let r = pick < 3 ? pick : 0
            let key = pick < 3 ? roomIDs[pick] : ["!unknown:fuzz", fuzzString(), ""][pick - 3]
            let shape = inp.int(10)
            var limited: J = .bool(false)
            var prevBatch: J? = .string("p-start")
            if shape == 1 || shape == 5 {
                // The gap's pages are older than the timeline: made before it.
                makePages(r)
                limited = .bool(true)
                if shape == 5 { prevBatch = notAString() }
            }
            var events = (0..<(1 + inp.int(6))).map { _ in roomEvent(r) }
            if shape == 7 { events.insert(([.int(1), .string("e"), .null, .array([])] as [J])[inp.int(4)], at: inp.int(events.count + 1)) }
            if shape == 4 { limited = ([.string("true"), .int(1), .null] as [J])[inp.int(3)] }
            var timeline: [(String, J)] = [("events", shape == 3 ? .object([]) : .array(events)), ("limited", limited)]
            if let prevBatch { timeline.append(("prev_batch", prevBatch)) }
            var room: J = .object([("timeline", shape == 2 ? .array([]) : .object(timeline))])
            if shape == 6 { room = .string("room") }
            if shape == 9 { room = .object([("timeline", .object(timeline)), ("state", .object([("events", junk())])), ("ephemeral", junk())]) }
            join.append((key, room))
            if shape == 8 { join.append((key, .object([("timeline", .object([("events", .array([roomEvent(r)]))]))]))) }
        }
        var rooms: J = .object([("join", .object(join)), ("invite", .object([])), ("leave", .object([]))])
        var toDeviceField: J = .object([("events", .array(toDevice))])
        var extra: [(String, J)] = []
        switch inp.int(8) {
        case 1: nextField = notAString(); next = nil
            if case let .string(s)? = nextField { next = s }
        case 2: rooms = ([.array([]), .object([("join", .array([]))]), .null] as [J])[inp.int(3)]
        case 3: toDeviceField = ([.array([]), .object([("events", .object([]))]), .null] as [J])[inp.int(3)]
        case 4: extra.append(("device_one_time_keys_count", .object([("x", number(keep: 0))])))
        case 5: extra.append(("junk", junk()))
        case 6: extra.append(("next_batch", .string("s-duplicate"))); nextIsKnown = false  // which one wins is the parser's choice
        default: break
        }
        var top: [(String, J)] = []
        if let nextField { top.append(("next_batch", nextField)) }
        top += [("to_device", toDeviceField), ("rooms", rooms)] + extra
        return (J.object(top).bytes, next)
    }
}
