import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
@_spi(Engine) import MLSMatrix
@_spi(Engine) import MLSStore

/// `mls demo --homeserver URL`: the mailbox story through a real Matrix homeserver. Each person
/// is a Matrix user with one device and its own encrypted SQLite store; everything they exchange
/// travels as room events and to-device messages (Docs/Matrix.md).
struct MatrixMailboxStory {
    let homeserver: String
    let directory: String
    var authority: MatrixMLSClient!
    var citizen: MatrixMLSClient!
    var clerk: MatrixMLSClient!
    var room = ""

    init(homeserver: String) {
        self.homeserver = homeserver
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mls-demo-\(UUID().uuidString)").path
    }

    func expect(_ condition: Bool, _ what: String) throws {
        guard condition else { throw DemoFailure(expectation: what) }
        print("  ✓ \(what)")
    }

    func connect(_ role: String) async throws -> MatrixMLSClient {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try GroupStore(backend: try SQLiteStorage(path: "\(directory)/\(role).sqlite"), encryptionKey: SecretBytes(randomCount: 32))
        let name = "\(role)-\(Hex.encode(SecretBytes(randomCount: 4).unsafeCopiedBytes()))"
        return try await MatrixMLSClient.connect(homeserver: homeserver, username: name, password: "demo-\(name)", deviceID: role.uppercased(), store: store)
    }

    /// Syncs everyone until commits are confirmed and queues are empty.
    func settle(_ clients: [MatrixMLSClient]) async throws {
        guard try await MatrixMLSClient.settle(clients, room: room) else { throw DemoFailure(expectation: "members settle on one epoch") }
    }

    func deliver(_ text: String, from sender: MatrixMLSClient, to readers: [MatrixMLSClient], everyone: [MatrixMLSClient]) async throws {
        try await sender.send(text, to: room)
        try await settle(everyone)
        for r in readers {
            let got = await r.takeMessages().map { String(decoding: $0.plaintext, as: UTF8.self) }
            try expect(got == [text], "\(r.session.userID) read \"\(text)\"")
        }
    }

    mutating func run() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        print("MLSKit demo over Matrix: a case-file mailbox at \(homeserver)")
        authority = try await connect("authority")
        citizen = try await connect("citizen")
        clerk = try await connect("clerk")
        print("1. Accounts: \(authority.session.userID), \(citizen.session.userID), \(clerk.session.userID)")
        try await citizen.publishKeyPackages(count: 3)
        try await clerk.publishKeyPackages(count: 3)
        print("2. The citizen and the clerk publish KeyPackages (/keys/upload)")
        room = try await authority.createMailbox(name: "Bauantrag 2026/17")
        print("3. The authority creates the mailbox room \(room)")
        try await authority.add([citizen.session.userID, clerk.session.userID], to: room)
        let everyone: [MatrixMLSClient] = [authority, citizen, clerk]
        try await settle(everyone)
        let citizenEpoch = await citizen.epoch(of: room)
        let clerkEpoch = await clerk.epoch(of: room)
        try expect(citizenEpoch == 1 && clerkEpoch == 1, "citizen and clerk joined from their Welcomes (epoch 1)")
        print("4. Messages")
        try await deliver("Ihr Bauantrag ist eingegangen.", from: authority, to: [citizen, clerk], everyone: everyone)
        try await deliver("Danke! Anbei die Statik.", from: citizen, to: [authority, clerk], everyone: everyone)
        try await deliver("Geprüft, bitte Unterschrift nachreichen.", from: clerk, to: [authority, citizen], everyone: everyone)
        print("5. Every member updates its keys")
        for c in everyone {
            try await c.updateKeys(in: room)
            try await settle(everyone)
        }
        let auths = await [authority.epochAuthenticator(of: room), citizen.epochAuthenticator(of: room), clerk.epochAuthenticator(of: room)]
        try expect(Set(auths).count == 1 && auths[0] != nil, "all members agree on the epoch authenticator (epoch \(await authority.epoch(of: room) ?? 0))")
        print("6. The authority removes the clerk")
        try await authority.remove(clerk.session.userID, from: room)
        try await settle(everyone)
        try expect(await clerk.epoch(of: room) == nil, "the clerk is no longer a member")
        try await authority.send("Bescheid: genehmigt.", to: room)
        try await settle([authority, citizen])
        try await clerk.syncOnce()
        try expect(await citizen.takeMessages().map { String(decoding: $0.plaintext, as: UTF8.self) } == ["Bescheid: genehmigt."], "the citizen reads the notice")
        try expect(await clerk.takeMessages().isEmpty, "the removed clerk cannot read it")
        print("all members agree")
    }
}
