import FuzzSupport
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

// MLSGroup.externalJoin past the GroupInfo signature. The GroupInfos of the join scenarios'
// committers (with external_pub) are mutated like FuzzJoin's (context, extensions, tree,
// signer, external_pub), the tree hash recomputed, and re-signed by the signer leaf (the
// confirmation tag is kept: the epoch's confirmation key is internal, and externalJoin only
// folds the tag into the interim transcript hash). A fixed joiner calls externalJoin,
// optionally "removing" an input-chosen leaf. When it succeeds, the resulting commit is fed
// to the committer's state (`process`): an external commit built from a forged GroupInfo must
// be refused or processed without a trap, and if the committer accepts it, both sides must
// agree on the new epoch.
struct Base: Sendable {
    let scenario: JoinScenario
    let info: GroupInfo
    let nodes: [Node?]
}

let bases: [Base] = Scenarios.joinScenarios().map { s in
    guard case let .groupInfo(info) = try! s.committer.groupInfo(withTree: true).body else { fatalError("no GroupInfo") }
    let nodes = try! RatchetTreeNodes(tlsSerialized: info.extensions.data(for: .ratchetTree)!).nodes
    // The unmutated GroupInfo must work and the committer must accept the commit.
    do {
        let (joined, commit) = try MLSGroup.externalJoin(groupInfo: MLSMessage(body: .groupInfo(info)), keyPackage: externalJoiner.bundle,
                                                         configuration: fuzzConfiguration())
        var c = s.committer
        _ = try c.process(commit)
        guard c.epochAuthenticator == joined.epochAuthenticator else { fatalError("\(s.name): external commit: epochs disagree") }
    } catch {
        fatalError("\(s.name): unmutated external join fails: \(error)")
    }
    return Base(scenario: s, info: info, nodes: nodes)
}
let config = fuzzConfiguration()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var inp = FuzzInput(fuzzBytes(data, size))
    let base = bases[inp.int(bases.count)]
    let s = base.scenario
    let suite = fuzzSuite
    var forge = GroupInfoForge(base.info, nodes: base.nodes)
    forge.mutate(&inp, keyring: s.keyring, suite: suite)
    switch inp.int(5) {
    case 1: forge.extensions.removeAll { $0.extensionType == .externalPub }
    case 2:
        forge.extensions.removeAll { $0.extensionType == .externalPub }
        forge.extensions.append(Extension(extensionType: .externalPub, extensionData: ExternalPub(externalPub: inp.bytes(max: 40)).tlsSerialized))
    case 3:
        forge.extensions.removeAll { $0.extensionType == .externalPub }
        forge.extensions.append(Extension(extensionType: .externalPub, extensionData: ExternalPub(externalPub: suite.hpke.generateKeyPair().publicKey).tlsSerialized))
    default: break
    }
    forge.finishContext(keyring: s.keyring, suite: suite)
    let signerKey = forge.signerKey(keyring: s.keyring, fallback: s.signer.signaturePrivateKey)
    let info = forge.groupInfo(suite: suite, confirmationKey: nil, keepTag: base.info.confirmationTag, signerKey: signerKey)
    let removing: LeafIndex? = inp.bool() ? LeafIndex(inp.interestingU32(keep: 1, near: UInt32((forge.nodes.count + 1) / 2))) : nil
    let joined: MLSGroup, commit: MLSMessage
    do {
        (joined, commit) = try MLSGroup.externalJoin(
            groupInfo: MLSMessage(body: .groupInfo(info)), ratchetTree: forge.treeOutOfBand ? forge.treeNodes : nil,
            keyPackage: externalJoiner.bundle, removing: removing, configuration: config)
    } catch {
        outcome("externalJoin: \(error)")
        return 0
    }
    outcome("joined as leaf \(joined.myLeaf.rawValue); leaves: " + (0..<joined.tree.leafCount).map { i in
        joined.tree.leaf(LeafIndex(i)).map { "\(i):" + hexPrefix(Array($0.signatureKey.prefix(4))) } ?? "\(i):-" }.joined(separator: " ")
        + "; removing \(removing.map { "\($0.rawValue)" } ?? "none")")
    var mine = joined
    _ = try? mine.encrypt([4, 5, 6])
    var committer = s.committer
    let before = (committer.epoch, committer.epochAuthenticator)
    do {
        _ = try committer.process(commit)
        outcome("committer accepted (\(forge.mutations) mutations)")
        if committer.epochAuthenticator != joined.epochAuthenticator && committer.isActive {
            fatalError("committer accepted an external commit from a forged GroupInfo (\(forge.mutations) mutations) but derived another epoch")
        }
    } catch {
        outcome("committer refused: \(error)")
        guard committer.epoch == before.0, committer.epochAuthenticator == before.1 else {
            fatalError("committer's state changed although it refused the external commit: \(error)")
        }
    }
    // Last, so a failure here comes after the committer's verdict on the same commit.
    StateCheck.roundtrip(joined, what: "externally joined group (\(forge.mutations) mutations; committer \(committer.epoch == before.0 ? "refused" : "accepted") its commit)")
    return 0
}

@_cdecl("FuzzExternalJoin_main")
public func FuzzExternalJoinMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
