import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCrypto
@_spi(Engine) import MLSStore

// Real groups for the persistence benchmarks (`store-report` and the `Store` suite): built with
// the public MLS API only (KeyPackages, one bulk-add commit, a join from the Welcome), so what is
// stored is exactly what an application would store.

/// A client identity: a name and a signature key pair, reused across the groups it joins (each
/// join still needs a fresh KeyPackage with fresh HPKE keys).
public struct StoreIdentity: Sendable {
    /// The basic credential's identity.
    public let name: String
    /// The signature private key.
    public let signer: any MLSSigner
    /// The signature public key.
    public let signaturePublicKey: [UInt8]

    /// Generates an identity with a fresh signature key pair.
    public init(_ name: String, suite: CipherSuite = StoreFixtures.suite) {
        self.name = name
        let pair = suite.signature.generateKeyPair()
        signaturePrivateKey = pair.privateKey
        signaturePublicKey = pair.publicKey
    }

    /// A fresh KeyPackage (new init and encryption keys) of this identity.
    public func keyPackage(suite: CipherSuite = StoreFixtures.suite) throws -> KeyPackageBundle {
        try KeyPackageBundle.generate(suite: suite, credential: .basic(identity: Array(name.utf8)),
                                      signer: try InMemorySigner(scheme: suite.signature, privateKey: signaturePrivateKey))
    }
}

/// A group of `n` members seen by two of them: the creator A (leaf 0), who added everyone in one
/// commit with an UpdatePath and merged it, and B (the last leaf), who can join from `welcome`.
/// The other members exist only as leaves: nobody runs their state.
///
/// The Welcome does not carry the ratchet tree (`ratchetTreeInWelcome = false`); B gets it out of
/// band (`ratchetTree`). With the tree inside, every one of the n − 1 GroupSecrets seals hashes
/// the whole encrypted GroupInfo as its HPKE context, which makes the bulk add quadratic: about
/// 45 s instead of about 1 s at n = 10 000 on two cores. Nothing stored depends on how the tree
/// was delivered.
public struct LargeGroupFixture: Sendable {
    /// The group size.
    public let n: Int
    /// The creator's state at epoch 1.
    public let a: MLSGroup
    /// The Welcome of the bulk add (without the ratchet tree).
    public let welcome: MLSMessage
    /// The ratchet tree of epoch 1, for the joiner.
    public let ratchetTree: RatchetTreeNodes
    /// B's KeyPackage and private keys (for `GroupStore.storeKeyPackage` + `join(welcome:)`).
    public let bBundle: KeyPackageBundle
    /// Seconds spent generating the KeyPackages and the bulk-add commit.
    public let buildSeconds: Double
    /// Of `buildSeconds`, the seconds spent generating the KeyPackages.
    public let keyPackageSeconds: Double

    /// Builds the group: `n − 1` KeyPackages generated on all cores, one commit adding them all.
    public init(n: Int, groupID: [UInt8], suite: CipherSuite = StoreFixtures.suite) throws {
        precondition(n >= 2)
        let clock = ContinuousClock()
        let start = clock.now
        self.n = n
        let creator = StoreIdentity("a", suite: suite)
        let bundles = try parallelMap(Array(1..<n), minimumBatch: 8) { i in
            try StoreIdentity(i == n - 1 ? "b" : "member-\(i)", suite: suite).keyPackage(suite: suite)
        }
        keyPackageSeconds = (clock.now - start).seconds
        var a = try MLSGroup.create(suite: suite, groupID: groupID, creator: try creator.keyPackage(suite: suite))
        a.configuration.ratchetTreeInWelcome = false
        let out = try a.commit(CommitOptions(proposals: bundles.map { .add(Add(keyPackage: $0.keyPackage)) }))
        try a.mergePendingCommit()
        a.configuration.ratchetTreeInWelcome = GroupConfiguration().ratchetTreeInWelcome
        guard let welcome = out.welcome else { throw StoreFixtureError("the bulk add produced no Welcome") }
        self.a = a
        self.welcome = welcome
        ratchetTree = a.tree.exported
        bBundle = bundles[n - 2]
        buildSeconds = (clock.now - start).seconds
    }

    /// B's state, joined from the Welcome without any store.
    public func joinB() throws -> MLSGroup {
        try MLSGroup.join(welcome: welcome, keyPackage: bBundle, ratchetTree: ratchetTree)
    }
}

/// One small group as our client "me" sees it after joining, plus the creator's state (the
/// sender of incoming messages).
public struct SmallGroupFixture: Sendable {
    /// Our client's state, joined from the Welcome (not yet stored).
    public var me: MLSGroup
    /// The creator's state (leaf 0), which sends application messages to the group.
    public var sender: MLSGroup
    /// The number of members, `me` included.
    public let size: Int

    /// Builds a group of `size` members (2…): the creator adds `me` and `size − 2` others in one
    /// commit, and `me` joins from the Welcome. `others` must hold at least `size − 2` identities
    /// (distinct from the creator and from `me`).
    public init(groupID: [UInt8], size: Int, me: StoreIdentity, creator: StoreIdentity, others: [StoreIdentity],
                suite: CipherSuite = StoreFixtures.suite) throws {
        precondition(size >= 2 && others.count >= size - 2)
        self.size = size
        var sender = try MLSGroup.create(suite: suite, groupID: groupID, creator: try creator.keyPackage(suite: suite))
        let mine = try me.keyPackage(suite: suite)
        let added = [mine.keyPackage] + (try others.prefix(size - 2).map { try $0.keyPackage(suite: suite).keyPackage })
        let out = try sender.commit(CommitOptions(proposals: added.map { .add(Add(keyPackage: $0)) }))
        try sender.mergePendingCommit()
        guard let welcome = out.welcome else { throw StoreFixtureError("the add produced no Welcome") }
        self.me = try MLSGroup.join(welcome: welcome, keyPackage: mine)
        self.sender = sender
    }
}

/// Common settings and helpers.
public enum StoreFixtures {
    /// Suite 1: X25519 / AES-128-GCM / Ed25519.
    public static let suite = CipherSuite(id: 1)!

    /// A new, empty temporary directory.
    public static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mlskit-store-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A path for an SQLite file called `name` in a new temporary directory.
    public static func temporaryDatabase(_ name: String) throws -> (directory: URL, path: String) {
        let dir = try temporaryDirectory()
        return (dir, dir.appendingPathComponent(name).path)
    }

    /// A random 32-byte key for sealing state at rest.
    public static func randomStorageKey() -> SecretBytes { SecretBytes(randomCount: 32) }

    /// A group ID for the `index`-th small group.
    public static func groupID(_ index: Int) -> [UInt8] { Array(String(format: "group-%06d", index).utf8) }
}


/// A fixture could not be built as intended.
public struct StoreFixtureError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    /// Wraps a message.
    public init(_ description: String) { self.description = description }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}
