import AsyncHTTPClient
import Foundation
import MLS
import MLSCrypto
import MLSStore
import NIOCore
import NIOHTTP1

// The way in for the libFuzzer target Fuzz/Sources/FuzzMatrix. The sync handlers (`apply`,
// `handleToDevice`, `handleRoomEvent`, backfill, media) are internal, and their only public
// entry, `syncOnce`, needs a homeserver. Everything here is `@_spi(Fuzzing)`, so an ordinary
// `import MLSMatrix` does not see it, and it adds no behaviour: the handlers run unchanged, with
// every request answered in-process by the harness (``MatrixHTTP/exchange``) instead of the network.

/// A request as the harness's in-process homeserver sees it.
@_spi(Fuzzing) public struct FuzzRequest: Sendable {
    /// `GET`, `POST`, `PUT` …
    public let method: String
    /// Path and query, without the scheme and host.
    public let target: String
    /// The request body (JSON for everything MLSMatrix sends except media uploads).
    public let body: [UInt8]
}

/// The in-process homeserver's answer.
@_spi(Fuzzing) public enum FuzzAnswer: Sendable {
    /// An HTTP answer. NIO only ever hands over a three-digit status, so one outside 100...599
    /// is sent as 500 rather than built into a status NIO could never have parsed.
    case http(status: Int, headers: [(String, String)], body: [UInt8])
    /// No answer at all (refused, reset, timed out): `MatrixHTTP` sees a transport error.
    case unreachable
}

/// Answers every request of a fuzzed client. Called on the client's tasks; it must not block.
@_spi(Fuzzing) public typealias FuzzHomeserver = @Sendable (FuzzRequest) -> FuzzAnswer

/// The harness's stand-in for a connection failure.
struct FuzzUnreachable: Error {}

/// A client's whole state at one instant (memory and store), so that every fuzz input starts
/// from the same state without rebuilding the groups it was made of.
@_spi(Fuzzing) public struct MatrixClientSnapshot: Sendable {
    let api: MatrixAPI
    let session: MatrixSession
    let suite: CipherSuite
    let signer: InMemorySigner
    let rows: StorageBatch
    let groups: [String: MLSGroup]
    let rooms: [String: MatrixMLSClient.RoomState]
    let nextBatch: String?
    let filterID: String?
    let outboxSequence: UInt64
    let retry: RetryPolicy
    let mediaLimits: MediaLimits
}

@_spi(Fuzzing) extension MatrixMLSClient {
    static let fuzzBaseURL = "http://homeserver.invalid"

    /// A client of `session` over `store`, without registering or logging in, whose requests
    /// `homeserver` answers.
    public static func fuzzClient(session: MatrixSession, suite: CipherSuite, signer: InMemorySigner,
                                  store: GroupStore, homeserver: @escaping FuzzHomeserver) throws -> MatrixMLSClient {
        var api = MatrixAPI(baseURL: fuzzBaseURL, accessToken: session.accessToken)
        api.http.exchange = { request in try await fuzzExchange(request, homeserver) }
        return try MatrixMLSClient(api: api, session: session, store: store, suite: suite, signer: signer)
    }

    static func fuzzExchange(_ request: HTTPClientRequest, _ homeserver: FuzzHomeserver) async throws -> HTTPClientResponse {
        var body: [UInt8] = []
        if let b = request.body {
            for try await chunk in b { body += chunk.readableBytesView }
        }
        let target = request.url.hasPrefix(fuzzBaseURL) ? String(request.url.dropFirst(fuzzBaseURL.count)) : request.url
        switch homeserver(FuzzRequest(method: request.method.rawValue, target: target, body: body)) {
        case .unreachable:
            throw FuzzUnreachable()
        case let .http(status, headers, bytes):
            return HTTPClientResponse(status: HTTPResponseStatus(statusCode: (100...599).contains(status) ? status : 500),
                                      headers: HTTPHeaders(headers), body: .bytes(ByteBuffer(bytes: bytes)))
        }
    }

    /// One `/sync` round as ``syncOnce(timeout:)`` runs it, up to and including `apply`: the
    /// request (its answer parsed by `MatrixHTTP`), then every event through the handlers. Not
    /// the filter upload, KeyPackage top-up and ``flush()`` around it, whose errors are ordinary.
    /// `nil` when the request failed; otherwise what `apply` returned or threw (it promises to
    /// throw only when the store fails).
    public func fuzzSync() async -> Result<[MailboxMessage], any Error>? {
        let response: JSONDocument
        do { response = try await api.sync(since: nextBatch, filter: filterID, timeout: 0) } catch { return nil }
        do { return .success(try await apply(syncResponse: response)) } catch { return .failure(error) }
    }

    /// The `next_batch` token this client would send.
    public var fuzzNextBatch: String? { nextBatch }

    /// This client's state: memory, and every row of its store (`contents()`).
    public func fuzzSnapshot() throws -> MatrixClientSnapshot {
        MatrixClientSnapshot(api: api, session: session, suite: suite, signer: signer, rows: try store.backend.contents(),
                             groups: groups.mapValues(\.group), rooms: rooms, nextBatch: nextBatch, filterID: filterID,
                             outboxSequence: outboxSequence, retry: retry, mediaLimits: mediaLimits)
    }

    /// A new client in exactly the snapshot's state, over a new in-memory copy of its store.
    public static func fuzzRestore(_ snapshot: MatrixClientSnapshot) async throws -> MatrixMLSClient {
        let backend = InMemoryStorage()
        try backend.write(snapshot.rows)
        let store = try GroupStore(backend: backend)
        let client = try MatrixMLSClient(api: snapshot.api, session: snapshot.session, store: store, suite: snapshot.suite, signer: snapshot.signer)
        try await client.fuzzAdopt(snapshot)
        return client
    }

    func fuzzAdopt(_ snapshot: MatrixClientSnapshot) throws {
        // The groups as they were, each handle opened from the new store (which holds the same
        // rows, so the handles' compare-and-swap stamps are the stored ones).
        var handles: [String: PersistentGroup] = [:]
        for roomID in snapshot.groups.keys {
            guard let handle = try store.open(Array(roomID.utf8), configuration: groupConfiguration) else { throw MatrixClientError.unknownRoom(roomID) }
            handles[roomID] = handle
        }
        groups = handles
        rooms = snapshot.rooms
        nextBatch = snapshot.nextBatch
        filterID = snapshot.filterID
        outboxSequence = snapshot.outboxSequence
        retry = snapshot.retry
        mediaLimits = snapshot.mediaLimits
        mediaBudget = snapshot.mediaLimits.maxBytesPerSync
    }

    /// How this client differs from one loaded from its store, as a restarted process would load
    /// it (`loadState`), or `nil` if it does not: every transition is written before it is
    /// adopted, so the two must agree on rooms, groups (epoch, authenticator, members) and the
    /// sync token.
    public func fuzzDifferenceFromStore() async throws -> String? {
        let reloaded = try MatrixMLSClient(api: api, session: session, store: store, suite: suite, signer: signer)
        try await reloaded.loadState()
        let (theirGroups, theirRooms, theirBatch) = await (reloaded.groups, reloaded.rooms, reloaded.nextBatch)
        if theirBatch != nextBatch { return "next_batch \(String(describing: nextBatch)) in memory, \(String(describing: theirBatch)) stored" }
        if Set(theirRooms.keys) != Set(rooms.keys) { return "rooms \(rooms.keys.sorted()) in memory, \(theirRooms.keys.sorted()) stored" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for (roomID, state) in rooms {
            guard let stored = theirRooms[roomID], try encoder.encode(stored) == encoder.encode(state) else {
                return "room state of \(roomID) differs from the stored one"
            }
        }
        if Set(theirGroups.keys) != Set(groups.keys) { return "groups \(groups.keys.sorted()) in memory, \(theirGroups.keys.sorted()) stored" }
        for (roomID, handle) in groups {
            guard let stored = theirGroups[roomID]?.group else { continue }
            let g = handle.group
            if stored.epoch != g.epoch || stored.epochAuthenticator != g.epochAuthenticator || stored.members != g.members {
                return "group of \(roomID): epoch \(g.epoch) in memory, \(stored.epoch) stored (or its secrets or members differ)"
            }
        }
        return nil
    }
}
