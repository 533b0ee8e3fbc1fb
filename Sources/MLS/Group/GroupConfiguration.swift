@_spi(Engine) import MLSCrypto

/// Whether a commit is one this member builds or one it received.
public enum TransitionDirection: Sendable, Equatable {
    /// A commit this member is building (``MLSGroup/commit(_:)``).
    case outgoing
    /// A commit received from another member or a joiner (``MLSGroup/stage(_:pending:)``).
    case incoming
}

/// Why the application's ``GroupRules`` refused a proposal or a commit: a stable code for
/// programs and audit logs, and a detail for people.
public struct RuleViolation: Error, Equatable, Sendable, CustomStringConvertible {
    /// A stable, application-extensible reason code.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's name.
        public let rawValue: String
        /// Wraps a code name; applications define their own as static constants.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// A `new_member_proposal` (§12.1.8) while the rules do not accept them.
        public static let newMemberProposalRefused = Code(rawValue: "newMemberProposalRefused")
        /// A proposal from an `external_senders` entry (§12.1.8.1) while the rules do not accept them.
        public static let externalSenderProposalRefused = Code(rawValue: "externalSenderProposalRefused")
        public var description: String { rawValue }
    }

    /// The reason.
    public var code: Code
    /// A human-readable detail (never shown to the peer; for logs).
    public var detail: String

    /// Creates a violation.
    public init(_ code: Code, detail: String = "") {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail.isEmpty ? code.rawValue : "\(code.rawValue): \(detail)" }
}

/// The application's rules for a group, beyond RFC 9420's own (§12.2: "an application may
/// extend the above procedure by additional rules"). They are consulted after the RFC's checks
/// pass and before anything is applied, cached or sent; a violation refuses the input with
/// ``GroupError/rejectedByRules(_:)`` and leaves the group unchanged.
public protocol GroupRules: Sendable {
    /// Whether one proposal from `proposer` is acceptable in `group`: asked when a proposal is
    /// received (before it is cached), for every proposal of a received commit, and for each
    /// cached proposal this member's next commit would include (refused ones are left out).
    /// The proposer is resolved against `group`: a member with its credential and identity, an
    /// external sender, a client asking to join, or (for the proposals of an external commit)
    /// the joiner at the leaf it takes.
    func check(proposal: Proposal, from proposer: MessageAuthor, in group: MLSGroup) throws(RuleViolation)

    /// Whether a whole commit is acceptable: its full proposal list with proposers, who is
    /// added, removed and updated, and the committer. `group` is the state before the commit,
    /// whose ``MLSGroup/roster`` is the membership the commit changes.
    func check(commit: CommitDescription, direction: TransitionDirection, in group: MLSGroup) throws(RuleViolation)
}

extension GroupRules {
    /// Accepts every commit whose proposals each passed ``check(proposal:from:in:)``.
    public func check(commit: CommitDescription, direction: TransitionDirection, in group: MLSGroup) throws(RuleViolation) {}
}

/// The default rules: proposals from members are accepted; proposals from outside the group are
/// refused unless the application opts in.
///
/// A `new_member_proposal` can be sent by anyone who knows the group ID and epoch, and an
/// accepted proposal is cached and then committed by reference by the next ordinary commit
/// (§12.4), so accepting it by default would let an identity nobody approved become a member.
/// Proposals from the group's `external_senders` (§12.1.8.1) are refused too until the
/// application says which of them it expects.
public struct DefaultGroupRules: GroupRules {
    /// Whether `new_member_proposal` Adds (§12.1.8) are accepted.
    public var acceptsNewMemberProposals: Bool
    /// Whether proposals from the `external_senders` extension's senders are accepted.
    public var acceptsExternalSenderProposals: Bool

    /// Creates the rules; both kinds of proposals from outside the group are refused by default.
    public init(acceptsNewMemberProposals: Bool = false, acceptsExternalSenderProposals: Bool = false) {
        self.acceptsNewMemberProposals = acceptsNewMemberProposals
        self.acceptsExternalSenderProposals = acceptsExternalSenderProposals
    }

    /// Accepts members' proposals, and outsiders' only where opted in.
    public func check(proposal: Proposal, from proposer: MessageAuthor, in group: MLSGroup) throws(RuleViolation) {
        switch proposer {
        case .newMemberProposal: guard acceptsNewMemberProposals else { throw RuleViolation(.newMemberProposalRefused) }
        case .externalSender: guard acceptsExternalSenderProposals else { throw RuleViolation(.externalSenderProposalRefused) }
        case .member, .newMemberCommit: break
        }
    }
}

/// Supplies pre-shared keys (RFC 9420 §8.4): external PSKs by ID, and resumption PSKs of other
/// groups (a group's own resumption PSKs are kept by the group itself). MLSStore's `GroupStore`
/// is one; the default configuration holds none.
public protocol PSKStore: Sendable {
    /// The external PSK with this ID, if known.
    func externalPSK(id: [UInt8]) -> SecretBytes?
    /// The resumption PSK of another group's epoch, if known.
    func resumptionPSK(groupID: [UInt8], epoch: UInt64) -> SecretBytes?
}

/// A fixed set of PSKs held in memory, for the tests, vectors and fuzzers. Applications keep
/// their PSKs where they keep their groups (MLSStore's `GroupStore` is a ``PSKStore``) or
/// implement the two requirements over their own storage.
@_spi(Engine) public struct InMemoryPSKStore: PSKStore {
    /// External PSKs by ID.
    public var external: [[UInt8]: SecretBytes]
    /// Resumption PSKs by group ID and epoch.
    public var resumption: [[UInt8]: [UInt64: SecretBytes]]

    /// Creates a store.
    public init(external: [[UInt8]: SecretBytes] = [:], resumption: [[UInt8]: [UInt64: SecretBytes]] = [:]) {
        self.external = external
        self.resumption = resumption
    }

    /// The external PSK stored under `id` (§8.4).
    public func externalPSK(id: [UInt8]) -> SecretBytes? { external[id] }
    /// The resumption PSK stored for `groupID` and `epoch` (§8.6).
    public func resumptionPSK(groupID: [UInt8], epoch: UInt64) -> SecretBytes? { resumption[groupID]?[epoch] }
}

/// Bounds on what one received input may make a member build or check (Docs/Security.md). Each
/// is checked before anything is allocated or verified for it, so refusing an input costs at
/// most linear time and memory in its size. The defaults are sized for public-administration
/// mailboxes, from a citizen's few devices up to an authority's whole district in one group.
public struct MLSLimits: Sendable, Equatable {
    /// Largest MLSMessage accepted by ``MLSMessage/init(serialized:limits:)``, in bytes: a
    /// Welcome carrying the tree of tens of thousands of members with X.509 chains fits.
    public var maxMessageBytes = 32 << 20
    /// Most leaves a ratchet tree may have, received or grown by Adds (the node width is
    /// 2 · leaves − 1).
    public var maxLeaves: UInt32 = 1 << 16
    /// Most members (non-blank leaves) a group may have.
    public var maxMembers = 50_000
    /// Most proposals in one commit, by value or by reference.
    public var maxProposalsPerCommit = 1 << 16
    /// Most extensions in one extension list (a LeafNode's, a GroupContext's, a GroupInfo's).
    public var maxExtensions = 64
    /// Most entries in one list of a LeafNode's Capabilities, and in `required_capabilities`.
    public var maxCapabilityEntries = 256
    /// Most certificates in one X.509 credential's chain.
    public var maxCertificates = 16
    /// Most pre-shared keys one commit or Welcome may name: each is looked up in the
    /// application's PSK store (a resumption PSK may mean loading another group's state).
    public var maxPSKs = 32

    /// The defaults.
    public init() {}
}

/// Which of ``MLSLimits`` an input exceeded.
public enum MLSLimit: String, Sendable, Equatable, CustomStringConvertible {
    case messageBytes, leaves, members, proposalsPerCommit, extensions, capabilityEntries, certificates, psks
    public var description: String { rawValue }
}

/// The application's decisions for one group, with safe defaults.
public struct GroupConfiguration: Sendable {
    /// Whether this member sends its proposals and commits as PrivateMessage (RFC 9420 §6.3)
    /// rather than PublicMessage (§6.2). Both are accepted on input. A PublicMessage lets the
    /// delivery service follow the group's membership; a PrivateMessage hides it. An application
    /// decision (§6), so a plain switch: off by default.
    public var encryptsHandshakes = false
    /// How far ahead of the last seen generation a message may be (§9.2).
    public var maxForwardDistance: UInt32 = 1000
    /// How many past epochs keep their secrets for late application messages (§9.2).
    ///
    /// A late message was sent by a member of *that* epoch, who may since have been removed
    /// and could still write in the old epoch with the keys it kept. Compare
    /// ``ProcessedMessage/epoch`` with the group's epoch and the sender with its current members
    /// where that matters, or set this to 0 to accept only current-epoch messages.
    public var pastEpochsRetained = 2
    /// PrivateMessage content is padded to a multiple of this many bytes (§6.3.1); 0 = none.
    public var paddingBlock = 32
    /// Which credentials are valid (§5.3.1).
    public var identity: any IdentityProvider = BasicIdentityProvider()
    /// The application's rules for proposals and whole commits: by default members' proposals
    /// only (``DefaultGroupRules``).
    public var rules: any GroupRules = DefaultGroupRules()
    /// How many received proposals an epoch may cache (§12.1) before further ones are refused
    /// with ``GroupError/proposalCacheFull``: every cached proposal is committed, persisted and
    /// re-validated, so an unbounded cache is unbounded work for whoever can send proposals.
    public var maxCachedProposals = 256
    /// How many bytes of proposals an epoch may cache. The cache is persisted with every
    /// transition and re-encoded as one vector, which RFC 9420's varints cap at 2^30 − 1 bytes.
    public var maxCachedProposalBytes = 8 << 20
    /// PSKs available to this member.
    public var psks: any PSKStore = InMemoryPSKStore()
    /// Whether Welcomes carry the ratchet tree in the `ratchet_tree` extension (§12.4.3.3).
    public var ratchetTreeInWelcome = true
    /// Whether GroupInfos carry `external_pub`, enabling external joins (§12.4.3.2).
    public var externalPubInGroupInfo = true
    /// Leaves of received KeyPackages must be valid at this time (Unix seconds) when set (§7.3).
    public var currentTime: @Sendable () -> UInt64? = { UInt64(UnixTime.nowSeconds) }
    /// How many resumption PSKs of past epochs the group keeps (§8.6).
    public var resumptionPSKsRetained = 8
    /// Bounds on received inputs, checked before they cost anything.
    public var limits = MLSLimits()

    /// The defaults.
    public init() {}

    /// Runs the rules' commit check, mapping a violation to the group's error.
    func checkRules(commit: CommitDescription, direction: TransitionDirection, in group: MLSGroup) throws(GroupError) {
        do { try rules.check(commit: commit, direction: direction, in: group) } catch { throw .rejectedByRules(error) }
    }
}

/// Wall-clock time for lifetimes (RFC 9420 §7.2), read without Foundation in the protocol core.
@_spi(Engine) public enum UnixTime {
    /// Seconds since 1970, read from the system clock without Foundation in the protocol core.
    /// The current Unix time.
    public static var nowSeconds: Int {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ts.tv_sec
    }
}
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
