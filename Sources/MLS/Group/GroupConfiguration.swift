import MLSCrypto

/// Decides which proposals a member accepts (an application decision, RFC 9420 §12.2: "An
/// application may extend the above procedure by additional rules").
public protocol ProposalPolicy: Sendable {
    /// Whether `proposal` from `sender` may be applied in `group`. Called for received proposals
    /// and for every proposal of a commit, before it is applied.
    func accepts(_ proposal: Proposal, from sender: Sender, in group: MLSGroup) -> Bool
}

/// The default policy: proposals from members are accepted; proposals from outside the group
/// are refused unless the application opts in.
///
/// A `new_member_proposal` can be sent by anyone who knows the group ID and epoch, and an
/// accepted proposal is cached and then committed by reference by the next ordinary commit
/// (§12.4), so accepting it by default would let an identity nobody approved become a member.
/// Proposals from the group's `external_senders` (§12.1.8.1) are refused too until the
/// application says which of them it expects.
public struct DefaultProposalPolicy: ProposalPolicy {
    /// Whether `new_member_proposal` Adds (§12.1.8) are accepted.
    public var acceptsNewMemberProposals: Bool
    /// Whether proposals from the `external_senders` extension's senders are accepted.
    public var acceptsExternalSenderProposals: Bool

    /// Creates the policy; both kinds of proposals from outside the group are refused by default.
    public init(acceptsNewMemberProposals: Bool = false, acceptsExternalSenderProposals: Bool = false) {
        self.acceptsNewMemberProposals = acceptsNewMemberProposals
        self.acceptsExternalSenderProposals = acceptsExternalSenderProposals
    }

    /// Accepts members' proposals, and outsiders' only where opted in.
    public func accepts(_ proposal: Proposal, from sender: Sender, in group: MLSGroup) -> Bool {
        switch sender {
        case .newMemberProposal: acceptsNewMemberProposals
        case .external: acceptsExternalSenderProposals
        case .member, .newMemberCommit: true
        }
    }
}

/// A policy that accepts every proposal RFC 9420 allows, from members and outsiders alike. Use it
/// only where the delivery service already admits nothing the application has not approved.
public struct AcceptAllProposals: ProposalPolicy {
    /// Creates the policy.
    public init() {}
    /// Accepts every proposal; the RFC's own rules are enforced by the group regardless.
    public func accepts(_ proposal: Proposal, from sender: Sender, in group: MLSGroup) -> Bool { true }
}

/// Supplies pre-shared keys (RFC 9420 §8.4): external PSKs by ID, and resumption PSKs of other
/// groups (a group's own resumption PSKs are kept by the group itself).
public protocol PSKStore: Sendable {
    /// The external PSK with this ID, if known.
    func externalPSK(id: [UInt8]) -> SecretBytes?
    /// The resumption PSK of another group's epoch, if known.
    func resumptionPSK(groupID: [UInt8], epoch: UInt64) -> SecretBytes?
}

/// A fixed set of PSKs held in memory.
public struct InMemoryPSKStore: PSKStore {
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

/// How a member frames its handshake messages (RFC 9420 §6): an application decision.
public enum HandshakeFraming: Sendable, Equatable {
    /// Proposals and commits as PublicMessage (visible to the delivery service).
    case publicMessage
    /// Proposals and commits as PrivateMessage.
    case privateMessage
}

/// Bounds on what one received input may make a member build or check (Docs/Security.md). Each
/// is checked before anything is allocated or verified for it, so refusing an input costs at
/// most linear time and memory in its size. The defaults are sized for public-administration
/// mailboxes, from a citizen's few devices up to an authority's whole district in one group.
public struct MLSLimits: Sendable, Equatable {
    /// Largest MLSMessage accepted by ``MLSMessage/init(tlsSerialized:limits:)``, in bytes: a
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
    /// How this member sends proposals and commits. Both are accepted on input.
    public var handshakeFraming: HandshakeFraming = .publicMessage
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
    public var credentials: any CredentialValidator = BasicCredentialValidator()
    /// Which proposals are accepted: by default members' only (``DefaultProposalPolicy``).
    public var proposals: any ProposalPolicy = DefaultProposalPolicy()
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
}

/// Wall-clock time for lifetimes (RFC 9420 §7.2), read without Foundation in the protocol core.
public enum UnixTime {
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
