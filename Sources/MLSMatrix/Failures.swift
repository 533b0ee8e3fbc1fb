@_spi(Engine) import MLS

/// Why one incoming event (a timeline event or a to-device message) was not applied. Every byte
/// from the homeserver is untrusted (../shared/design/architecture.md, "Hostile input"): an event
/// that cannot be applied is recorded with one of these reasons and skipped, and the sync loop
/// moves on, so one bad event can never hold `next_batch` back.
public enum EventFailureReason: Error, Sendable, Equatable, CustomStringConvertible {
    /// A field is missing or has the wrong JSON type, or a binary field is not base64 of a
    /// well-formed TLS encoding.
    case malformed(String)
    /// A number does not fit the range the mapping allows (an epoch beyond `Int.max`).
    case outOfRange(String)
    /// The media repository did not deliver the payload within the bounded attempts.
    case mediaUnavailable(String)
    /// The payload is larger than ``MediaLimits/maxBytesPerMedia``; reading stopped there.
    case mediaTooLarge(limit: Int)
    /// This `/sync` round already downloaded ``MediaLimits/maxBytesPerSync``.
    case mediaBudgetExhausted
    /// The downloaded bytes do not match the event's `<field>_sha256`.
    case mediaDigestMismatch
    /// MLS refused the message (wrong group or epoch, bad signature or tag, invalid proposal …).
    case rejected(String)
    /// A Welcome none of this device's KeyPackages can open.
    case welcomeNotForThisDevice
    /// A Welcome that failed to join (RFC 9420 §12.4.3.1: decryption, signature, tree validation).
    case welcomeInvalid(String)
    /// A valid Welcome whose group ID is not the room it names (the group ID is the room ID).
    case welcomeRoomMismatch
    /// A valid Welcome that the application's ``WelcomePolicy`` refused; the room was not joined.
    case welcomeRefused
    /// A valid, accepted Welcome whose Matrix room could not be joined.
    case joinFailed(String)
    /// A `limited` timeline's gap could not be fetched from `/messages`.
    case backfillFailed(String)
    /// Local state this client wrote could not be read back or extended.
    case corruptState(String)

    public var description: String {
        switch self {
        case let .malformed(m): "malformed event: \(m)"
        case let .outOfRange(m): "value out of range: \(m)"
        case let .mediaUnavailable(m): "media unavailable: \(m)"
        case let .mediaTooLarge(limit): "media larger than \(limit) bytes"
        case .mediaBudgetExhausted: "media budget of this sync round exhausted"
        case .mediaDigestMismatch: "media does not match its SHA-256"
        case let .rejected(m): "rejected by MLS: \(m)"
        case .welcomeNotForThisDevice: "Welcome for none of this device's KeyPackages"
        case let .welcomeInvalid(m): "invalid Welcome: \(m)"
        case .welcomeRoomMismatch: "Welcome's group is not the room it names"
        case .welcomeRefused: "Welcome refused by the application's policy"
        case let .joinFailed(m): "joining the room failed: \(m)"
        case let .backfillFailed(m): "filling a timeline gap failed: \(m)"
        case let .corruptState(m): "local state corrupt: \(m)"
        }
    }
}

/// One incoming event that was skipped, and why.
public struct EventFailure: Sendable, Equatable, CustomStringConvertible {
    /// The room of a timeline event, or the room a Welcome names; `nil` if the event named none.
    public let roomID: String?
    /// The timeline event ID, or `welcome:<hex SHA-256>` for a Welcome; `nil` if it had none.
    public let eventID: String?
    /// The Matrix sender the homeserver claims (not authenticated).
    public let matrixSender: String?
    /// Why it was skipped.
    public let reason: EventFailureReason

    public var description: String {
        "\(eventID ?? "event") in \(roomID ?? "-") from \(matrixSender ?? "-"): \(reason)"
    }
}

/// A local state error of the client (not an incoming event's fault).
public enum MatrixClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stored state this client wrote is inconsistent (for example a queue key at `UInt64.max`).
    case corruptState(String)
    /// The group's epoch does not fit the JSON integer the mapping carries it in (`Int`).
    case epochOutOfRange(UInt64)
    /// This client has no group for the room (never joined, or removed).
    case unknownRoom(String)
    /// A commit of this client's in the room awaits the homeserver's order; one at a time.
    case commitPending(String)
    /// The homeserver has no KeyPackage for any device of this user, so it cannot be added.
    case noKeyPackage(String)

    public var description: String {
        switch self {
        case let .corruptState(m): "local state corrupt: \(m)"
        case let .epochOutOfRange(e): "epoch \(e) does not fit the event's epoch field"
        case let .unknownRoom(r): "no group for room \(r)"
        case let .commitPending(r): "a commit is already pending in \(r)"
        case let .noKeyPackage(u): "no KeyPackage published for \(u)"
        }
    }
}

/// Limits on media downloads (payloads too large for an event). The homeserver chooses what it
/// answers, so every download is capped while it is read, the whole `/sync` round has a budget,
/// and a URI that keeps failing is given up after a few attempts instead of blocking the sync.
public struct MediaLimits: Sendable {
    /// Largest payload read from one `mxc://` URI. The default, 4 MiB, holds a Welcome or
    /// commit for a group of several thousand members (a 300-member group's is about 100 KiB).
    public var maxBytesPerMedia: Int
    /// Largest total downloaded in one `/sync` round; events beyond it are recorded as
    /// ``EventFailureReason/mediaBudgetExhausted``.
    public var maxBytesPerSync: Int
    /// Retries of one download: bounded, so a URI answering 5xx forever costs a few attempts.
    public var retry: RetryPolicy
    /// Time allowed for one download attempt.
    public var timeout: Duration

    /// 4 MiB per payload, 32 MiB per round, 3 attempts with back-off from 0.5 s to 5 s, 60 s per attempt.
    public init(maxBytesPerMedia: Int = 4 << 20, maxBytesPerSync: Int = 32 << 20,
                retry: RetryPolicy = RetryPolicy(initial: .milliseconds(500), maximum: .seconds(5), maxAttempts: 3),
                timeout: Duration = .seconds(60)) {
        self.maxBytesPerMedia = maxBytesPerMedia
        self.maxBytesPerSync = maxBytesPerSync
        self.retry = retry
        self.timeout = timeout
    }
}

/// Who is adding this device to a room, as far as it can be known when a Welcome arrives: the
/// Matrix user the homeserver names as the to-device sender (a claim), and the member who
/// signed the Welcome's GroupInfo (authenticated by MLS, RFC 9420 §12.4.3.1: its signature is
/// verified against that member's leaf in the validated ratchet tree).
public struct WelcomeOrigin: Sendable, Equatable {
    /// The to-device message's `sender`, as the homeserver claims it.
    public let matrixSender: String
    /// The room the Welcome names; its group ID has been checked to be this room's ID.
    public let roomID: String
    /// The GroupInfo signer's leaf index (RFC 9420 §12.4.3: `GroupInfo.signer`).
    public let signerLeaf: UInt32
    /// The GroupInfo signer's credential from the ratchet tree.
    public let signerCredential: Credential
    /// The GroupInfo's epoch: the epoch this device would join in.
    public let epoch: UInt64

    /// The signer's identity if its credential is a basic one (RFC 9420 §5.3.1).
    public var signerIdentity: [UInt8]? {
        if case let .basic(identity) = signerCredential { return identity }
        return nil
    }
}

/// Decides whether this device accepts being added to a room. Runs after the Welcome has been
/// opened and verified and before the Matrix room is joined; `false` records
/// ``EventFailureReason/welcomeRefused`` and joins nothing.
public typealias WelcomePolicy = @Sendable (WelcomeOrigin) -> Bool

/// Maps a member's credential to the Matrix user ID this client expects that member to send from,
/// or `nil` if it knows none. The default reads a basic credential's identity as a UTF-8 Matrix
/// user ID, which is how ``MatrixMLSClient`` builds its own credential.
public typealias MatrixUserMapping = @Sendable (Credential) -> String?

/// The default ``MatrixUserMapping``: a basic credential whose identity is valid UTF-8 starting
/// with `@` names that Matrix user; anything else names none.
@_spi(Engine) public let defaultMatrixUserMapping: MatrixUserMapping = { credential in
    guard case let .basic(identity) = credential, let text = String(validating: identity, as: UTF8.self), text.hasPrefix("@") else { return nil }
    return text
}
