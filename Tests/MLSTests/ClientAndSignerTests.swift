@_spi(Engine) import MLS
@_spi(Engine) import MLSCrypto
import Synchronization
import Testing

/// A signer standing in for an HSM or KMS: the key lives in a "device" object that MLSKit never
/// sees, and every signature is a request to the device, which counts them.
final class DeviceSigner: MLSSigner {
    /// The device's key store: nothing outside this class can read the key.
    private final class Device: Sendable {
        let key: Mutex<SecretBytes>
        let requests = Mutex(0)
        init(_ key: SecretBytes) { self.key = Mutex(key) }
    }

    let scheme: SignatureScheme
    let publicKey: [UInt8]
    private let device: Device

    init(scheme: SignatureScheme) {
        let pair = scheme.generateKeyPair()
        self.scheme = scheme
        publicKey = pair.publicKey
        device = Device(pair.privateKey)
    }

    var requests: Int { device.requests.withLock { $0 } }

    func sign(_ message: [UInt8]) throws -> [UInt8] {
        device.requests.withLock { $0 += 1 }
        return try device.key.withLock { key in try scheme.sign(message, privateKey: key) }
    }
}

@Suite struct ClientAndSignerTests {
    static let suite = CipherSuite(id: 1)!

    /// An authority whose key stays in a device runs a group end to end: it creates the group,
    /// adds a citizen, commits, and exchanges messages; the citizen verifies everything it signed.
    @Test func externalSignerRunsAGroup() throws {
        let device = DeviceSigner(scheme: Self.suite.signature)
        let authority = try MLSClient(credential: .basic(identity: Array("authority".utf8)), signer: device, suite: Self.suite)
        let citizen = MLSClient.basic(identity: Array("citizen".utf8), suite: Self.suite)

        var a = try authority.createGroup()
        let kp = try citizen.makeKeyPackage()
        let out = try a.commit(CommitOptions(proposals: [.add(kp.keyPackage)]))
        _ = try a.process(out.commit, pending: out.pending)
        var c = try citizen.join(welcome: try #require(out.welcome), keyPackage: kp)
        #expect(c.epochAuthenticator == a.epochAuthenticator)
        #expect(c.roster.map(\.identity) == [Array("authority".utf8), Array("citizen".utf8)])
        #expect(c.member(at: LeafIndex(0))?.signatureKey == device.publicKey)

        let notice = try a.encrypt(Array("Bescheid".utf8))
        #expect(try c.process(notice).content == .application(Array("Bescheid".utf8)))
        let update = try a.commit()
        _ = try a.process(update.commit, pending: update.pending)
        #expect(try c.process(update.commit).content.commit?.committer.identity == Array("authority".utf8))
        #expect(c.epochAuthenticator == a.epochAuthenticator)
        // KeyPackage, leaf, commit, GroupInfo and application signatures all came from the device.
        #expect(device.requests >= 6)
    }

    /// A signer of another scheme cannot be bound to the suite.
    @Test func signerMustMatchTheSuite() throws {
        let p256 = InMemorySigner.generate(.ecdsaP256SHA256)
        #expect(throws: GroupError.cipherSuiteMismatch) {
            try MLSClient(credential: .basic(identity: [1]), signer: p256, suite: Self.suite)
        }
    }

    /// The in-memory signer produces signatures the scheme verifies, and its expanded Ed25519 key
    /// signs exactly as the seed does.
    @Test func inMemorySignerMatchesTheScheme() throws {
        for id: UInt16 in [1, 2, 3, 5, 7] {
            let suite = try #require(CipherSuite(id: id))
            let signer = InMemorySigner.generate(suite.signature)
            let message = Array("SignContent".utf8)
            let signature = try signer.sign(message)
            #expect(suite.signature.verify(signature, for: message, publicKey: signer.publicKey), "suite \(id)")
            if suite.signature == .ed25519 {
                #expect(signature == (try suite.signature.sign(message, privateKey: signer.privateKey)))
            }
            #expect(!suite.signature.verify(signature, for: message + [0], publicKey: signer.publicKey))
        }
    }
}
