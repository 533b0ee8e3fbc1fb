import Foundation

// Plain imports only: the examples use the public API an application sees.
import MLS

import MLSCodec
import MLSCrypto
import MLSStore
import Testing

/// The code of the MLSStore module's DocC articles (Sources/MLSStore/MLSStore.docc), compiled and
/// run here. Every `swift` block of those articles appears verbatim in this file (inside
/// ``StoreDocumentationExamples``, indented one level); DocumentationCodeTests in MLSTests checks
/// that, so an article cannot show code that no longer compiles.
struct StoreDocumentationExamples {
    // MARK: Persist and restore

    func openStore(at path: String, stateKey: SecretBytes) throws -> GroupStore {
        // With a key, every stored blob is sealed and bound to its group, epoch and row.
        try GroupStore(backend: try SQLiteStorage(path: path), encryptionKey: stateKey)
    }

    func startMailbox(for authority: MLSClient, in store: GroupStore) throws -> PersistentGroup {
        try store.create(try authority.createGroup())
    }

    func publishKeyPackage(of citizen: MLSClient, in store: GroupStore) throws -> KeyPackage {
        let bundle = try citizen.makeKeyPackage()
        // The private keys are durable before anyone can use the public half.
        _ = try store.storeKeyPackage(bundle)
        return bundle.keyPackage
    }

    func accept(_ welcome: MLSMessage, in store: GroupStore, configuration: GroupConfiguration) throws -> PersistentGroup {
        // Finds the stored KeyPackage the Welcome was sealed to, joins, and deletes that
        // KeyPackage's private keys in the same write that stores the group.
        try store.join(welcome: welcome, configuration: configuration)
    }

    func send(_ text: String, in mailbox: PersistentGroup) throws -> MLSMessage {
        // The message key is deleted on disk before the ciphertext is returned.
        try mailbox.update { try $0.encrypt(Array(text.utf8)) }
    }

    func receive(_ message: MLSMessage, in mailbox: PersistentGroup) throws -> ProcessedMessage {
        try mailbox.process(message)
    }

    func restoreAll(from store: GroupStore, configuration: GroupConfiguration) throws -> [PersistentGroup] {
        try store.groupIDs().compactMap { try store.open($0, configuration: configuration) }
    }

    func updateKeys(in mailbox: PersistentGroup) throws -> CommitOutput {
        do {
            return try mailbox.commit()
        } catch StorageError.conflict {
            // Another handle or process wrote the group after this handle loaded it, and nothing
            // was written. Continue from what the store holds.
            try mailbox.reload()
            return try mailbox.commit()
        }
    }

    func sendAndQueue(_ text: String, in mailbox: PersistentGroup, store: GroupStore, sequence: UInt64) throws {
        let (message, transition) = try mailbox.prepareUpdate { try $0.encrypt(Array(text.utf8)) }
        var outbox = StorageBatch()
        let key = withUnsafeBytes(of: sequence.bigEndian) { Array($0) }
        outbox.putValues.append(try store.valueWrite(namespace: "outbox", key: key, value: message.serialized))
        // One atomic write: the ratchet state that consumed the key, and the ciphertext to send.
        try store.commit(transition, with: outbox)
    }
}

/// Runs the articles' code.
@Suite struct StoreDocumentationExampleTests {
    let examples = StoreDocumentationExamples()

    @Test func persistAndRestore() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mlskit-docs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let suite = CipherSuite.mls128X25519AES128GCMSHA256Ed25519
        let authority = MLSClient.basic(identity: Array("authority".utf8), suite: suite)
        let citizen = MLSClient.basic(identity: Array("citizen".utf8), suite: suite)
        let authorityKey = SecretBytes(randomCount: 32), citizenKey = SecretBytes(randomCount: 32)
        let authorityStore = try examples.openStore(at: directory.appendingPathComponent("authority.sqlite").path, stateKey: authorityKey)
        let citizenStore = try examples.openStore(at: directory.appendingPathComponent("citizen.sqlite").path, stateKey: citizenKey)

        let mailbox = try examples.startMailbox(for: authority, in: authorityStore)
        let keyPackage = try examples.publishKeyPackage(of: citizen, in: citizenStore)
        let added = try mailbox.commit(CommitOptions(proposals: [.add(keyPackage)]))
        _ = try examples.receive(added.commit, in: mailbox)
        let citizenMailbox = try examples.accept(try #require(added.welcome), in: citizenStore, configuration: GroupConfiguration())
        #expect(citizenMailbox.epoch == 1)

        let notice = try examples.send("notice", in: mailbox)
        #expect(try examples.receive(notice, in: citizenMailbox).content == .application(Array("notice".utf8)))

        // A second handle of the same group (another process, say) moves it on; the first one
        // gets a conflict, reloads and commits on top.
        let other = try #require(try examples.restoreAll(from: authorityStore, configuration: GroupConfiguration()).first)
        _ = try examples.send("from the other handle", in: other)
        let update = try examples.updateKeys(in: mailbox)
        _ = try examples.receive(update.commit, in: mailbox)
        #expect(mailbox.epoch == 2)

        // The ciphertext and its queue entry are written together.
        try examples.sendAndQueue("queued", in: mailbox, store: authorityStore, sequence: 7)
        let queued = try authorityStore.values(namespace: "outbox")
        #expect(queued.count == 1 && queued[0].key == [0, 0, 0, 0, 0, 0, 0, 7])

        // After a restart: both stores reopen with the same keys.
        let restored = try examples.restoreAll(from: examples.openStore(at: directory.appendingPathComponent("citizen.sqlite").path, stateKey: citizenKey),
                                               configuration: GroupConfiguration())
        #expect(restored.map(\.epoch) == [1])
        // Joining deleted the citizen's KeyPackage private keys.
        #expect(try citizenStore.keyPackage(ref: keyPackage.ref(suite: suite)) == nil)
    }
}
