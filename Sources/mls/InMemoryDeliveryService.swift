@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec

/// A delivery service held in memory, for demonstrations and smoke tests (RFC 9420 §14, and
/// RFC 9750 for the architecture): one ordered log of MLS messages, each fanned out to the
/// inbox of every subscribed client in log order.
///
/// An ordered broadcast is the simplest service that gives every member the same order of
/// handshake messages, which is all MLS asks of it: with it, two commits for the same epoch
/// reach everyone in the same order, so everyone applies the first and rejects the second.
///
/// Messages are stored as their TLS serialization, exactly as they would cross a network, so
/// every recipient parses what it receives and the sizes reported are the real wire sizes. The
/// service knows clients only by inbox name: it cannot read PrivateMessages and does not track
/// group membership, so a removed member's inbox keeps receiving (unreadable) messages until
/// the application closes it with ``unsubscribe(_:)``.
struct InMemoryDeliveryService {
    /// One message carried by the service.
    struct Delivery {
        /// Position in the service's log: every inbox sees deliveries in increasing order.
        let sequence: Int
        /// The inbox name of the client that handed the message in. A real service learns this
        /// from the connection; members must not trust it, and MLS does not need to, since every
        /// message authenticates its sender itself.
        let from: String
        /// The inbox names a direct message was addressed to, or `nil` for a group broadcast.
        let to: [String]?
        /// The serialized `MLSMessage`.
        let bytes: [UInt8]

        /// The message, parsed as a recipient would parse it off the wire.
        func message() throws -> MLSMessage { try MLSMessage(tlsSerialized: bytes) }
    }

    /// Every message the service carried, in order.
    private(set) var log: [Delivery] = []
    /// Undelivered messages per subscribed inbox.
    private var inboxes: [String: [Delivery]] = [:]

    /// An empty service with no subscribers.
    init() {}

    /// The subscribed inbox names, sorted so that output built from them is deterministic.
    var subscribers: [String] { inboxes.keys.sorted() }

    /// Opens an inbox. Only messages logged from now on reach it: a joiner must not be handed
    /// the handshake messages of epochs before it joined, which it could not process.
    mutating func subscribe(_ client: String) {
        if inboxes[client] == nil { inboxes[client] = [] }
    }

    /// Closes an inbox, dropping whatever it still held.
    mutating func unsubscribe(_ client: String) {
        inboxes[client] = nil
    }

    /// Logs a group message and fans it out to every subscribed inbox, the sender's included:
    /// the echo is how a committer learns that its commit was accepted in the log's order.
    @discardableResult
    mutating func broadcast(_ message: MLSMessage, from sender: String) -> Delivery {
        let delivery = Delivery(sequence: log.count, from: sender, to: nil, bytes: message.tlsSerialized)
        log.append(delivery)
        for name in inboxes.keys { inboxes[name]?.append(delivery) }
        return delivery
    }

    /// Logs a message meant for some clients only, e.g. a Welcome, which is encrypted to the
    /// joiners' KeyPackages and is of no use to anyone else.
    @discardableResult
    mutating func send(_ message: MLSMessage, from sender: String, to recipients: [String]) -> Delivery {
        let delivery = Delivery(sequence: log.count, from: sender, to: recipients, bytes: message.tlsSerialized)
        log.append(delivery)
        for name in recipients where inboxes[name] != nil { inboxes[name]?.append(delivery) }
        return delivery
    }

    /// Removes and returns the messages waiting in an inbox, oldest first.
    mutating func receive(_ client: String) -> [Delivery] {
        defer { if inboxes[client] != nil { inboxes[client] = [] } }
        return inboxes[client] ?? []
    }
}
