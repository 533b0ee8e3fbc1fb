import FuzzSupport
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

// Welcome decoder (bare or in an MLSMessage) with the roundtrip oracle, then the joiner's first
// steps with a fixed KeyPackage: suite lookup, finding our entry, HPKE-opening GroupSecrets.
let victim = Identity(seed: 0x77)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    let decoded = decodeBareOrFramed(bytes, "Welcome") { if case let .welcome(w) = $0 { w } else { nil } }
    if let framed = decoded?.framed { _ = try? MLSGroup.join(welcome: framed, keyPackage: victim.bundle) }
    guard let welcome = decoded?.value else { return 0 }
    _ = try? WelcomeCrypto.suite(of: welcome)
    if let secrets = try? WelcomeCrypto.decryptGroupSecrets(welcome, keyPackage: victim.keyPackage, initPrivateKey: victim.bundle.initPrivateKey) {
        _ = try? WelcomeCrypto.decryptGroupInfo(welcome, joinerSecret: secrets.joinerSecret, pskSecret: nil)
    }
    return 0
}

@_cdecl("FuzzWelcome_main")
public func FuzzWelcomeMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
