import Foundation
import NIOHTTP1

/// A parsed JSON value from the homeserver. Sync responses mix many event shapes, so they are
/// read through `JSONSerialization` and accessed by key rather than decoded into fixed types.
@_spi(Engine) public typealias JSONObject = [String: Any]

/// A parsed response handed across concurrency domains. Sound as `@unchecked Sendable` because
/// the object is freshly parsed by `JSONSerialization`, never mutated, and made only of
/// immutable Foundation values.
@_spi(Engine) public struct JSONDocument: @unchecked Sendable {
    /// The parsed object.
    public let object: JSONObject
}

/// Login result: who we are on the homeserver (Client-Server API §5).
@_spi(Engine) public struct MatrixSession: Sendable, Equatable, CustomStringConvertible {
    /// `@user:server`.
    public var userID: String
    /// The fixed device ID: transaction IDs are scoped to user and device.
    public var deviceID: String
    /// The bearer token.
    public var accessToken: String

    /// The session without its access token, which is a bearer secret and never printed.
    public var description: String { "MatrixSession(\(userID), device \(deviceID), token redacted)" }

    /// Assembles a session.
    public init(userID: String, deviceID: String, accessToken: String) {
        self.userID = userID
        self.deviceID = deviceID
        self.accessToken = accessToken
    }
}

/// The Client-Server API endpoints MLSKit uses (matrix-spec, client-server-api), one method each.
@_spi(Engine) public struct MatrixAPI: Sendable {
    /// The HTTP caller (holds the access token once logged in).
    public var http: MatrixHTTP

    /// An API for the homeserver at `baseURL`.
    public init(baseURL: String, accessToken: String? = nil) {
        http = MatrixHTTP(baseURL: baseURL, accessToken: accessToken)
    }

    static func session(_ o: JSONObject) throws -> MatrixSession {
        guard let user = o["user_id"] as? String, let device = o["device_id"] as? String, let token = o["access_token"] as? String else {
            throw MatrixError.invalidResponse("login answer without user_id, device_id or access_token")
        }
        return MatrixSession(userID: user, deviceID: device, accessToken: token)
    }

    /// `POST /register` with the dummy flow and a fixed device ID.
    public func register(username: String, password: String, deviceID: String) async throws -> MatrixSession {
        try Self.session(try await http.json(.POST, "/_matrix/client/v3/register", [
            "username": username, "password": password, "device_id": deviceID, "auth": ["type": "m.login.dummy"],
        ]))
    }

    /// `POST /login` with a password and a fixed device ID.
    public func login(username: String, password: String, deviceID: String) async throws -> MatrixSession {
        try Self.session(try await http.json(.POST, "/_matrix/client/v3/login", [
            "type": "m.login.password", "identifier": ["type": "m.id.user", "user": username], "password": password, "device_id": deviceID,
        ]))
    }

    /// `POST /user/{userId}/filter`; returns the filter ID.
    public func createFilter(userID: String, filter: JSONObject) async throws -> String {
        guard let id = try await http.json(.POST, "/_matrix/client/v3/user/\(MatrixHTTP.segment(userID))/filter", filter)["filter_id"] as? String else { throw MatrixError.invalidResponse("no filter_id") }
        return id
    }

    /// `GET /sync`, long-polling up to `timeout` milliseconds.
    public func sync(since: String?, filter: String?, timeout: Int) async throws -> JSONDocument {
        var query: [(String, String)] = [("timeout", String(timeout))]
        if let since { query.append(("since", since)) }
        if let filter { query.append(("filter", filter)) }
        return JSONDocument(object: try await http.json(.GET, "/_matrix/client/v3/sync", query: query, timeout: .milliseconds(timeout + 60_000)))
    }

    /// `POST /createRoom`; returns the room ID.
    public func createRoom(_ body: JSONObject) async throws -> String {
        guard let id = try await http.json(.POST, "/_matrix/client/v3/createRoom", body)["room_id"] as? String else { throw MatrixError.invalidResponse("no room_id") }
        return id
    }

    /// `POST /rooms/{roomId}/invite`.
    public func invite(roomID: String, userID: String) async throws {
        _ = try await http.json(.POST, "/_matrix/client/v3/rooms/\(MatrixHTTP.segment(roomID))/invite", ["user_id": userID])
    }

    /// `POST /join/{roomId}`.
    public func join(roomID: String) async throws {
        _ = try await http.json(.POST, "/_matrix/client/v3/join/\(MatrixHTTP.segment(roomID))", [:])
    }

    /// `POST /rooms/{roomId}/leave`.
    public func leave(roomID: String) async throws {
        _ = try await http.json(.POST, "/_matrix/client/v3/rooms/\(MatrixHTTP.segment(roomID))/leave", [:])
    }

    /// `PUT /rooms/{roomId}/send/{eventType}/{txnId}`; returns the event ID. Idempotent per
    /// transaction ID, which is what makes retries safe.
    public func send(roomID: String, type: String, transactionID: String, content: JSONObject) async throws -> String {
        let path = "/_matrix/client/v3/rooms/\(MatrixHTTP.segment(roomID))/send/\(MatrixHTTP.segment(type))/\(MatrixHTTP.segment(transactionID))"
        guard let id = try await http.json(.PUT, path, content)["event_id"] as? String else { throw MatrixError.invalidResponse("no event_id") }
        return id
    }

    /// `PUT /sendToDevice/{eventType}/{txnId}` with `messages[user][device] = content`.
    public func sendToDevice(type: String, transactionID: String, messages: [String: [String: JSONObject]]) async throws {
        let path = "/_matrix/client/v3/sendToDevice/\(MatrixHTTP.segment(type))/\(MatrixHTTP.segment(transactionID))"
        _ = try await http.json(.PUT, path, ["messages": messages])
    }

    /// `POST /keys/upload`; returns `one_time_key_counts`.
    public func uploadKeys(_ body: JSONObject) async throws -> [String: Int] {
        try await http.json(.POST, "/_matrix/client/v3/keys/upload", body)["one_time_key_counts"] as? [String: Int] ?? [:]
    }

    /// `POST /keys/claim` for one algorithm of every device of `userID`; returns device → (key ID,
    /// value), where a fallback key's `{"key": …}` object is unwrapped to its string.
    public func claimKeys(userID: String, devices: [String], algorithm: String) async throws -> [String: (keyID: String, value: String)] {
        var wanted: [String: String] = [:]
        for d in devices { wanted[d] = algorithm }
        let body: JSONObject = ["one_time_keys": [userID: wanted], "timeout": 10_000]
        let o = try await http.json(.POST, "/_matrix/client/v3/keys/claim", body)
        var out: [String: (keyID: String, value: String)] = [:]
        for (device, keys) in (o["one_time_keys"] as? JSONObject)?[userID] as? JSONObject ?? [:] {
            guard let (k, v) = (keys as? JSONObject)?.first, let text = (v as? String) ?? ((v as? JSONObject)?["key"] as? String) else { continue }
            out[device] = (k, text)
        }
        return out
    }

    /// `POST /keys/query`: the device IDs of `userID` that uploaded device keys.
    public func devices(of userID: String) async throws -> [String] {
        let body: JSONObject = ["device_keys": [userID: [String]()]]
        let o = try await http.json(.POST, "/_matrix/client/v3/keys/query", body)
        return ((o["device_keys"] as? JSONObject)?[userID] as? JSONObject)?.keys.sorted() ?? []
    }

    /// `GET /rooms/{roomId}/messages` backwards from `from`.
    public func messages(roomID: String, from: String, limit: Int, filter: String?) async throws -> JSONDocument {
        var query = [("dir", "b"), ("from", from), ("limit", String(limit))]
        if let filter { query.append(("filter", filter)) }
        return JSONDocument(object: try await http.json(.GET, "/_matrix/client/v3/rooms/\(MatrixHTTP.segment(roomID))/messages", query: query))
    }

    /// `POST /_matrix/media/v3/upload`; returns the `mxc://` URI.
    public func uploadMedia(_ bytes: [UInt8], contentType: String = "application/octet-stream") async throws -> String {
        let answer = try await http.call(.POST, "/_matrix/media/v3/upload", body: (bytes, contentType))
        guard let o = (try? JSONSerialization.jsonObject(with: Data(answer))) as? JSONObject, let uri = o["content_uri"] as? String else { throw MatrixError.invalidResponse("no content_uri") }
        return uri
    }

    /// Authenticated media download (`GET /_matrix/client/v1/media/download/{server}/{id}`),
    /// reading at most `maxBytes` (a longer answer fails with ``MatrixError/responseTooLarge(limit:)``
    /// without being buffered).
    public func downloadMedia(_ mxc: String, maxBytes: Int = MatrixHTTP.maxResponseBytes, timeout: Duration = .seconds(90)) async throws -> [UInt8] {
        guard mxc.hasPrefix("mxc://") else { throw MatrixError.invalidResponse("not an mxc URI: \(mxc)") }
        let parts = mxc.dropFirst(6).split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw MatrixError.invalidResponse("bad mxc URI") }
        return try await http.call(.GET, "/_matrix/client/v1/media/download/\(MatrixHTTP.segment(parts[0]))/\(MatrixHTTP.segment(parts[1]))",
                                   timeout: timeout, maxBytes: maxBytes)
    }
}

