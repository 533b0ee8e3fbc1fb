import FuzzSupport
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

// MLSGroup.join past authentication. A fixed victim KeyPackage; four group shapes built with the
// library (s0: 2 members; s1: unmerged leaves; s2: blank leaf refilled; s3: committer at leaf 1).
// The input picks a shape and mutates the GroupInfo's context (epoch up to UInt64.max, group ID,
// suite, version, extensions, transcript hash), its extensions, the ratchet tree (blanks,
// unmerged_leaves with huge values, parent hashes, keys, leaves re-signed by their owners, shape),
// the signer index, the GroupSecrets (path secret, PSKs, joiner secret) and whether the tree
// comes in band. Then the generator recomputes the tree hash, runs the key schedule on the
// mutated context, recomputes the confirmation tag, re-signs the GroupInfo as the signer leaf
// and seals a Welcome to the victim. Any thrown error is fine; a trap is a crash.
let scenarios = Scenarios.joinScenarios()
let config = fuzzConfiguration()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var inp = FuzzInput(fuzzBytes(data, size))
    let s = scenarios[inp.int(scenarios.count)]
    let suite = fuzzSuite
    var forge = GroupInfoForge(s.groupInfo, nodes: s.nodes)
    forge.mutate(&inp, keyring: s.keyring, suite: suite)
    forge.finishContext(keyring: s.keyring, suite: suite)

    // GroupSecrets.
    var joinerSecret = s.secrets.joinerSecret
    var pathSecret = s.secrets.pathSecret.map { PathSecret(pathSecret: $0.unsafeCopiedBytes()) }
    var psks: [PreSharedKeyID] = []
    var welcomeSuite = suite.id
    for _ in 0..<inp.int(4) {
        switch inp.int(7) {
        case 0: break
        case 1: pathSecret = nil
        case 2: pathSecret = PathSecret(pathSecret: inp.bytes(max: 48))
        case 3: psks.append(PreSharedKeyID(psk: .external(pskID: inp.bool() ? knownPSKID : inp.bytes(max: 8)), pskNonce: inp.bytes(max: 40)))
        case 4:
            let usage = ResumptionPSKUsage(rawValue: UInt8(1 + inp.int(3))) ?? .application
            psks.append(PreSharedKeyID(psk: .resumption(usage: usage, pskGroupID: inp.bool() ? forge.context.groupID : inp.bytes(max: 8),
                                                        pskEpoch: inp.interestingU64(keep: forge.context.epoch)), pskNonce: inp.bytes(max: 40)))
        case 5: joinerSecret = SecretBytes(inp.bytes(max: 48))
        default: welcomeSuite = inp.pick(Mutate.interestingSuites) ?? suite.id
        }
    }
    // The PSK secret only when every PSK is the known one (otherwise the victim fails to find it).
    var pskSecret: SecretBytes?
    if !psks.isEmpty, psks.allSatisfy({ $0.psk == .external(pskID: knownPSKID) }) {
        pskSecret = try? PSKSecret.compute(suite: suite, psks: psks.map { ($0, knownPSK) })
    }
    guard let epoch = try? KeyScheduleEpoch.derive(suite: suite, joinerSecret: joinerSecret, pskSecret: pskSecret,
                                                   groupContext: forge.context.tlsSerialized) else { return 0 }
    let signerKey = forge.signerKey(keyring: s.keyring, fallback: s.signer.signaturePrivateKey)
    let info = forge.groupInfo(suite: suite, confirmationKey: epoch.confirmationKey, keepTag: s.groupInfo.confirmationTag, signerKey: signerKey)
    let secrets = GroupSecrets(joinerSecret: joinerSecret.unsafeCopiedBytes(), pathSecret: pathSecret, psks: psks)
    guard let encryptedInfo = try? WelcomeCrypto.encryptGroupInfo(suite: suite, groupInfo: info, welcomeSecret: epoch.welcomeSecret),
          let sealed = try? WelcomeCrypto.encryptGroupSecrets(suite: suite, recipients: [(victim.keyPackage, secrets)], encryptedGroupInfo: encryptedInfo)
    else { return 0 }
    let welcome = MLSMessage(body: .welcome(Welcome(cipherSuite: welcomeSuite, secrets: sealed, encryptedGroupInfo: encryptedInfo)))
    var group: MLSGroup
    do {
        group = try MLSGroup.join(welcome: welcome, keyPackage: victim.bundle,
                                  ratchetTree: forge.treeOutOfBand ? forge.treeNodes : nil, configuration: config)
        outcome("joined (\(forge.mutations) mutations)")
    } catch {
        outcome("\(error)")
        return 0
    }
    // Joined: the state must be self-consistent and persistable.
    var tree = group.tree
    guard tree.treeHash() == group.context.treeHash else { fatalError("joined group's tree hash differs from its GroupContext") }
    StateCheck.roundtrip(group, what: "joined group (\(forge.mutations) mutations)")
    _ = try? group.encrypt([1, 2, 3])
    _ = try? group.commit()
    return 0
}

@_cdecl("FuzzJoin_main")
public func FuzzJoinMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
