import ArgumentParser
import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
@_spi(Engine) import MLSStore

/// `mls store …`: the persistence layer's operational checks.
struct Store: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the crash safety of MLSKit's SQLite group store.",
        subcommands: [CrashTest.self, CrashSessionCommand.self, CASWriter.self])
}

extension Store {
    /// Kills a session process at random instants and checks the store after each kill.
    struct CrashTest: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "crash-test",
            abstract: "Run a group session in a child process, SIGKILL it N times at random instants, and check the store after every kill.",
            discussion: """
            After each kill the store must hold exactly the state before or the state after the interrupted \
            step (whole-store digests logged by the child before each write), it must load, and the session \
            must continue: every member catches up, a message reaches all others exactly once, and a commit \
            is accepted by all. The last line is `N passed, M failed`; the exit status is non-zero when M > 0.
            """)

        @Option(help: "How many times to kill the session.")
        var kills = 50

        @Option(help: "Shortest time (ms) the child runs before it is killed.")
        var minDelay = 30

        @Option(help: "Longest time (ms) the child runs before it is killed.")
        var maxDelay = 400

        @Option(help: "Directory for the store and the intent log (default: a new temporary directory, removed afterwards).")
        var directory: String?

        func run() throws {
            guard kills > 0, minDelay >= 0, maxDelay >= minDelay else { throw ValidationError("need kills > 0 and 0 <= min-delay <= max-delay") }
            let fm = FileManager.default
            let dir = directory ?? fm.temporaryDirectory.appendingPathComponent("mls-crash-\(UUID().uuidString)").path
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { if directory == nil { try? fm.removeItem(atPath: dir) } }
            let db = dir + "/session.sqlite"
            let log = dir + "/intent.log"
            let key = SecretBytes(randomCount: 32)
            var rng = SystemRandomNumberGenerator()
            _ = try CrashSession.create(path: db, key: key)
            var passed = 0, failed = 0
            var outcomes: [String: Int] = [:]
            var totalSteps = 0
            for kill in 1...kills {
                do {
                    let (outcome, steps) = try killOnce(db: db, log: log, key: key, rng: &rng)
                    outcomes[outcome, default: 0] += 1
                    totalSteps += steps
                    passed += 1
                } catch {
                    failed += 1
                    print("kill \(kill): FAILED: \(error)")
                }
                if kill % 50 == 0 || kill == kills {
                    print("after \(kill) kills: \(passed) passed, \(failed) failed; child steps before kills: \(totalSteps)")
                    fflush(nil)
                }
            }
            let summary = outcomes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            print("store held: \(summary)")
            print("\(passed) passed, \(failed) failed")
            if failed > 0 { throw ExitCode.failure }
        }

        /// One child run, kill and check. Returns where the kill landed and how many steps the
        /// child completed.
        func killOnce(db: String, log: String, key: SecretBytes, rng: inout SystemRandomNumberGenerator) throws -> (String, Int) {
            let start = try CrashSession.digest(SQLiteStorage(path: db))
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let child = Process()
            child.executableURL = URL(fileURLWithPath: CommandLine.executablePath)
            child.arguments = ["store", "crash-session", "--db", db, "--log", log, "--key", Hex.encode(key.unsafeCopiedBytes())]
            let errors = Pipe()
            child.standardError = errors
            child.standardOutput = FileHandle.nullDevice
            try child.run()
            usleep(UInt32(Int.random(in: minDelay...maxDelay, using: &rng) * 1000))
            let stillRunning = child.isRunning
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            guard stillRunning, child.terminationReason == .uncaughtSignal else {
                let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                throw CrashTestError("the session exited by itself (status \(child.terminationStatus)): \(text)")
            }
            // Only complete lines count: the child syncs each one before the write it announces.
            let text = String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: log))) ?? Data(), as: UTF8.self)
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            lines.removeLast()  // after the last newline: empty or a torn line
            let intents = lines.map { $0.split(separator: " ", maxSplits: 2).map(String.init) }
            let found = try CrashSession.digest(SQLiteStorage(path: db))
            var expectedBefore = start
            for (i, intent) in intents.enumerated() {
                guard intent.count == 3, intent[0] == expectedBefore else { throw CrashTestError("intent \(i) does not follow from the state before it") }
                expectedBefore = intent[1]
            }
            let outcome: String
            if let last = intents.last {
                if found == last[1] {
                    outcome = "the state after the interrupted step"
                } else if found == last[0] {
                    outcome = "the state before the interrupted step"
                } else {
                    throw CrashTestError("store matches neither the state before nor after '\(last[2])'")
                }
            } else {
                guard found == start else { throw CrashTestError("store changed although no step was announced") }
                outcome = "the starting state (killed before the first step)"
            }
            var session = try CrashSession(path: db, key: key, intentLog: nil)
            try session.proveContinuation(rng: &rng)
            return (outcome, intents.count)
        }
    }

    /// The child process of `crash-test`: runs session steps until it is killed.
    struct CrashSessionCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "crash-session", abstract: "Internal: the session that crash-test kills.", shouldDisplay: false)

        @Option var db: String
        @Option var log: String
        @Option var key: String

        func run() throws {
            guard let raw = Hex.decode(key), raw.count == 32 else { throw ValidationError("--key must be 32 bytes of hex") }
            var session = try CrashSession(path: db, key: SecretBytes(raw), intentLog: log)
            var rng = SystemRandomNumberGenerator()
            while true {
                do {
                    try session.step(rng: &rng)
                } catch {
                    FileHandle.standardError.write(Data("session step failed: \(error)\n".utf8))
                    throw ExitCode(3)
                }
            }
        }
    }
}

extension Store {
    /// One writer of a group in a SQLite store, for the two-process compare-and-swap test
    /// (Tests/MLSStoreTests/ConcurrentWriterTests.swift): another process holds a handle of the
    /// same group, and exactly one of the two may replace the record both loaded.
    ///
    /// Prints `loaded <epoch>`, waits for a line on standard input (the other process writes
    /// meanwhile, or not), then commits once (an empty commit, merged: the next epoch) and prints
    /// `wrote <epoch>`; if the store refuses that write with a conflict it prints `conflict`,
    /// reloads, prints `reloaded <epoch>`, and commits again.
    struct CASWriter: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cas-writer", abstract: "Internal: one writer of a stored group, for the two-process compare-and-swap test.",
            shouldDisplay: false)

        @Option(help: "The SQLite store.")
        var db: String

        @Option(help: "The group ID, hex.")
        var group: String

        @Option(help: "The client ID the group is stored under, hex.")
        var client = ""

        @Option(help: "The store's encryption key, hex (32 bytes), if it encrypts at rest.")
        var key: String?

        func run() throws {
            guard let groupID = Hex.decode(group), let clientID = Hex.decode(client) else { throw ValidationError("--group and --client are hex") }
            var encryptionKey: SecretBytes?
            if let key {
                guard let raw = Hex.decode(key), raw.count == 32 else { throw ValidationError("--key must be 32 bytes of hex") }
                encryptionKey = SecretBytes(raw)
            }
            let store = try GroupStore(backend: try SQLiteStorage(path: db), clientID: clientID, encryptionKey: encryptionKey)
            guard let handle = try store.open(groupID, configuration: GroupConfiguration()) else { throw StorageError.groupNotFound }
            say("loaded \(handle.epoch)")
            _ = readLine()
            func advance() throws {
                try handle.update { group in
                    let output = try group.commit()
                    try group.merge(output.pending)
                }
                say("wrote \(handle.epoch)")
            }
            do {
                try advance()
            } catch StorageError.conflict {
                say("conflict")
                try handle.reload()
                say("reloaded \(handle.epoch)")
                try advance()
            }
        }

        /// One line, flushed at once: the other process waits for it.
        func say(_ line: String) {
            print(line)
            fflush(nil)
        }
    }
}

extension CommandLine {
    /// The running executable, for re-launching it as a child.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    }
}
