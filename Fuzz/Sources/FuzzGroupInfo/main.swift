import FuzzSupport
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

// GroupInfo decoder (bare or in an MLSMessage) with the roundtrip oracle, then what a joiner
// does before it trusts anything: the ratchet_tree extension, the tree, the signer's signature,
// and the tree checks that need no secrets (tree hash, parent hashes, unmerged leaves, leaves).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    let info = decodeBareOrFramed(bytes, "GroupInfo") { if case let .groupInfo(i) = $0 { i } else { nil } }?.value
    guard let info, let suite = CipherSuite(id: info.groupContext.cipherSuite) else { return 0 }
    _ = info.extensions.hasRepeatedTypes
    _ = info.groupContext.extensions.hasRepeatedTypes
    if let pub = info.extensions.data(for: .externalPub), let ext = try? ExternalPub(tlsSerialized: pub) {
        checkRoundtrip(ext, input: pub, "ExternalPub")
    }
    guard let treeData = info.extensions.data(for: .ratchetTree), let nodes = try? RatchetTreeNodes(tlsSerialized: treeData) else { return 0 }
    checkRoundtrip(nodes, input: treeData, "RatchetTreeNodes")
    TreeChecks.run(suite: suite, nodes: nodes, context: info.groupContext, signer: info.signer) { tree in
        if let leaf = tree.leaf(LeafIndex(info.signer)) { _ = info.verifySignature(suite: suite, publicKey: leaf.signatureKey) }
    }
    return 0
}

@_cdecl("FuzzGroupInfo_main")
public func FuzzGroupInfoMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
