import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCrypto
@_spi(Engine) import MLSStore

// Real groups for the persistence benchmarks (`store-report` and the `Store` suite): built with
// the package MLS API only (KeyPackages, one bulk-add commit, a join from the Welcome), so what is
// stored is exactly what an application would store.

/// A client identity: a name and an MLS client with its signature key, reused across the groups it joins (each
/// join still needs a fresh KeyPackage with fresh HPKE keys).
package struct StoreIdentity: Sendable {
    /// The basic credential's identity.
    package let name: String
    /// The MLS client: a basic credential naming it and a fresh in-memory signature key.
    package let client: MLSClient

    /// Generates an identity with a fresh signature key pair.
    package init(_ name: String, suite: CipherSuite = StoreFixtures.suite) {
        self.name = name
        client = MLSClient.basic(identity: Array(name.utf8), suite: suite)
    }

    /// A fresh KeyPackage (new init and encryption keys) of this identity.
    package func keyPackage() throws -> KeyPackageBundle {
        try client.makeKeyPackage()
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
package struct LargeGroupFixture: Sendable {
    /// The group size.
    package let n: Int
    /// The creator's state at epoch 1.
    package let a: MLSGroup
    /// The Welcome of the bulk add (without the ratchet tree).
    package let welcome: MLSMessage
    /// The ratchet tree of epoch 1, for the joiner.
    package let ratchetTree: RatchetTreeNodes
    /// B's KeyPackage and private keys (for `GroupStore.storeKeyPackage` + `join(welcome:)`).
    package let bBundle: KeyPackageBundle
    /// Seconds spent generating the KeyPackages and the bulk-add commit.
    package let buildSeconds: Double
    /// Of `buildSeconds`, the seconds spent generating the KeyPackages.
    package let keyPackageSeconds: Double

    /// Builds the group: `n − 1` KeyPackages generated on all cores, one commit adding them all.
    package init(n: Int, groupID: [UInt8], suite: CipherSuite = StoreFixtures.suite) throws {
        precondition(n >= 2)
        let clock = ContinuousClock()
        let start = clock.now
        self.n = n
        let creator = StoreIdentity("a", suite: suite)
        let bundles = try parallelMap(Array(1..<n), minimumBatch: 8) { i in
            try StoreIdentity(i == n - 1 ? "b" : "member-\(i)", suite: suite).keyPackage()
        }
        keyPackageSeconds = (clock.now - start).seconds
        var a = try MLSGroup.create(suite: suite, groupID: groupID, creator: try creator.keyPackage())
        a.configuration.ratchetTreeInWelcome = false
        let out = try a.commit(CommitOptions(proposals: bundles.map { .add($0.keyPackage) }))
        try a.merge(out.pending)
        a.configuration.ratchetTreeInWelcome = GroupConfiguration().ratchetTreeInWelcome
        guard let welcome = out.welcome else { throw StoreFixtureError("the bulk add produced no Welcome") }
        self.a = a
        self.welcome = welcome
        ratchetTree = a.tree.exported
        bBundle = bundles[n - 2]
        buildSeconds = (clock.now - start).seconds
    }

    /// B's state, joined from the Welcome without any store.
    package func joinB() throws -> MLSGroup {
        try MLSGroup.join(welcome: welcome, keyPackage: bBundle, ratchetTree: ratchetTree)
    }
}

/// One small group as our client "me" sees it after joining, plus the creator's state (the
/// sender of incoming messages).
package struct SmallGroupFixture: Sendable {
    /// Our client's state, joined from the Welcome (not yet stored).
    package var me: MLSGroup
    /// The creator's state (leaf 0), which sends application messages to the group.
    package var sender: MLSGroup
    /// The number of members, `me` included.
    package let size: Int

    /// Builds a group of `size` members (2…): the creator adds `me` and `size − 2` others in one
    /// commit, and `me` joins from the Welcome. `others` must hold at least `size − 2` identities
    /// (distinct from the creator and from `me`).
    package init(groupID: [UInt8], size: Int, me: StoreIdentity, creator: StoreIdentity, others: [StoreIdentity],
                suite: CipherSuite = StoreFixtures.suite) throws {
        precondition(size >= 2 && others.count >= size - 2)
        self.size = size
        var sender = try MLSGroup.create(suite: suite, groupID: groupID, creator: try creator.keyPackage())
        let mine = try me.keyPackage()
        let added = [mine.keyPackage] + (try others.prefix(size - 2).map { try $0.keyPackage().keyPackage })
        let out = try sender.commit(CommitOptions(proposals: added.map { .add($0) }))
        try sender.merge(out.pending)
        guard let welcome = out.welcome else { throw StoreFixtureError("the add produced no Welcome") }
        self.me = try MLSGroup.join(welcome: welcome, keyPackage: mine)
        self.sender = sender
    }
}

/// Common settings and helpers.
package enum StoreFixtures {
    /// Suite 1: X25519 / AES-128-GCM / Ed25519.
    package static let suite = CipherSuite(id: 1)!

    /// A new, empty temporary directory.
    package static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mlskit-store-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A path for an SQLite file called `name` in a new temporary directory.
    package static func temporaryDatabase(_ name: String) throws -> (directory: URL, path: String) {
        let dir = try temporaryDirectory()
        return (dir, dir.appendingPathComponent(name).path)
    }

    /// A random 32-byte key for sealing state at rest.
    package static func randomStorageKey() -> SecretBytes { SecretBytes(randomCount: 32) }

    /// A group ID for the `index`-th small group.
    package static func groupID(_ index: Int) -> [UInt8] { Array(String(format: "group-%06d", index).utf8) }
}


/// A fixture could not be built as intended.
package struct StoreFixtureError: Error, CustomStringConvertible {
    /// What went wrong.
    package let description: String
    /// Wraps a message.
    package init(_ description: String) { self.description = description }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}
