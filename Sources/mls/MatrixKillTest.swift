import ArgumentParser
import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
@_spi(Engine) import MLSMatrix
@_spi(Engine) import MLSStore

/// `mls matrix …`: checks of the Matrix transport that need real processes.
struct Matrix: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the Matrix transport against a homeserver.",
        subcommands: [KillTest.self, KillSession.self])
}

extension Matrix {
    /// Kills a sending client process at random instants and checks exactly-once delivery.
    struct KillTest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "kill-test",
            abstract: "SIGKILL a client process while it sends, restart it, and check every message arrives exactly once.",
            discussion: """
            An authority (whose state lives in an SQLite file) and a citizen share a mailbox room. N times, a child \
            process restores the authority from the file, queues messages and sends them, and is killed with SIGKILL \
            at a random instant; a restarted child sends what is left. The citizen must receive every queued message \
            exactly once, in order, and both must agree on the epoch after a final key update. \
            The last line is `N passed, M failed`.
            """)

        @Option(help: "The homeserver (e.g. from Scripts/synapse.sh start).")
        var homeserver: String

        @Option(help: "How many times to kill the sending client.")
        var kills = 10

        @Option(help: "Messages per round.")
        var messages = 8

        func run() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mls-kill-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let key = SecretBytes(randomCount: 32)
            let storePath = dir + "/authority.sqlite"
            func authorityStore() throws -> GroupStore { try GroupStore(backend: try SQLiteStorage(path: storePath), encryptionKey: key) }
            let tag = Hex.encode(SecretBytes(randomCount: 4).unsafeCopiedBytes())
            let citizen = try await MatrixMLSClient.connect(
                homeserver: homeserver, username: "citizen-\(tag)", password: "kill-\(tag)", deviceID: "CITIZEN",
                store: try GroupStore(backend: try SQLiteStorage(path: dir + "/citizen.sqlite")))
            var room = ""
            do {
                let authority = try await MatrixMLSClient.connect(homeserver: homeserver, username: "authority-\(tag)", password: "kill-\(tag)",
                                                                  deviceID: "AUTHORITY", store: try authorityStore())
                try await citizen.publishKeyPackages(count: 2)
                room = try await authority.createMailbox()
                try await authority.add([citizen.session.userID], to: room)
                guard try await MatrixMLSClient.settle([authority, citizen], room: room), await citizen.epoch(of: room) == 1 else {
                    throw CrashTestError("the citizen did not join")
                }
            }
            var passed = 0, failed = 0
            var rng = SystemRandomNumberGenerator()
            for round in 1...kills {
                do {
                    let prefix = "round \(round) message "
                    var queued: [String] = []
                    // First run: killed at a random instant while it queues and sends.
                    let first = try runChild(storePath: storePath, key: key, room: room, prefix: prefix, resume: false)
                    usleep(UInt32(Int.random(in: 50...900, using: &rng) * 1000))
                    kill(first.process.processIdentifier, SIGKILL)
                    first.process.waitUntilExit()
                    queued += lines(first.output)
                    // Restarted: sends whatever is still queued, then exits.
                    let second = try runChild(storePath: storePath, key: key, room: room, prefix: prefix, resume: true)
                    second.process.waitUntilExit()
                    guard second.process.terminationStatus == 0 else { throw CrashTestError("the restarted client failed") }
                    var received: [String] = []
                    for _ in 0..<60 {
                        try await citizen.syncOnce(timeout: 500)
                        received += await citizen.takeMessages().map { String(decoding: $0.plaintext, as: UTF8.self) }
                        if Set(queued).isSubset(of: Set(received)), !received.isEmpty || queued.isEmpty { break }
                    }
                    try await citizen.syncOnce(timeout: 500)
                    received += await citizen.takeMessages().map { String(decoding: $0.plaintext, as: UTF8.self) }
                    guard Set(received).count == received.count else { throw CrashTestError("a message arrived twice: \(received)") }
                    guard received.allSatisfy({ $0.hasPrefix(prefix) }) else { throw CrashTestError("unexpected message: \(received)") }
                    guard Set(queued).isSubset(of: Set(received)) else { throw CrashTestError("queued messages lost: \(Set(queued).subtracting(received))") }
                    guard received == received.sorted(by: { Int($0.dropFirst(prefix.count)) ?? 0 < Int($1.dropFirst(prefix.count)) ?? 0 }) else {
                        throw CrashTestError("messages out of order: \(received)")
                    }
                    print("round \(round): \(queued.count) confirmed queued before the kill, \(received.count) received, each once")
                    passed += 1
                } catch {
                    print("round \(round): FAILED: \(error)")
                    failed += 1
                }
            }
            // Both still agree after a final key update by the (restored) authority.
            if let authority = try await MatrixMLSClient.restore(homeserver: homeserver, store: try authorityStore()) {
                try await authority.updateKeys(in: room)
                let settled = try await MatrixMLSClient.settle([authority, citizen], room: room)
                let same = await authority.epochAuthenticator(of: room) == citizen.epochAuthenticator(of: room)
                let agree = settled && same
                print("after the kills: authority and citizen \(agree ? "agree" : "DISAGREE") at epoch \(await authority.epoch(of: room) ?? 0)")
                if !agree { failed += 1 }
            } else {
                print("after the kills: the authority's state did not restore")
                failed += 1
            }
            print("\(passed) passed, \(failed) failed")
            if failed > 0 { throw ExitCode.failure }
        }

        func lines(_ pipe: Pipe) -> [String] {
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return text.split(separator: "\n").filter { $0.hasPrefix("queued ") }.map { String($0.dropFirst("queued ".count)) }
        }

        func runChild(storePath: String, key: SecretBytes, room: String, prefix: String, resume: Bool) throws -> (process: Process, output: Pipe) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CommandLine.executablePath)
            p.arguments = ["matrix", "kill-session", "--homeserver", homeserver, "--store", storePath, "--key", Hex.encode(key.unsafeCopiedBytes()),
                           "--room", room, "--prefix", prefix, "--count", String(messages)] + (resume ? ["--resume"] : [])
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            return (p, out)
        }
    }

    /// The child of `kill-test`: restores the authority, queues and sends messages.
    struct KillSession: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "kill-session", abstract: "Internal: the client kill-test kills.", shouldDisplay: false)
        @Option var homeserver: String
        @Option var store: String
        @Option var key: String
        @Option var room: String
        @Option var prefix: String
        @Option var count: Int
        @Flag var resume = false

        func run() async throws {
            guard let raw = Hex.decode(key) else { throw ValidationError("bad key") }
            let groupStore = try GroupStore(backend: try SQLiteStorage(path: store), encryptionKey: SecretBytes(raw))
            guard let client = try await MatrixMLSClient.restore(homeserver: homeserver, store: groupStore) else { throw ValidationError("no client in store") }
            if !resume {
                for i in 1...count {
                    try await client.enqueueMessage(Array("\(prefix)\(i)".utf8), to: room)
                    // Printed after the queue entry is durable: the parent expects these.
                    print("queued \(prefix)\(i)")
                    fflush(nil)
                    try await client.flush()
                }
            }
            try await client.flush()
        }
    }
}
