import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Why a Matrix Client-Server API request failed.
public enum MatrixError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The homeserver answered with an error (`errcode`, `error`), e.g. `M_FORBIDDEN`.
    /// `retryAfterMilliseconds` is set for 429 responses.
    case server(status: Int, errcode: String?, message: String?, retryAfterMilliseconds: Int?)
    /// The request did not reach the homeserver or its answer was cut off.
    case network(String)
    /// The answer was not the JSON the Client-Server API specifies.
    case invalidResponse(String)
    /// A payload is larger than a single event may be (64 KiB after encoding).
    case tooLarge(Int)
    /// The homeserver's answer is longer than the caller allows; reading stopped at `limit` bytes.
    case responseTooLarge(limit: Int)

    /// Whether the same request may succeed later: rate limits, server errors and network errors
    /// are transient; every other 4xx is permanent (../shared/design/matrix-mapping.md).
    public var isTransient: Bool {
        switch self {
        case let .server(status, _, _, _): status == 429 || status >= 500
        case .network: true
        case .invalidResponse, .tooLarge, .responseTooLarge: false
        }
    }

    public var description: String {
        switch self {
        case let .server(status, errcode, message, _): "homeserver answered \(status) \(errcode ?? "") \(message ?? "")"
        case let .network(m): "network error: \(m)"
        case let .invalidResponse(m): "unexpected homeserver response: \(m)"
        case let .tooLarge(n): "payload of \(n) bytes is too large for one event"
        case let .responseTooLarge(limit): "homeserver answer longer than the \(limit) bytes allowed"
        }
    }
}

/// How requests are retried: on 429 after the homeserver's `Retry-After` (or `retry_after_ms`),
/// on 5xx and network errors with exponential back-off from `initial` to `maximum`.
public struct RetryPolicy: Sendable {
    /// First back-off delay.
    public var initial: Duration = .milliseconds(500)
    /// Largest back-off delay.
    public var maximum: Duration = .seconds(60)
    /// Give up after this many attempts (`nil`: retry transient errors forever).
    public var maxAttempts: Int? = nil

    /// The default policy of the mapping: 0.5 s doubling to 60 s, unbounded attempts.
    public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(60), maxAttempts: Int? = nil) {
        self.initial = initial
        self.maximum = maximum
        self.maxAttempts = maxAttempts
    }

    /// Runs `operation` until it succeeds, fails permanently, or runs out of attempts.
    public func run<T: Sendable>(_ operation: () async throws -> T) async throws -> T {
        var delay = initial
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await operation()
            } catch let error as MatrixError where error.isTransient {
                if let maxAttempts, attempt >= maxAttempts { throw error }
                try await Task.sleep(for: wait(after: error, backoff: delay))
                delay = min(delay * 2, maximum)
            }
        }
    }

    /// How long to wait after `error` when exponential back-off is at `backoff`. The homeserver's
    /// hint for a 429 (`retry_after_ms`, `Retry-After`) is honoured but clamped to ``maximum``: a
    /// hostile server answering `Int.max` must not put the client to sleep for good. A hint of
    /// zero or less is no usable hint (it would make the retry loop spin), so back-off applies.
    public func wait(after error: MatrixError, backoff: Duration) -> Duration {
        guard case let .server(429, _, _, hint?) = error, hint > 0 else { return min(backoff, maximum) }
        // `.milliseconds` of any Int is exact (Duration counts attoseconds in 128 bits).
        return min(.milliseconds(hint), maximum)
    }
}

/// One Matrix Client-Server API endpoint call over AsyncHTTPClient: JSON in, JSON out, errors
/// mapped to ``MatrixError``. Knows nothing about MLS.
@_spi(Engine) public struct MatrixHTTP: Sendable {
    /// The homeserver's base URL, e.g. `http://127.0.0.1:8008`.
    public let baseURL: String
    /// The access token sent as a bearer token, once logged in.
    public var accessToken: String?
    let client: HTTPClient
    /// Answers requests in place of `client` when set. Only the fuzz harness sets it
    /// (FuzzEntry.swift), so that the rest of ``call(_:_:query:body:timeout:maxBytes:)`` (status
    /// mapping, `Retry-After`, the body limit) runs as it does against a real homeserver.
    var exchange: (@Sendable (HTTPClientRequest) async throws -> HTTPClientResponse)?

    /// The process-wide client MLSMatrix uses. Unlike `HTTPClient.shared` it does not keep
    /// re-trying to connect while a request waits: a request to a homeserver that is down fails
    /// at once, and ``RetryPolicy`` (which knows the Matrix rules) decides when to try again.
    public static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(5))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// A caller for `baseURL`.
    public init(baseURL: String, accessToken: String? = nil, client: HTTPClient = MatrixHTTP.client) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.accessToken = accessToken
        self.client = client
    }

    /// Percent-encodes one path segment (room IDs, event types, transaction IDs, user IDs).
    public static func segment(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    /// Largest answer read for an ordinary JSON request. `/sync` answers may legitimately be
    /// large (100 events per room, 64 KiB each); media downloads pass their own, smaller limit.
    public static let maxResponseBytes = 256 << 20
    /// Largest error body read: an error answer is a small JSON object (`errcode`, `error`).
    static let maxErrorBodyBytes = 64 << 10

    /// Sends one request with an optional body; returns the response body raw. The body is read
    /// only up to `maxBytes`: a longer answer (by `Content-Length` or by what arrives) stops the
    /// reading and fails with ``MatrixError/responseTooLarge(limit:)``, so a hostile homeserver
    /// cannot make the client buffer more than the caller allowed.
    public func call(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [],
                     body: (bytes: [UInt8], contentType: String)? = nil, timeout: Duration = .seconds(90),
                     maxBytes: Int = MatrixHTTP.maxResponseBytes) async throws -> [UInt8] {
        var url = baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.segment($0.0))=\(Self.segment($0.1))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let accessToken { request.headers.add(name: "Authorization", value: "Bearer \(accessToken)") }
        if let body {
            request.headers.add(name: "Content-Type", value: body.contentType)
            request.body = .bytes(ByteBuffer(bytes: body.bytes))
        }
        let response: HTTPClientResponse
        var buffer: ByteBuffer
        let success: Bool
        let limit = max(0, maxBytes)
        do {
            let nanos = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            if let exchange {
                response = try await exchange(request)
            } else {
                response = try await client.execute(request, timeout: .nanoseconds(nanos))
            }
            success = (200..<300).contains(response.status.code)
            // `collect(upTo:)` refuses a longer `Content-Length` before reading and stops reading
            // (dropping the connection) as soon as more than the limit has arrived.
            buffer = try await response.body.collect(upTo: success ? limit : min(limit, Self.maxErrorBodyBytes))
        } catch is NIOTooManyBytesError {
            throw MatrixError.responseTooLarge(limit: limit)
        } catch {
            throw MatrixError.network("\(method) \(path): \(error)")
        }
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        guard success else {
            let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
            throw MatrixError.server(status: Int(response.status.code), errcode: object?["errcode"] as? String,
                                     message: object?["error"] as? String,
                                     retryAfterMilliseconds: Self.retryAfterMilliseconds(body: object, header: response.headers.first(name: "Retry-After")))
        }
        return bytes
    }

    /// The back-off a 429 answer asks for, in milliseconds: the body's `retry_after_ms`
    /// (Client-Server API, "Rate limiting"), else the `Retry-After` header in whole seconds
    /// (RFC 9110 §10.2.3; the HTTP-date form is not used by homeservers and is ignored). Both come
    /// from the homeserver, so nothing here may trap: seconds are converted with an overflow
    /// check (saturating at `Int.max`) and negative values become 0. ``RetryPolicy`` clamps the
    /// result to its maximum.
    public static func retryAfterMilliseconds(body: [String: Any]?, header: String?) -> Int? {
        if let ms = body?["retry_after_ms"] as? Int { return max(0, ms) }
        guard let header, let seconds = Int(header.trimmingCharacters(in: .whitespaces)) else { return nil }
        let (ms, overflow) = max(0, seconds).multipliedReportingOverflow(by: 1000)
        return overflow ? Int.max : ms
    }

    /// Sends a JSON object (or no body) and parses the JSON object answered.
    public func json(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], _ object: [String: Any]? = nil,
                     timeout: Duration = .seconds(90)) async throws -> [String: Any] {
        var body: (bytes: [UInt8], contentType: String)?
        if let object {
            guard JSONSerialization.isValidJSONObject(object), let data = try? JSONSerialization.data(withJSONObject: object) else {
                throw MatrixError.invalidResponse("request body is not JSON")
            }
            body = ([UInt8](data), "application/json")
        }
        let bytes = try await call(method, path, query: query, body: body, timeout: timeout)
        guard let o = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw MatrixError.invalidResponse("\(path): not a JSON object")
        }
        return o
    }
}
