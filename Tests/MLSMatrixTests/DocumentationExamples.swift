import Foundation
import MLS
import MLSCrypto
// The test at the end reads each client's `session` (its Matrix user ID), which is
// @_spi(Engine) since the SPI split; the article's code itself needs no SPI.
@_spi(Engine) import MLSMatrix
import MLSStore
import Testing

/// The code of the MLSMatrix module's DocC article (Sources/MLSMatrix/MLSMatrix.docc), compiled
/// here and run against the homeserver `MATRIX_HOMESERVER` names (CI starts Synapse). Every
/// `swift` block of the article appears verbatim in this file (inside
/// ``MatrixDocumentationExamples``, indented one level); DocumentationCodeTests in MLSTests checks
/// that, so the article cannot show code that no longer compiles.
struct MatrixDocumentationExamples {
    // MARK: Run over Matrix

    func connectDevice(homeserver: String, user: String, password: String, databasePath: String,
                       stateKey: SecretBytes) async throws -> MatrixMLSClient {
        let store = try GroupStore(backend: try SQLiteStorage(path: databasePath), encryptionKey: stateKey)
        // Restores the session kept in the store, or registers (or logs in) and keeps it there.
        let client = try await MatrixMLSClient.connect(homeserver: homeserver, username: user, password: password,
                                                       deviceID: "MAILBOX", store: store)
        try await client.publishKeyPackages(count: 10)
        return client
    }

    func acceptWelcomes(from authorities: Set<[UInt8]>, on client: MatrixMLSClient) async {
        // Joins only rooms whose Welcome was signed by a member with one of these identities.
        await client.setWelcomePolicy { origin in origin.signerIdentity.map(authorities.contains) ?? false }
    }

    func openCase(_ authority: MatrixMLSClient, for citizen: String) async throws -> String {
        let room = try await authority.createMailbox(name: "Building permit 2026/17")
        // Claims a KeyPackage of each of the citizen's devices, invites the citizen and sends the
        // commit; the Welcomes follow once the commit comes back through /sync as the winner.
        try await authority.add([citizen], to: room)
        while await authority.hasPendingCommit(in: room) {
            try await authority.syncOnce(timeout: 5_000)
        }
        try await authority.send("Your application has been received.", to: room)
        return room
    }

    func readNotices(_ client: MatrixMLSClient, waitingUpTo milliseconds: Int) async throws -> [String] {
        try await client.syncOnce(timeout: milliseconds)
        return await client.takeMessages().map { message in
            // `author` is the member MLS authenticated; `sender` only what the homeserver claims.
            let text = String(decoding: message.plaintext, as: UTF8.self)
            return message.senderMismatch ? "\(message.author) (via \(message.sender)): \(text)" : "\(message.author): \(text)"
        }
    }

    func skippedEvents(_ client: MatrixMLSClient) async -> [String] {
        // Events that could not be applied (forged, replayed, too large, ...) are skipped, never
        // fatal; the reasons are kept for the application to log.
        await client.takeFailures().map(\.description)
    }
}

/// Runs the article's code against a real homeserver when `MATRIX_HOMESERVER` names one.
@Suite(.enabled(if: homeserver != nil, "MATRIX_HOMESERVER is not set: the article's scenario is skipped"), .serialized)
struct MatrixDocumentationExampleTests {
    let examples = MatrixDocumentationExamples()

    @Test func runOverMatrix() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mlskit-docs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func device(_ role: String) async throws -> MatrixMLSClient {
            try await examples.connectDevice(homeserver: homeserver!, user: uniqueName(role), password: "pw-\(role)-mlskit",
                                             databasePath: directory.appendingPathComponent("\(role).sqlite").path,
                                             stateKey: SecretBytes(randomCount: 32))
        }
        let authority = try await device("authority")
        let citizen = try await device("citizen")
        await examples.acceptWelcomes(from: [Array(authority.session.userID.utf8)], on: citizen)
        let room = try await examples.openCase(authority, for: citizen.session.userID)
        var notices: [String] = []
        for _ in 0..<20 where notices.isEmpty {
            notices = try await examples.readNotices(citizen, waitingUpTo: 1_000)
        }
        #expect(notices == ["\(authority.session.userID) (leaf 0): Your application has been received."])
        #expect(await citizen.epoch(of: room) == 1)
        #expect(await examples.skippedEvents(citizen).isEmpty)
    }
}
