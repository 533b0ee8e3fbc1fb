import Foundation
import Testing

// The README's "Using the library" example is the code between the two markers below, byte for
// byte: DocumentationCodeTests (in MLSTests) compares the README's block with it, and the test
// at the end of this file runs it, so the README cannot show code that does not compile or work.
// readme-example:start
import MLS
import MLSCrypto
import MLSStore

/// An authority opens an end-to-end encrypted mailbox with a citizen and sends a notice. The
/// authority's group lives in an encrypted SQLite store; the citizen's stays in memory.
func mailboxExample(databasePath: String, stateKey: SecretBytes) throws -> String {
    let suite = CipherSuite.mls128X25519AES128GCMSHA256Ed25519
    let authority = MLSClient.basic(identity: Array("registry-office@city.example".utf8), suite: suite)
    let citizen = MLSClient.basic(identity: Array("jane.doe@mail.example".utf8), suite: suite)

    // Each step of the authority's group is written to the store before it takes effect.
    let store = try GroupStore(backend: try SQLiteStorage(path: databasePath), encryptionKey: stateKey)
    let mailbox = try store.create(try authority.createGroup())

    // The citizen publishes a KeyPackage; the authority commits an Add of it. The handle keeps
    // the commit pending (and stored) until the delivery service hands it back and the
    // authority processes it, which merges it.
    let keyPackage = try citizen.makeKeyPackage()
    let added = try mailbox.commit(CommitOptions(proposals: [.add(keyPackage.keyPackage)]))
    assert(added.description.added.map(\.identity) == [citizen.identity])
    try mailbox.process(added.commit)
    var citizenGroup = try citizen.join(welcome: added.welcome!, keyPackage: keyPackage)

    // The authority updates its keys. The citizen stages the commit, which verifies and
    // describes it without changing the group, and applies it only if it is what it expects.
    let update = try mailbox.commit()
    try mailbox.process(update.commit)
    let staged = try citizenGroup.stage(update.commit)
    if let commit = staged.commit, commit.committer.identity == authority.identity, commit.removed.isEmpty {
        citizenGroup.apply(staged)
    }

    // A notice; the citizen learns who wrote it from MLS, not from the transport.
    let notice = try mailbox.update { try $0.encrypt(Array("Your application was approved.".utf8)) }
    let received = try citizenGroup.process(notice)
    guard case let .application(text) = received.content, received.author.member?.identity == authority.identity else {
        return ""
    }

    // After a restart the group is opened from the store. The configuration (credential policy,
    // rules) is the application's and is not stored, so it is given again.
    let reopened = try store.open(mailbox.groupID, configuration: authority.configuration)
    assert(reopened?.epoch == citizenGroup.epoch)
    return String(decoding: text, as: UTF8.self)
}
// readme-example:end

@Suite struct ReadmeExampleTests {
    /// The README's example runs, and leaves the store holding the authority's group at the
    /// epoch of the key update.
    @Test func exampleRuns() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mlskit-readme-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let key = SecretBytes(randomCount: 32)
        #expect(try mailboxExample(databasePath: path, stateKey: key) == "Your application was approved.")
        let store = try GroupStore(backend: try SQLiteStorage(path: path), encryptionKey: key)
        let ids = try store.groupIDs()
        #expect(ids.count == 1)
        #expect(try store.open(try #require(ids.first), configuration: GroupConfiguration())?.epoch == 2)
    }
}
