import FuzzSupport
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

// KeyPackage decoder (bare, and wrapped in an MLSMessage) with the roundtrip oracle, then the
// checks a receiver runs on a KeyPackage in an Add: signature, leaf node content and signature.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    let kp = decodeBareOrFramed(bytes, "KeyPackage") { if case let .keyPackage(k) = $0 { k } else { nil } }?.value
    guard let kp, let suite = CipherSuite(id: kp.cipherSuite) else { return 0 }
    _ = kp.verifySignature(suite: suite)
    _ = kp.ref(suite: suite)
    let context = GroupContext(cipherSuite: suite.id, groupID: [1, 2, 3], epoch: 7, treeHash: [], confirmedTranscriptHash: [], extensions: [])
    let validator = LeafNodeValidator(suite: suite, groupContext: context, currentTime: 1_700_000_000)
    _ = validator.checkContent(kp.leafNode, expectedSource: .keyPackage)
    _ = validator.verifySignature(kp.leafNode, at: LeafIndex(0))
    let tree = RatchetTree(suite: suite, firstLeaf: kp.leafNode)
    _ = validator.validate(kp.leafNode, at: LeafIndex(1), in: tree, expectedSource: .keyPackage)
    return 0
}

@_cdecl("FuzzKeyPackage_main")
public func FuzzKeyPackageMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
