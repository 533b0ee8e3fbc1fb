import FuzzSupport
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

// MLSMessage decoder: every body (PublicMessage, PrivateMessage, Welcome, GroupInfo,
// KeyPackage) with the decode/encode/decode oracle, plus the public checks that need no group.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let message = try? MLSMessage(tlsSerialized: bytes) else { return 0 }
    checkRoundtrip(message, input: bytes, "MLSMessage")
    switch message.body {
    case let .publicMessage(m):
        let ac = AuthenticatedContent(wireFormat: .publicMessage, content: m.content, auth: m.auth)
        checkRoundtrip(ac, input: ac.tlsSerialized, "AuthenticatedContent")
        _ = TranscriptHash.confirmedInput(ac)
    case let .keyPackage(kp):
        if let suite = CipherSuite(id: kp.cipherSuite) { _ = kp.verifySignature(suite: suite); _ = kp.ref(suite: suite) }
    case let .groupInfo(info):
        if let suite = CipherSuite(id: info.groupContext.cipherSuite) { _ = info.verifySignature(suite: suite, publicKey: []) }
    case let .welcome(w):
        _ = try? WelcomeCrypto.suite(of: w)
    case .privateMessage:
        break
    }
    return 0
}

@_cdecl("FuzzMLSMessage_main")
public func FuzzMLSMessageMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
