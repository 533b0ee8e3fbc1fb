import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// Builds passive-client scenarios with MLSKit itself: a group of active members (each a full
/// ``MLSGroup``), a passive client added by a commit whose Welcome it will join, and then epochs
/// of proposals and a commit. Every active member processes every message, so the recorded
/// epoch authenticators are the ones all of them agree on.
struct PassiveClientScenario {
    typealias Case = PassiveClientVectors.Case
    typealias Epoch = PassiveClientVectors.Epoch

    /// An active member and the epoch from which it holds the group's resumption PSKs.
    struct Member {
        var group: MLSGroup
        var joined: UInt64
    }

    /// What the passive client gets: its key material and how it joins.
    struct Passive {
        var bundle: KeyPackageBundle
        var leaf: LeafIndex
        var joined: UInt64
        var welcome: [UInt8]
        var ratchetTree: [UInt8]?
        var initialEpochAuthenticator: [UInt8]
    }

    let suite: CipherSuite
    /// Every member's configuration: the external PSKs are known to all.
    let configuration: GroupConfiguration
    let externalPSKs: [PassiveClientVectors.ExternalPSK]
    var members: [Member] = []
    var passive: Passive?
    var epochs: [Epoch] = []
    /// Proposals of the current epoch, as the passive client will receive them.
    var proposals: [[UInt8]] = []
    /// Bundles of the clients an Add of the current epoch will bring in by Welcome.
    var joiners: [KeyPackageBundle] = []
    var clients = 0

    /// A group of `memberCount` members, built by a creator and one commit adding the others.
    init(suite: CipherSuite, memberCount: Int, externalPSKCount: Int) throws {
        self.suite = suite
        externalPSKs = (0..<externalPSKCount).map { _ in
            PassiveClientVectors.ExternalPSK(psk_id: HexBytes(SystemRandom.bytes(12)), psk: HexBytes(SystemRandom.bytes(suite.kdfLength)))
        }
        var config = GroupConfiguration()
        config.psks = InMemoryPSKStore(external: Dictionary(uniqueKeysWithValues: externalPSKs.map { ($0.psk_id.bytes, SecretBytes($0.psk.bytes)) }))
        configuration = config
        let creator = try newBundle()
        members = [Member(group: try MLSGroup.create(suite: suite, groupID: SystemRandom.bytes(16), creator: creator, configuration: config), joined: 0)]
        if memberCount > 1 {
            let adds = try (1..<memberCount).map { _ in Proposal.add(try newJoiner().keyPackage) }
            try commit(0, CommitOptions(proposals: adds))
        }
    }

    // MARK: Clients

    /// A fresh KeyPackage with its private keys, under a fresh basic credential, or under
    /// `credential` for a member that comes back (§5.3.1: its identity must not change).
    mutating func newBundle(credential: Credential? = nil) throws -> KeyPackageBundle {
        clients += 1
        let signature = suite.signature.generateKeyPair()
        return try KeyPackageBundle.generate(suite: suite, credential: credential ?? .basic(identity: Array("client-\(clients)".utf8)),
                                             signer: try InMemorySigner(scheme: suite.signature, privateKey: signature.privateKey))
    }

    /// A fresh client that joins by the Welcome of the next commit.
    mutating func newJoiner() throws -> KeyPackageBundle {
        let b = try newBundle()
        joiners.append(b)
        return b
    }

    func leaf(_ i: Int) -> LeafIndex { members[i].group.myLeaf }

    // MARK: Operations

    /// Member `i` sends a proposal; every other member receives it, and so will the passive client.
    mutating func propose(_ i: Int, _ framing: WireFormat = .publicMessage, _ make: (inout MLSGroup) throws -> MLSMessage) throws {
        members[i].group.configuration.encryptsHandshakes = framing == .privateMessage
        let message = try make(&members[i].group)
        for j in members.indices where j != i { _ = try members[j].group.process(message) }
        proposals.append(message.tlsSerialized)
    }

    /// Member `i` commits; the others process the commit, the added clients join by its Welcome
    /// (taking the tree out of band when the committer leaves it out), and the epoch is recorded.
    @discardableResult
    mutating func commit(_ i: Int, _ options: CommitOptions = CommitOptions(), framing: WireFormat = .publicMessage) throws -> CommitOutput {
        members[i].group.configuration.encryptsHandshakes = framing == .privateMessage
        let out = try members[i].group.commit(options)
        try members[i].group.merge(out.pending)
        let committer = members[i].group
        var next: [Member] = []
        for j in members.indices {
            if j == i { next.append(members[j]); continue }
            let r = try members[j].group.process(out.commit)
            if r.content.commit?.removedSelf == true { continue }
            next.append(members[j])
        }
        members = next
        if let welcome = out.welcome {
            let tree = committer.configuration.ratchetTreeInWelcome ? nil : committer.tree.exported
            for b in joiners {
                let g = try MLSGroup.join(welcome: welcome, keyPackage: b, ratchetTree: tree, configuration: configuration)
                members.append(Member(group: g, joined: g.epoch))
            }
        }
        joiners = []
        try finishEpoch(commit: out.commit, authenticator: committer.epochAuthenticator)
        return out
    }

    /// A new client joins by an external commit from member `i`'s GroupInfo, optionally
    /// replacing the leaf of member `removing` (resynchronisation).
    mutating func externalJoin(from i: Int, removing: Int? = nil) throws {
        let info = try members[i].group.groupInfo(withTree: true)
        // A resynchronising client is the removed member coming back, under its own identity.
        let b = try newBundle(credential: removing.flatMap { members[$0].group.myLeafNode?.credential })
        let (group, commit) = try MLSGroup.externalJoin(groupInfo: info, keyPackage: b, removing: removing.map(leaf), configuration: configuration)
        var next: [Member] = []
        for j in members.indices {
            let r = try members[j].group.process(commit)
            if r.content.commit?.removedSelf == true { continue }
            next.append(members[j])
        }
        members = next + [Member(group: group, joined: group.epoch)]
        try finishEpoch(commit: commit, authenticator: group.epochAuthenticator)
    }

    /// Checks that every member agrees on the new epoch and records it once the passive client is in.
    mutating func finishEpoch(commit: MLSMessage, authenticator: [UInt8]) throws {
        for m in members where m.group.epochAuthenticator != authenticator {
            throw VectorCheckFailure("generator: member at \(m.group.myLeaf) disagrees on the epoch authenticator of epoch \(m.group.epoch)")
        }
        if passive != nil {
            epochs.append(Epoch(proposals: proposals.map(HexBytes.init), commit: HexBytes(commit.tlsSerialized), epoch_authenticator: HexBytes(authenticator)))
        }
        proposals = []
    }

    /// Member `committer` adds the passive client (with `alsoAdd` other new clients, and an
    /// external PSK when asked), by a Welcome with or without the ratchet tree.
    mutating func addPassive(committer i: Int = 0, treeInWelcome: Bool = true, externalPSK: Bool = false, alsoAdd: Int = 0) throws {
        let bundle = try newBundle()
        var byValue: [Proposal] = [.add(bundle.keyPackage)]
        for _ in 0..<alsoAdd { byValue.append(.add(try newJoiner().keyPackage)) }
        if externalPSK, let id = externalPSKs.randomElement() {
            byValue.append(.preSharedKey(PreSharedKeyID(psk: .external(pskID: id.psk_id.bytes), pskNonce: SystemRandom.bytes(suite.kdfLength))))
        }
        byValue.shuffle()
        members[i].group.configuration.ratchetTreeInWelcome = treeInWelcome
        let out = try commit(i, CommitOptions(proposals: byValue))
        let committer = members[i].group
        members[i].group.configuration.ratchetTreeInWelcome = true
        guard let welcome = out.welcome, let leaf = committer.tree.leafIndex(signatureKey: bundle.keyPackage.leafNode.signatureKey) else {
            throw VectorCheckFailure("generator: the passive client was not added")
        }
        passive = Passive(bundle: bundle, leaf: leaf, joined: committer.epoch, welcome: welcome.tlsSerialized,
                          ratchetTree: treeInWelcome ? nil : committer.tree.exported.tlsSerialized,
                          initialEpochAuthenticator: committer.epochAuthenticator)
    }

    /// The earliest epoch whose resumption PSK every member and the passive client still hold.
    var oldestSharedResumptionEpoch: UInt64 {
        let current = members[0].group.epoch
        let retained = UInt64(configuration.resumptionPSKsRetained)
        let floor = current >= retained ? current - retained + 1 : 0
        return max(([passive?.joined ?? 0] + members.map(\.joined)).max() ?? 0, floor)
    }

    /// The finished vector case.
    func makeCase() throws -> Case {
        guard let p = passive else { throw VectorCheckFailure("generator: no passive client") }
        return Case(cipher_suite: suite.id, external_psks: externalPSKs,
                    key_package: HexBytes(MLSMessage(body: .keyPackage(p.bundle.keyPackage)).tlsSerialized),
                    signature_priv: HexBytes((p.bundle.signer as? InMemorySigner)?.privateKey.unsafeCopiedBytes() ?? []),
                    encryption_priv: HexBytes(p.bundle.encryptionPrivateKey.unsafeCopiedBytes()),
                    init_priv: HexBytes(p.bundle.initPrivateKey.unsafeCopiedBytes()),
                    welcome: HexBytes(p.welcome), ratchet_tree: p.ratchetTree.map(HexBytes.init),
                    initial_epoch_authenticator: HexBytes(p.initialEpochAuthenticator), epochs: epochs)
    }

    // MARK: Proposal helpers

    func externalPSKProposal() -> Proposal {
        let id = externalPSKs.randomElement()!.psk_id.bytes
        return .preSharedKey(PreSharedKeyID(psk: .external(pskID: id), pskNonce: SystemRandom.bytes(suite.kdfLength)))
    }

    /// GroupContext extensions naming a fresh external sender (and, if asked, empty required capabilities).
    func groupContextExtensions(requiredCapabilities: Bool) -> [Extension] {
        let signer = suite.signature.generateKeyPair()
        var list = [Extension(extensionType: .externalSenders, extensionData: ExternalSender.encodeList([
            ExternalSender(signatureKey: signer.publicKey, credential: .basic(identity: Array("external sender".utf8))),
        ]))]
        if requiredCapabilities {
            list.insert(Extension(extensionType: .requiredCapabilities,
                                  extensionData: RequiredCapabilities(extensionTypes: [], proposalTypes: [], credentialTypes: [.basic]).tlsSerialized), at: 0)
        }
        return list
    }
}

// MARK: - The three files

extension PassiveClientVectors {
    static let welcomeGenerator: @Sendable () throws -> Data = {
        var cases: [Case] = []
        for suite in CipherSuite.all {
            for treeInWelcome in [true, false] {
                for psk in [false, true] {
                    // A small group adding only the passive client, and a larger one adding it
                    // together with another client from a member other than the creator.
                    var small = try PassiveClientScenario(suite: suite, memberCount: 2, externalPSKCount: psk ? 1 : 0)
                    try small.addPassive(treeInWelcome: treeInWelcome, externalPSK: psk)
                    cases.append(try small.makeCase())
                    var large = try PassiveClientScenario(suite: suite, memberCount: 4, externalPSKCount: psk ? 2 : 0)
                    try large.addPassive(committer: 2, treeInWelcome: treeInWelcome, externalPSK: psk, alsoAdd: 1)
                    cases.append(try large.makeCase())
                }
            }
        }
        return try OfficialVectors.encode(cases)
    }

    /// One handling-commit scenario: two epochs of the same kind of commit, the first framed as
    /// PublicMessage, the second as PrivateMessage (external commits are always PublicMessage).
    typealias Step = @Sendable (inout PassiveClientScenario, WireFormat) throws -> Void

    static let handlingCommitSteps: [(name: String, step: Step)] = [
        ("add by reference", { s, f in
            let b = try s.newJoiner()
            try s.propose(1, f) { try $0.proposeAdd(b.keyPackage) }
            try s.commit(0, framing: f)
        }),
        ("add by value without path", { s, f in
            let b = try s.newJoiner()
            try s.commit(1, CommitOptions(proposals: [.add(b.keyPackage)], alwaysIncludePath: false), framing: f)
        }),
        ("remove by reference", { s, f in
            let target = s.leaf(s.members.count - 1)
            try s.propose(1, f) { try $0.proposeRemove(target) }
            try s.commit(0, framing: f)
        }),
        ("remove by value", { s, f in
            try s.commit(1, CommitOptions(proposals: [.remove(s.leaf(s.members.count - 1))]), framing: f)
        }),
        ("update by reference", { s, f in
            try s.propose(1, f) { try $0.proposeUpdate() }
            try s.propose(2, f) { try $0.proposeUpdate() }
            try s.commit(0, framing: f)
        }),
        ("external PSK", { s, f in
            let id = s.externalPSKs[0].psk_id.bytes
            try s.propose(2, f) { try $0.proposeExternalPSK(id: id) }
            // Only PSKs: no path is required; send one only in the PublicMessage epoch.
            try s.commit(0, CommitOptions(proposals: [s.externalPSKProposal()], alwaysIncludePath: f == .publicMessage), framing: f)
        }),
        ("resumption PSK", { s, f in
            let epoch = s.members[0].group.epoch
            try s.propose(1, f) { try $0.proposeResumptionPSK(epoch: epoch) }
            try s.commit(2, CommitOptions(alwaysIncludePath: f == .publicMessage), framing: f)
        }),
        ("GroupContextExtensions", { s, f in
            let extensions = s.groupContextExtensions(requiredCapabilities: f == .privateMessage)
            if f == .publicMessage {
                try s.propose(1, f) { try $0.proposeGroupContextExtensions(extensions) }
                try s.commit(0, framing: f)
            } else {
                try s.commit(2, CommitOptions(proposals: [.groupContextExtensions(extensions)]), framing: f)
            }
        }),
        ("external join", { s, f in
            if f == .publicMessage {
                try s.externalJoin(from: 1)
            } else {
                // The client that joined externally rejoins, replacing its old leaf.
                try s.externalJoin(from: 0, removing: s.members.count - 1)
            }
        }),
        ("empty commit", { s, f in
            try s.commit(f == .publicMessage ? 0 : 3, CommitOptions(alwaysIncludePath: false), framing: f)
        }),
        ("mixed, committed by a newcomer", { s, f in
            let b = try s.newJoiner()
            let last = s.members.count - 1
            try s.propose(1, f) { try $0.proposeAdd(b.keyPackage) }
            try s.propose(2, f) { try $0.proposeUpdate() }
            let target = s.leaf(1)
            try s.propose(last, f) { try $0.proposeRemove(target) }
            let id = s.externalPSKs[0].psk_id.bytes
            try s.propose(0, f) { try $0.proposeExternalPSK(id: id) }
            let c = try s.newJoiner()
            try s.commit(last, CommitOptions(proposals: [.add(c.keyPackage)]), framing: f)
        }),
    ]

    static let handlingCommitGenerator: @Sendable () throws -> Data = {
        var cases: [Case] = []
        for suite in CipherSuite.all {
            // The group is a value: each scenario continues its own copy of one four-member
            // group, so the setup is done once per suite.
            let base = try PassiveClientScenario(suite: suite, memberCount: 4, externalPSKCount: 1)
            for (name, step) in handlingCommitSteps {
                do {
                    var s = base
                    try s.addPassive(committer: 0)
                    try step(&s, .publicMessage)
                    try step(&s, .privateMessage)
                    cases.append(try s.makeCase())
                } catch {
                    throw VectorCheckFailure("generating passive-client-handling-commit, suite \(suite.id), \(name): \(error)")
                }
            }
        }
        return try OfficialVectors.encode(cases)
    }

    /// Epochs of the random scenario.
    static let randomEpochs = 80

    static let randomGenerator: @Sendable () throws -> Data = {
        guard let suite = CipherSuite(id: 1) else { throw VectorCheckFailure("suite 1 unavailable") }
        var s = try PassiveClientScenario(suite: suite, memberCount: 4, externalPSKCount: 3)
        try s.addPassive(committer: Int.random(in: 0..<4), treeInWelcome: Bool.random(), externalPSK: true, alsoAdd: 1)
        for n in 0..<randomEpochs {
            do { try randomEpoch(&s) } catch { throw VectorCheckFailure("generating passive-client-random, epoch \(n): \(error)") }
        }
        return try OfficialVectors.encode([try s.makeCase()])
    }

    /// One random epoch: an external join, or random proposals from random members (in random
    /// framing) and a commit by another random member, with random proposals by value.
    static func randomEpoch(_ s: inout PassiveClientScenario) throws {
        let framing = { Bool.random() ? WireFormat.publicMessage : .privateMessage }
        guard let passiveLeaf = s.passive?.leaf else { throw VectorCheckFailure("generator: no passive client") }
        if Int.random(in: 0..<10) == 0 {
            let from = Int.random(in: s.members.indices)
            let resync = s.members.count > 3 && Bool.random() ? s.members.indices.filter { $0 != from }.randomElement() : nil
            try s.externalJoin(from: from, removing: resync)
            return
        }
        let c = Int.random(in: s.members.indices)
        var touched: Set<LeafIndex> = [s.leaf(c), passiveLeaf]
        var size = s.members.count
        var resumption = false
        var adds = 0
        // Whether one more member may go (the group keeps at least three active members).
        func removable(excluding p: Int?) -> [LeafIndex] {
            guard size > 3 else { return [] }
            return s.members.indices.filter { $0 != p }.map { s.leaf($0) }.filter { !touched.contains($0) }
        }
        for _ in 0..<Int.random(in: 0...4) {
            let p = Int.random(in: s.members.indices)
            switch Int.random(in: 0..<6) {
            case 0 where size < 10 && !resumption:
                // Joiners cannot hold this group's resumption PSKs: no Adds with them.
                let b = try s.newJoiner()
                try s.propose(p, framing()) { try $0.proposeAdd(b.keyPackage) }
                size += 1; adds += 1
            case 1:
                if let t = removable(excluding: p).randomElement() {
                    touched.insert(t)
                    try s.propose(p, framing()) { try $0.proposeRemove(t) }
                    size -= 1
                }
            case 2...3 where !touched.contains(s.leaf(p)):
                touched.insert(s.leaf(p))
                try s.propose(p, framing()) { try $0.proposeUpdate() }
            case 4:
                let id = s.externalPSKs.randomElement()!.psk_id.bytes
                try s.propose(p, framing()) { try $0.proposeExternalPSK(id: id) }
            case 5 where adds == 0 && !resumption:
                let epoch = UInt64.random(in: s.oldestSharedResumptionEpoch...s.members[0].group.epoch)
                resumption = true
                try s.propose(p, framing()) { try $0.proposeResumptionPSK(epoch: epoch) }
            default:
                break
            }
        }
        var byValue: [Proposal] = []
        if Int.random(in: 0..<4) == 0, size < 10, !resumption {
            byValue.append(.add(try s.newJoiner().keyPackage))
        }
        if Int.random(in: 0..<5) == 0, let t = removable(excluding: c).randomElement() {
            touched.insert(t)
            byValue.append(.remove(t))
        }
        if Int.random(in: 0..<6) == 0 { byValue.append(s.externalPSKProposal()) }
        if Int.random(in: 0..<10) == 0 { byValue.append(.groupContextExtensions(s.groupContextExtensions(requiredCapabilities: Bool.random()))) }
        try s.commit(c, CommitOptions(proposals: byValue, alwaysIncludePath: Int.random(in: 0..<3) != 0), framing: framing())
    }
}
