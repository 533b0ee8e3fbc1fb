import Foundation
import FuzzSupport
@_spi(Engine) import MLS
@_spi(Engine) @_spi(Fuzzing) import MLSMatrix

// MLSMatrix's sync handlers (apply(syncResponse:), handleToDevice, handleRoomEvent, Welcome
// opening, backfill, media) against a hostile homeserver. The client (@citizen) is in two rooms
// (R1, R2: epoch 2, with @authority, the second member; in R2 its own commit adding @third is
// sent and unconfirmed) and holds KeyPackages that Welcomes to R3 open. Every input starts
// from a snapshot of that state (MatrixClientSnapshot) and runs 1-3 `/sync` rounds; every
// request the client makes (sync, /messages, media, join, send) is answered in-process from the
// input (FuzzEntry.swift, Homeserver.swift).
//
// Input: a choice stream (Generator). Its first choice picks how the `/sync` body is made:
// structured (room events carrying application messages, proposals and commits the authority
// makes for this input, its old messages, the client's own commit, Welcomes; each event
// optionally mutated in its JSON fields, numbers, base64, MLS bytes, media references), the
// structured text with raw bytes spliced in, or the rest of the input as the body.
//
// Oracles (a violation traps):
//   - no event's failure leaves apply(syncResponse:) (Sync.swift: "no failure of one event
//     leaves this function"; the in-memory store never fails), and a JSON object body is applied;
//   - next_batch is the document's (or unchanged when it carries none);
//   - a delivered message was written by the authority (its plaintext is one the authority
//     encrypted in that room, its author the authority's credential), is delivered once per
//     event ID across rounds and replays, and is what takeMessages() returns;
//   - epochs never go back; after a flush that returned, nothing is left queued;
//   - the state in memory equals the one reloaded from the store (what a restart would see);
//   - a room whose epoch the client shares with the authority still reads its next message.

enum Mode {
    case structured, spliced, raw
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

/// FUZZ_VERBOSE: what a crashing input did, beside the `outcome:` lines used for depth checks.
func trace(_ text: @autoclosure () -> String) {
    if fuzzVerbose { FileHandle.standardError.write(Data("trace: \(text())\n".utf8)) }
}

func runInput(_ bytes: [UInt8]) async {
    var gen = Generator(bytes)
    let client: MatrixMLSClient
    do { client = try await MatrixMLSClient.fuzzRestore(fx.snapshot) } catch { fatalError("restore: \(error)") }
    let modeChoice = gen.inp.int(16)
    let mode: Mode = modeChoice >= 14 ? .raw : modeChoice >= 12 ? .spliced : .structured
    if gen.inp.int(8) == 7 { await client.setWelcomePolicy { _ in false } }
    let rounds = mode == .raw ? 1 : 1 + gen.inp.int(3)
    var delivered: Set<String> = []
    var previous: (body: [UInt8], next: String?, known: Bool, mayFail: Bool, pages: [FuzzAnswer], media: [String: FuzzAnswer])?
    var summary: [String] = []

    for round in 0..<rounds {
        var body: [UInt8]
        var next: String?
        var nextKnown = true
        gen.pages = []
        gen.media = [:]
        gen.mayFailToParse = false
        if round > 0, let previous, gen.inp.int(4) == 3 {
            // The same batch again, as after a crash before next_batch was stored.
            (body, next, nextKnown) = (previous.body, previous.next, previous.known)
            gen.pages = previous.pages
            gen.media = previous.media
            gen.mayFailToParse = previous.mayFail
            summary.append("replay")
        } else if mode == .raw {
            body = Array(gen.inp.bytes[min(gen.inp.position, gen.inp.bytes.count)...])
            nextKnown = false
            gen.mayFailToParse = true
        } else {
            (body, next) = gen.document()
            nextKnown = gen.nextIsKnown
            if mode == .spliced {
                let at = gen.inp.int(body.count + 1)
                let cut = min(gen.inp.int(16), body.count - at)
                body.replaceSubrange(at..<(at + cut), with: gen.inp.bytes(max: 64))
                nextKnown = false
                gen.mayFailToParse = true
            }
        }
        previous = (body, next, nextKnown, gen.mayFailToParse, gen.pages, gen.media)
        let (pages, media) = (gen.pages, gen.media)
        script.withLock {
            $0 = Script()
            $0.sync = body
            $0.pages = pages
            $0.media = media
        }
        // The join a Welcome asks for, answered as chosen (mostly granted).
        let join: FuzzAnswer = switch gen.inp.int(8) {
        case 1: .http(status: 403, headers: [], body: Array(#"{"errcode":"M_FORBIDDEN"}"#.utf8))
        case 2: .http(status: 429, headers: [("Retry-After", "99999999999999999999")], body: [])
        case 3: .unreachable
        default: .empty
        }
        script.withLock { $0.join = join }

        trace("round \(round): /sync answers \(String(decoding: body, as: UTF8.self))")
        let batchBefore = await client.fuzzNextBatch
        var epochsBefore: [UInt64?] = []
        for id in roomIDs { epochsBefore.append(await client.epoch(of: id)) }

        guard let result = await client.fuzzSync() else {
            check(gen.mayFailToParse, "the client refused a /sync answer that is a JSON object: \(String(decoding: body.prefix(2000), as: UTF8.self))")
            summary.append("not an object")
            continue
        }
        let messages: [MailboxMessage]
        switch result {
        case let .failure(error): fatalError("an event's failure left apply(syncResponse:): \(error)")
        case let .success(m): messages = m
        }

        let inbox = await client.takeMessages()
        check(inbox.map(\.eventID) == messages.map(\.eventID), "takeMessages() \(inbox.map(\.eventID)) is not the round's \(messages.map(\.eventID))")
        for m in messages {
            check(delivered.insert(m.eventID).inserted, "event \(m.eventID) delivered twice")
            guard let r = roomIDs.firstIndex(of: m.roomID) else { fatalError("a message from \(m.roomID), a room the client is not in") }
            check(m.author.identity == Array(authorityID.utf8), "a message authored by \(m.author) in \(m.roomID)")
            check(gen.allowed[r].contains(m.plaintext), "a message the authority never wrote: \(hexPrefix(m.plaintext)) in \(m.roomID)")
        }
        let batch = await client.fuzzNextBatch
        if nextKnown { check(batch == (next ?? batchBefore), "next_batch is \(String(describing: batch)), expected \(String(describing: next ?? batchBefore))") }
        let failures = await client.takeFailures()
        check(failures.count <= MatrixMLSClient.failureLimit, "\(failures.count) failures kept")
        for (i, id) in roomIDs.enumerated() {
            let after = await client.epoch(of: id)
            if let before = epochsBefore[i], let after { check(after >= before, "\(id) went back from epoch \(before) to \(after)") }
        }
        trace("round \(round): delivered \(messages.map(\.eventID)), failures \(failures), requests \(script.withLock { $0.log.map { "\($0.method) \($0.target)" } })")
        summary.append("\(messages.count) delivered, failures: " + Set(failures.map { String(describing: $0.reason).prefix(while: { $0 != ":" }) }).sorted().joined(separator: "; "))
    }

    // Sending what the rounds queued (a confirmed commit's held Welcome, re-proposals of a lost
    // commit), answered as chosen.
    if gen.inp.int(4) == 3 {
        let answer: FuzzAnswer = switch gen.inp.int(4) {
        case 1: .http(status: 500, headers: [], body: [])
        case 2: .http(status: 400, headers: [], body: Array(#"{"errcode":"M_TOO_LARGE"}"#.utf8))
        case 3: .unreachable
        default: .empty
        }
        script.withLock {
            $0 = Script()
            $0.other = answer
        }
        try? await client.reproposeLostCommits()
        if (try? await client.flush()) != nil {
            let left = try? await client.pendingOutgoing()
            check(left == 0, "flush() returned with \(String(describing: left)) items still queued")
        }
        summary.append("flushed")
    }

    do {
        if let difference = try await client.fuzzDifferenceFromStore() { fatalError("memory and store differ: \(difference)") }
    } catch {
        fatalError("the client's own store does not load: \(error)")
    }

    // A room in the authority's epoch must still read the authority's next message.
    script.withLock { $0 = Script() }
    for (r, id) in roomIDs.enumerated() {
        guard await client.epochAuthenticator(of: id) == gen.authority[r].epochAuthenticator,
              let m = try? gen.authority[r].encrypt(Array("alive".utf8)) else { continue }
        let eventID = "$alive-0123456789abcdef0123456789abcdef-\(r)"
        let body = syncBody(next: "alive-\(r)", rooms: [(id, [roomEvent(id: eventID, type: applicationType, sender: authorityID, bytes: m.tlsSerialized, epoch: nil, parent: nil)])])
        script.withLock { $0.sync = body }
        let result = await client.fuzzSync()
        guard case let .success(got)? = result, got.map(\.plaintext) == [Array("alive".utf8)] else {
            let failures = await client.takeFailures()
            fatalError("\(id) no longer reads the authority's messages (epoch \(gen.authority[r].epoch)): \(failures); \(summary)")
        }
        summary.append("\(id) alive")
    }
    outcome(summary.joined(separator: " | "))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    _ = fx  // built here, on the fuzzer's thread, not inside the task that reads it
    blocking { await runInput(bytes) }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>) -> CInt {
    SeedWriter.handle { dir in
        for (name, seed) in seeds { SeedWriter.write(seed, to: dir, name: name) }
    }
    return 0
}

@_cdecl("FuzzMatrix_main")
public func FuzzMatrixMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
