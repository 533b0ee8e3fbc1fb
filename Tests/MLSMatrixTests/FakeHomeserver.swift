import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A homeserver under the test's control, on a loopback port: every request is answered by
/// `handler`, and the server counts what it was asked and how much it managed to send. Plain
/// POSIX sockets, one thread per connection, `Connection: close` on every answer; enough for the
/// few requests a test makes, and it lets tests play a hostile server (endless bodies, 5xx
/// forever, absurd `Retry-After`) without Synapse.
final class FakeHomeserver: @unchecked Sendable {
    struct Response {
        var status: Int
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        /// When set, the body is this many bytes of zeros without a `Content-Length`, written
        /// until the client stops reading (then the server notes how much it got out).
        var endless: Int?

        static func json(_ object: Any, status: Int = 200) -> Response {
            let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
            return Response(status: status, headers: [("Content-Type", "application/json")], body: [UInt8](data))
        }
    }

    let port: UInt16
    var url: String { "http://127.0.0.1:\(port)" }
    private let listener: Int32
    private let lock = NSLock()
    private var log: [String] = []
    private var streamed = 0
    private let handler: @Sendable (_ method: String, _ path: String) -> Response

    init(_ handler: @escaping @Sendable (_ method: String, _ path: String) -> Response) throws {
        self.handler = handler
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        listener = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 32) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// `METHOD path` of every request so far (path without the query).
    var requests: [String] { lock.withLock { log } }
    /// Bytes of endless bodies the clients accepted before they stopped reading.
    var streamedBytes: Int { lock.withLock { streamed } }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 { return }
            Thread.detachNewThread { [self] in serve(connection) }
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var headerEnd: Int?
        while headerEnd == nil {
            let n = recv(connection, &chunk, chunk.count, 0)
            if n <= 0 { return }
            received += chunk[0..<n]
            headerEnd = Self.find([13, 10, 13, 10], in: received)
        }
        guard let headerEnd else { return }
        let head = String(decoding: received[0..<headerEnd], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let first = lines[0].split(separator: " ")
        guard first.count >= 2 else { return }
        let method = String(first[0])
        let path = String(first[1].split(separator: "?", maxSplits: 1)[0])
        // Read the request body so that the client is not cut off while sending it.
        let contentLength = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first ?? 0
        var bodyCount = received.count - headerEnd - 4
        while bodyCount < contentLength {
            let n = recv(connection, &chunk, chunk.count, 0)
            if n <= 0 { return }
            bodyCount += n
        }
        lock.withLock { log.append("\(method) \(path)") }
        let response = handler(method, path)
        var text = "HTTP/1.1 \(response.status) Status\r\nConnection: close\r\n"
        for (name, value) in response.headers { text += "\(name): \(value)\r\n" }
        if response.endless == nil, !response.headers.contains(where: { $0.0.lowercased() == "content-length" }) {
            text += "Content-Length: \(response.body.count)\r\n"
        }
        text += "\r\n"
        guard write(connection, Array(text.utf8) + response.body) else { return }
        if let total = response.endless {
            let zeros = [UInt8](repeating: 0, count: 65536)
            var sent = 0
            while sent < total, write(connection, zeros) {
                sent += zeros.count
                lock.withLock { streamed += zeros.count }
            }
        }
    }

    private func write(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            #if canImport(Glibc)
            let n = bytes[offset...].withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            #else
            let n = bytes[offset...].withUnsafeBytes { send(connection, $0.baseAddress, $0.count, 0) }
            #endif
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where Array(haystack[i..<(i + needle.count)]) == needle { return i }
        return nil
    }
}
