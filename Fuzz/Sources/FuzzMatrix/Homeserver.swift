import Foundation
@_spi(Engine) @_spi(Fuzzing) import MLSMatrix
import Synchronization

/// What the in-process homeserver answers during one input (or one fixture step). Requests
/// are routed by path; `/messages` pages are handed out in order, media by their `mxc` ID.
struct Script: Sendable {
    var sync: [UInt8] = Array("{}".utf8)
    var pages: [FuzzAnswer] = []
    var media: [String: FuzzAnswer] = [:]
    var join: FuzzAnswer = FuzzAnswer.empty
    /// Sends, to-device sends, invites, key uploads and anything else.
    var other: FuzzAnswer = FuzzAnswer.empty
    var keysQuery: FuzzAnswer = FuzzAnswer.empty
    var keysClaim: FuzzAnswer = FuzzAnswer.empty
    /// Every request, for the fixture and FUZZ_VERBOSE.
    var log: [FuzzRequest] = []

    mutating func answer(_ request: FuzzRequest) -> FuzzAnswer {
        log.append(request)
        let path = request.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        if path.hasSuffix("/sync") { return .http(status: 200, headers: [], body: sync) }
        if path.hasSuffix("/messages") {
            guard !pages.isEmpty else { return .notFound }
            return pages.removeFirst()
        }
        if path.contains("/media/download/") {
            let id = path.split(separator: "/").last.map(String.init) ?? ""
            return media[id] ?? .notFound
        }
        if path.contains("/join/") { return join }
        if path.hasSuffix("/keys/query") { return keysQuery }
        if path.hasSuffix("/keys/claim") { return keysClaim }
        if path.contains("/send/") {
            // A new event ID per send, as a homeserver gives.
            if case .http(200, _, _) = other { return .http(status: 200, headers: [], body: Array(#"{"event_id":"$sent-\#(log.count)"}"#.utf8)) }
        }
        return other
    }
}

extension FuzzAnswer {
    /// `200 {}`, made once: a Script is made for every input.
    static let empty = FuzzAnswer.ok([:])
    static let notFound = FuzzAnswer.http(status: 404, headers: [], body: Array(#"{"errcode":"M_NOT_FOUND"}"#.utf8))

    static func ok(_ object: [String: Any]) -> FuzzAnswer {
        .http(status: 200, headers: [("Content-Type", "application/json")], body: [UInt8]((try? JSONSerialization.data(withJSONObject: object)) ?? Data()))
    }
}

let script = Mutex(Script())

let homeserver: FuzzHomeserver = { request in script.withLock { $0.answer(request) } }
