import FuzzSupport
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

// MLSGroup.process on a live group, past authentication. The fixed group (epoch 5, 4 leaves:
// C=0, R=1 the receiver, M=2, U=3, an external sender E in external_senders) is created from a
// Welcome this target seals itself, so it knows the epoch's joiner secret and therefore every
// epoch secret: init, membership, confirmation, encryption and sender-data secrets. With those,
// the generator frames anything as a member would: it builds proposals and commits (UpdatePaths
// from the public RatchetTree.createUpdatePath), mutates them, and then re-signs, re-tags
// (membership tag), recomputes the confirmed transcript hash, runs the next epoch's key
// schedule for the confirmation tag, and encrypts PrivateMessages under the secret tree.
// The input is a sequence of 1–4 messages fed to R (library-made application messages and
// commits, raw byte flips, forged app messages/proposals/commits from C, M, a forged leaf
// index, the external sender or a new member). Oracles:
//   - a refused message leaves R's epoch, epoch authenticator, members and pending proposals as they were;
//   - an accepted commit gives R exactly the epoch authenticator the generator derived;
//   - after everything, R still decrypts a fresh message from U (or, if R moved on, its
//     state round-trips through a snapshot).
struct Fixture: @unchecked Sendable {
    let ids: [Identity]
    let external: Identity
    let outsiders: [Identity]
    let groups: [MLSGroup]
    let context: GroupContext
    let epoch: KeyScheduleEpoch
    let interim: [UInt8]
    let keyring: Keyring
}

let suite = fuzzSuite

func makeFixture() -> Fixture {
    let ids = [0x11, 0x22, 0x33, 0x44].map { Identity(seed: UInt8($0)) }
    let external = Identity(seed: 0x55)
    let outsiders = [0x61, 0x62, 0x63, 0x64].map { Identity(seed: UInt8($0)) }
    let nodes: [Node?] = [.leaf(ids[0].keyPackage.leafNode), nil, .leaf(ids[1].keyPackage.leafNode), nil,
                          .leaf(ids[2].keyPackage.leafNode), nil, .leaf(ids[3].keyPackage.leafNode)]
    var tree = try! RatchetTree(suite: suite, nodes: RatchetTreeNodes(nodes: nodes))
    var w = TLSWriter()
    w.writeVector([ExternalSender(signatureKey: external.signaturePublicKey, credential: external.credential)])
    let context = GroupContext(cipherSuite: suite.id, groupID: Array("fuzz-process".utf8), epoch: 5, treeHash: tree.treeHash(),
                               confirmedTranscriptHash: suite.digest([1]), extensions: [Extension(extensionType: .externalSenders, extensionData: w.bytes)])
    let joiner = SecretBytes([UInt8](repeating: 0x33, count: suite.kdfLength))
    let epoch = try! KeyScheduleEpoch.derive(suite: suite, joinerSecret: joiner, pskSecret: nil, groupContext: context.tlsSerialized)
    let info = try! WelcomeCrypto.signedGroupInfo(
        suite: suite, groupContext: context,
        extensions: [Extension(extensionType: .ratchetTree, extensionData: RatchetTreeNodes(nodes: nodes).tlsSerialized)],
        epoch: epoch, signerLeaf: 0, signer: ids[0].signer)
    let welcome = try! WelcomeCrypto.makeWelcome(
        suite: suite, groupInfo: info, welcomeSecret: epoch.welcomeSecret,
        recipients: ids.map { ($0.keyPackage, GroupSecrets(joinerSecret: joiner.unsafeCopiedBytes(), pathSecret: nil, psks: [])) })
    let groups = ids.map { id in
        do {
            return try MLSGroup.join(welcome: MLSMessage(body: .welcome(welcome)), keyPackage: id.bundle, configuration: fuzzConfiguration())
        } catch {
            fatalError("fixture: member \(id.seed) cannot join the forged Welcome: \(error)")
        }
    }
    guard groups[1].epochAuthenticator == epoch.epochAuthenticator.unsafeCopiedBytes() else { fatalError("fixture: epoch secrets differ") }
    return Fixture(ids: ids, external: external, outsiders: outsiders, groups: groups, context: context, epoch: epoch,
                   interim: TranscriptHash.interim(suite: suite, confirmed: context.confirmedTranscriptHash, confirmationTag: info.confirmationTag),
                   keyring: Keyring(ids + [external] + outsiders))
}

let fx: Fixture = {
    let fx = makeFixture()
    // The generator must reach past every check: an unmutated forged commit is accepted.
    var inp = FuzzInput([])
    var r = fx.groups[1]
    guard let (message, expected) = buildCommit(&inp, fx: fx, refs: []) else { fatalError("fixture: no commit") }
    do { _ = try r.process(message) } catch { fatalError("fixture: R refuses the unmutated forged commit: \(error)") }
    guard r.epochAuthenticator == expected else { fatalError("fixture: forged commit gives another epoch") }
    return fx
}()

/// A member sender: C or M, or a forged leaf index signed with C's key.
func memberSender(_ inp: inout FuzzInput) -> (leaf: UInt32, key: SecretBytes) {
    switch inp.int(5) {
    case 1: (2, fx.ids[2].signaturePrivateKey)
    case 2: (inp.interestingU32(keep: 0, near: 4), fx.ids[0].signaturePrivateKey)
    case 3: (1, fx.ids[0].signaturePrivateKey)  // R's own index with a foreign key
    default: (0, fx.ids[0].signaturePrivateKey)
    }
}

func keyPackage(_ inp: inout FuzzInput) -> KeyPackage {
    let id = fx.outsiders[inp.int(fx.outsiders.count)]
    var kp = id.keyPackage
    guard inp.bool() else { return kp }
    switch inp.int(6) {
    case 0: Mutate.leaf(&kp.leafNode, &inp, keyring: fx.keyring, suite: suite, groupID: fx.context.groupID, leafIndex: 4, otherKeys: [fx.ids[0].keyPackage.leafNode.encryptionKey])
    case 1: kp.initKey = inp.bool() ? kp.leafNode.encryptionKey : inp.bytes(max: 40)
    case 2: kp.cipherSuite = inp.pick(Mutate.interestingSuites) ?? 1
    case 3: kp.version = ProtocolVersion(inp.u16())
    case 4: Mutate.extensions(&kp.extensions, &inp, keyring: fx.keyring, suite: suite)
    default: kp = fx.ids[inp.int(4)].keyPackage  // an existing member's KeyPackage again
    }
    if !inp.bool(), let sk = fx.keyring[kp.leafNode.signatureKey] { try? kp.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: sk)) }
    return kp
}

func proposal(_ inp: inout FuzzInput, sender: UInt32) -> Proposal {
    switch inp.int(9) {
    case 0: return .add(keyPackage(&inp))
    case 1: return .remove(LeafIndex(inp.interestingU32(keep: 2, near: 4)))
    case 2:
        let owner = fx.ids[Int(sender % 4)]
        var leaf = owner.keyPackage.leafNode
        leaf.encryptionKey = (try? suite.hpke.deriveKeyPair(ikm: SecretBytes([inp.byte(), 1, 2, 3])).publicKey) ?? []
        leaf.leafNodeSource = .update
        if inp.bool() {
            Mutate.leaf(&leaf, &inp, keyring: fx.keyring, suite: suite, groupID: fx.context.groupID, leafIndex: sender, otherKeys: [])
        } else {
            try? leaf.sign(suite: suite, signer: owner.signer, groupID: fx.context.groupID, leafIndex: sender)
        }
        return .update(Update(leafNode: leaf))
    case 3:
        return .preSharedKey(PreSharedKeyID(psk: .external(pskID: inp.bool() ? inp.bytes(max: 8) : knownPSKID),
                                                               pskNonce: inp.bool() ? inp.bytes(max: 40) : [UInt8](repeating: 7, count: suite.kdfLength)))
    case 4:
        let usage = ResumptionPSKUsage(rawValue: UInt8(1 + inp.int(3))) ?? .application
        return .preSharedKey(PreSharedKeyID(
            psk: .resumption(usage: usage, pskGroupID: inp.bool() ? inp.bytes(max: 8) : fx.context.groupID, pskEpoch: inp.interestingU64(keep: 5)),
            pskNonce: inp.bool() ? inp.bytes(max: 40) : [UInt8](repeating: 9, count: suite.kdfLength)))
    case 5:
        var exts: [Extension] = []
        Mutate.extensions(&exts, &inp, keyring: fx.keyring, suite: suite)
        return .reInit(ReInit(groupID: inp.bytes(max: 16), version: ProtocolVersion(inp.bool() ? inp.u16() : 1),
                              cipherSuite: inp.pick(Mutate.interestingSuites) ?? 1, extensions: exts))
    case 6: return .externalInit(kemOutput: inp.bytes(max: 40))
    default:
        var exts = fx.context.extensions
        for _ in 0..<(1 + inp.int(3)) { Mutate.extensions(&exts, &inp, keyring: fx.keyring, suite: suite) }
        return .groupContextExtensions(exts)
    }
}

func mutateContent(_ content: inout FramedContent, _ inp: inout FuzzInput) {
    switch inp.int(10) {
    case 1: content.epoch = inp.interestingU64(keep: content.epoch)
    case 2: content.groupID = inp.bytes(max: 16)
    case 3: content.authenticatedData = inp.bytes(max: 64)
    default: break
    }
}

/// Frames `content` as sent by its (member) sender: signature, membership tag or encryption.
func frame(_ content: FramedContent, key: SecretBytes, privately: Bool, confirmationTag: [UInt8]?, _ inp: inout FuzzInput) -> MLSMessage? {
    if privately {
        guard case let .member(leaf) = content.sender else { return nil }
        var tree = SecretTree(suite: suite, encryptionSecret: fx.epoch.encryptionSecret, leafCount: 4)
        let type: RatchetType = content.content.contentType == .application ? .application : .handshake
        for _ in 0..<[0, 0, 1, 7, 999, 1000, 1001][inp.int(7)] { _ = try? tree.nextKey(leaf: leaf, type: type) }
        guard let sig = try? MessageProtection.sign(suite: suite, content: content, wireFormat: .privateMessage, context: fx.context, signer: try InMemorySigner(scheme: suite.signature, privateKey: key)),
              let m = try? MessageProtection.framePrivate(suite: suite, content: content, auth: FramedContentAuthData(signature: sig, confirmationTag: confirmationTag),
                                                          secretTree: &tree, senderDataSecret: fx.epoch.senderDataSecret, paddingLength: inp.int(40))
        else { return nil }
        return MLSMessage(body: .privateMessage(m))
    }
    guard let sig = try? MessageProtection.sign(suite: suite, content: content, wireFormat: .publicMessage, context: fx.context, signer: try InMemorySigner(scheme: suite.signature, privateKey: key)) else { return nil }
    let membershipKey: SecretBytes? = if case .member = content.sender { fx.epoch.membershipKey } else { nil }
    guard var m = try? MessageProtection.framePublic(suite: suite, content: content, auth: FramedContentAuthData(signature: sig, confirmationTag: confirmationTag),
                                                     context: fx.context, membershipKey: membershipKey) else { return nil }
    if inp.int(16) == 15 { m.membershipTag = inp.bool() ? nil : inp.bytes(max: 40) }
    return MLSMessage(body: .publicMessage(m))
}

/// A commit by C or M (or a forged sender), built, mutated, signed, tagged and framed.
/// Returns the message and the epoch authenticator the new epoch must have.
func buildCommit(_ inp: inout FuzzInput, fx: Fixture, refs: [(ref: [UInt8], proposal: Proposal, sender: UInt32)]) -> (MLSMessage, [UInt8])? {
    let choice = inp.int(5)
    let (sender, key): (UInt32, SecretBytes) = switch choice {
    case 1: (2, fx.ids[2].signaturePrivateKey)
    case 2: (inp.interestingU32(keep: 0, near: 4), fx.ids[0].signaturePrivateKey)
    case 3: (3, fx.ids[0].signaturePrivateKey)
    default: (0, fx.ids[0].signaturePrivateKey)
    }
    var tree = fx.groups[1].tree
    var byValue: [Proposal] = []
    for _ in 0..<inp.int(4) { byValue.append(proposal(&inp, sender: sender)) }
    var entries: [ProposalOrRef] = []
    var applied: [Proposal] = []
    if !refs.isEmpty, inp.bool() {
        for r in refs where inp.int(4) != 3 { entries.append(.reference(r.ref)); applied.append(r.proposal) }
    }
    entries += byValue.map { .proposal($0) }
    applied += byValue
    if inp.int(8) == 7 { entries.append(.reference(inp.bytes(max: 40))) }
    // The effect on the tree and context, in RFC order (GroupContextExtensions, removes, adds).
    var exts = fx.context.extensions
    var added: Set<LeafIndex> = []
    var pskIDs: [PreSharedKeyID] = []
    for p in applied { if case let .groupContextExtensions(g) = p { exts = g } }
    for p in applied { if case let .remove(r) = p { try? tree.remove(r) } }
    for p in applied { if case let .add(a) = p { added.insert(tree.add(a.leafNode)) } }
    for p in applied { if case let .preSharedKey(k) = p { pskIDs.append(k) } }
    var provisional = fx.context
    provisional.epoch += 1
    provisional.extensions = exts
    var path: UpdatePath?
    var commitSecret: SecretBytes?
    var treeHash: [UInt8]
    if inp.int(4) != 3, sender < tree.leafCount,
       let (creation, _) = try? tree.createUpdatePath(from: LeafIndex(sender), signer: try InMemorySigner(scheme: suite.signature, privateKey: key), groupContext: provisional, excluding: added) {
        path = creation.updatePath
        commitSecret = creation.commitSecret
        treeHash = creation.treeHash
    } else {
        treeHash = tree.treeHash()
    }
    var commit = Commit(proposals: entries, path: path)
    for _ in 0..<inp.int(3) {
        switch inp.int(9) {
        case 1:
            if var p = commit.path {
                Mutate.leaf(&p.leafNode, &inp, keyring: fx.keyring, suite: suite, groupID: fx.context.groupID, leafIndex: sender,
                            otherKeys: [fx.ids[1].keyPackage.leafNode.encryptionKey])
                commit.path = p
            }
        case 2: if var p = commit.path, !p.nodes.isEmpty { if inp.bool() { p.nodes.removeLast() } else { p.nodes.append(p.nodes[0]) }; commit.path = p }
        case 3:
            if var p = commit.path, !p.nodes.isEmpty {
                let i = inp.int(p.nodes.count)
                p.nodes[i].encryptionKey = inp.bool() ? inp.bytes(max: 40) : fx.ids[1].keyPackage.leafNode.encryptionKey
                commit.path = p
            }
        case 4:
            if var p = commit.path, !p.nodes.isEmpty {
                let i = inp.int(p.nodes.count)
                if p.nodes[i].encryptedPathSecret.isEmpty || inp.bool() {
                    p.nodes[i].encryptedPathSecret.append(HPKECiphertext(kemOutput: inp.bytes(max: 40), ciphertext: inp.bytes(max: 60)))
                } else {
                    p.nodes[i].encryptedPathSecret.removeLast()
                }
                commit.path = p
            }
        case 5: if let e = inp.pick(commit.proposals) { commit.proposals.insert(e, at: inp.int(commit.proposals.count + 1)) }
        case 6: commit.path = nil
        case 7: commit.proposals.append(.proposal(proposal(&inp, sender: sender)))
        case 8: treeHash = inp.bytes(max: 40)
        default: break
        }
    }
    var content = FramedContent(groupID: fx.context.groupID, epoch: fx.context.epoch, sender: .member(LeafIndex(sender)),
                                authenticatedData: [], content: .commit(commit))
    mutateContent(&content, &inp)
    let privately = inp.int(4) == 3
    let wire: WireFormat = privately ? .privateMessage : .publicMessage
    guard let sig = try? MessageProtection.sign(suite: suite, content: content, wireFormat: wire, context: fx.context, signer: try InMemorySigner(scheme: suite.signature, privateKey: key)) else { return nil }
    let ac = AuthenticatedContent(wireFormat: wire, content: content, auth: FramedContentAuthData(signature: sig, confirmationTag: nil))
    let confirmed = TranscriptHash.confirmed(suite: suite, interimBefore: fx.interim, commit: ac)
    let newContext = GroupContext(cipherSuite: suite.id, groupID: fx.context.groupID, epoch: fx.context.epoch + 1, treeHash: treeHash,
                                  confirmedTranscriptHash: confirmed, extensions: exts)
    var pskSecret: SecretBytes?
    if !pskIDs.isEmpty {
        pskSecret = try? PSKSecret.compute(suite: suite, psks: pskIDs.map { ($0, knownPSK) })
    }
    guard let next = try? KeyScheduleEpoch.derive(suite: suite, initSecret: fx.epoch.initSecret, commitSecret: commitSecret, pskSecret: pskSecret,
                                                  groupContext: newContext.tlsSerialized) else { return nil }
    var tag = TranscriptHash.confirmationTag(suite: suite, confirmationKey: next.confirmationKey, confirmed: confirmed)
    if inp.int(16) == 15 { tag = inp.bytes(max: 40) }
    // Signed above with the final content; framing must not re-sign, so frame by hand.
    let auth = FramedContentAuthData(signature: sig, confirmationTag: tag)
    let message: MLSMessage
    if privately {
        var st = SecretTree(suite: suite, encryptionSecret: fx.epoch.encryptionSecret, leafCount: 4)
        guard case let .member(leaf) = content.sender,
              let m = try? MessageProtection.framePrivate(suite: suite, content: content, auth: auth, secretTree: &st, senderDataSecret: fx.epoch.senderDataSecret)
        else { return nil }
        message = MLSMessage(body: .privateMessage(m))
        _ = leaf
    } else {
        guard var m = try? MessageProtection.framePublic(suite: suite, content: content, auth: auth, context: fx.context, membershipKey: fx.epoch.membershipKey)
        else { return nil }
        if inp.int(16) == 15 { m.membershipTag = inp.bytes(max: 40) }
        message = MLSMessage(body: .publicMessage(m))
    }
    return (message, next.epochAuthenticator.unsafeCopiedBytes())
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var inp = FuzzInput(fuzzBytes(data, size))
    var r = fx.groups[1]
    var refs: [(ref: [UInt8], proposal: Proposal, sender: UInt32)] = []
    var advanced = false
    var log: [String] = []
    for _ in 0..<(1 + inp.int(4)) where !advanced {
        var expected: [UInt8]?
        var proposalInfo: (ref: [UInt8], proposal: Proposal, sender: UInt32)?
        let message: MLSMessage?
        let kind = inp.int(8)
        switch kind {
        case 0:
            var s = fx.groups[inp.bool() ? 2 : 0]
            message = try? s.encrypt(inp.bytes(max: 64), authenticatedData: inp.bytes(max: 8))
        case 1:
            let (leaf, key) = memberSender(&inp)
            var content = FramedContent(groupID: fx.context.groupID, epoch: fx.context.epoch, sender: .member(LeafIndex(leaf)),
                                        authenticatedData: [], content: .application(inp.bytes(max: 64)))
            mutateContent(&content, &inp)
            message = frame(content, key: key, privately: true, confirmationTag: nil, &inp)
        case 2, 3:
            let (leaf, key) = memberSender(&inp)
            let p = proposal(&inp, sender: leaf)
            var content = FramedContent(groupID: fx.context.groupID, epoch: fx.context.epoch, sender: .member(LeafIndex(leaf)),
                                        authenticatedData: [], content: .proposal(p))
            mutateContent(&content, &inp)
            message = frame(content, key: key, privately: kind == 3, confirmationTag: nil, &inp)
            if case let .publicMessage(m)? = message?.body {
                let ac = AuthenticatedContent(wireFormat: .publicMessage, content: m.content, auth: m.auth)
                proposalInfo = (suite.proposalRef(ac.tlsSerialized), p, leaf)
            }
        case 4:
            // External sender or new member proposal.
            var content: FramedContent
            let key: SecretBytes
            if inp.bool() {
                let p = proposal(&inp, sender: 0)
                content = FramedContent(groupID: fx.context.groupID, epoch: fx.context.epoch,
                                        sender: .external(senderIndex: inp.interestingU32(keep: 0, near: 1)), authenticatedData: [], content: .proposal(p))
                key = fx.external.signaturePrivateKey
            } else {
                let kp = keyPackage(&inp)
                content = FramedContent(groupID: fx.context.groupID, epoch: fx.context.epoch, sender: .newMemberProposal, authenticatedData: [],
                                        content: .proposal(inp.int(4) == 3 ? proposal(&inp, sender: 0) : .add(kp)))
                key = fx.keyring[kp.leafNode.signatureKey] ?? fx.outsiders[0].signaturePrivateKey
            }
            mutateContent(&content, &inp)
            message = frame(content, key: key, privately: false, confirmationTag: nil, &inp)
            if case let .publicMessage(m)? = message?.body, case let .proposal(p) = m.content.content {
                let ac = AuthenticatedContent(wireFormat: .publicMessage, content: m.content, auth: m.auth)
                proposalInfo = (suite.proposalRef(ac.tlsSerialized), p, UInt32.max)
            }
        case 5, 6:
            if let (m, e) = buildCommit(&inp, fx: fx, refs: refs) { message = m; expected = e } else { message = nil }
        default:
            // Dumb mutation of a library-made commit or proposal: reaches the framing checks.
            var s = fx.groups[inp.bool() ? 2 : 0]
            let made: MLSMessage? = inp.bool() ? (try? s.commit(CommitOptions(proposals: [proposal(&inp, sender: 0)])))?.commit
                                               : (try? s.propose(proposal(&inp, sender: 0)))
            guard var bytes = made?.tlsSerialized, !bytes.isEmpty else { message = nil; break }
            for _ in 0..<(1 + inp.int(4)) { bytes[inp.int(bytes.count)] ^= max(1, inp.byte()) }
            message = try? MLSMessage(tlsSerialized: bytes)
        }
        guard let message else { continue }
        let before = (epoch: r.epoch, auth: r.epochAuthenticator, members: r.members, pending: r.pendingProposals)
        do {
            let processed = try r.process(message)
            log.append("kind \(kind): accepted \(processed.content)")
            outcome("kind \(kind): accepted \(processed.content)")
            if case .commit = processed.content {
                advanced = true
                if let expected, r.isActive, r.epochAuthenticator != expected {
                    fatalError("R accepted a commit but its epoch authenticator differs from the committer's; \(log)")
                }
            } else if let proposalInfo, case .proposal = processed.content {
                refs.append(proposalInfo)
            }
        } catch {
            log.append("kind \(kind): \(error)")
            outcome("kind \(kind): \(error)")
            guard r.epoch == before.epoch, r.epochAuthenticator == before.auth, r.members == before.members, r.pendingProposals == before.pending else {
                fatalError("R's state changed although it refused the message: \(error); \(log)")
            }
        }
    }
    if !advanced {
        var u = fx.groups[3]
        guard let m = try? u.encrypt([0xab, 0xcd]) else { fatalError("U cannot encrypt") }
        do {
            let p = try r.process(m)
            guard p.content == .application([0xab, 0xcd]) else { fatalError("R decrypted U's message wrongly") }
        } catch {
            fatalError("R can no longer read U's messages after refused input: \(error); \(log)")
        }
    } else if r.isActive {
        guard r.epoch == fx.context.epoch + 1 else { fatalError("R accepted a commit but is in epoch \(r.epoch); \(log)") }
        StateCheck.roundtrip(r, what: "R after an accepted commit")
        _ = try? r.encrypt([1, 2])
    }
    return 0
}

@_cdecl("FuzzProcess_main")
public func FuzzProcessMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
