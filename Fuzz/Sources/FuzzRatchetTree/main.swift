import FuzzSupport
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

// ratchet_tree extension body (RatchetTreeNodes): decode with the roundtrip oracle, build the
// RatchetTree, and run every public check a joiner runs on it. The first input byte picks the
// suite the tree is read under (key lengths differ per suite).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var bytes = fuzzBytes(data, size)
    guard !bytes.isEmpty else { return 0 }
    let suite = CipherSuite(id: UInt16(bytes.removeFirst() % 8)) ?? fuzzSuite
    guard let nodes = try? RatchetTreeNodes(tlsSerialized: bytes) else { return 0 }
    checkRoundtrip(nodes, input: bytes, "RatchetTreeNodes")
    let context = GroupContext(cipherSuite: suite.id, groupID: Array("fuzz".utf8), epoch: 1, treeHash: [], confirmedTranscriptHash: [], extensions: [])
    TreeChecks.run(suite: suite, nodes: nodes, context: context, signer: 0) { _ in }
    return 0
}

@_cdecl("FuzzRatchetTree_main")
public func FuzzRatchetTreeMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
