import ArgumentParser
import MLS

/// Runs one operation of the regression gate's scenario set once, for valgrind's callgrind to
/// count (Benchmarks/Scripts/gate.sh does the counting and the comparison with the baseline).
///
/// Instruction counts, unlike times, repeat for the same binary and input whatever else the
/// machine is doing, so a 3 % threshold is meaningful on shared CI machines. Each scenario is a
/// fixed chain of public-API steps with wire encoding both ways; only the last one runs inside
/// ``countedStep(_:)``, the function the script tells callgrind to count (`--toggle-collect`).
/// The script runs it with `MLSKIT_MAX_CORES=1`, so no work escapes to other threads, and with
/// deterministic hashing and random bytes (``DeterministicRandom``), so runs repeat exactly.
@main
struct InstructionGate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instruction-gate",
        abstract: "Run one group-level operation once (suite 1), for instruction counting."
    )

    static let scenarios = ["create_add_welcome", "join_welcome", "commit_self_update", "process_commit", "app_message"]

    @Option(help: "One of: \(scenarios.joined(separator: ", ")).")
    var scenario: String

    @Option(help: "Group size N.")
    var n: Int

    func validate() throws {
        guard Self.scenarios.contains(scenario) else { throw ValidationError("unknown scenario \(scenario)") }
        guard n >= 2 else { throw ValidationError("--n must be at least 2") }
    }

    @Flag(help: "Draw random bytes from the operating system instead of the seeded source (counts then vary between runs).")
    var systemRandom = false

    func run() throws {
        if !systemRandom { DeterministicRandom.install() }
        guard let suite = CipherSuite(id: 1) else { throw ValidationError("suite 1 unavailable") }
        var steps = Steps(suite: suite, n: n)
        // Each scenario: the steps before it, then the measured one.
        let chain: [(name: String, run: (inout Steps) throws -> Void)] = [
            ("key_packages", { try $0.keyPackages() }),
            ("create_add_welcome", { try $0.createAddWelcome() }),
            ("join_welcome", { try $0.joinWelcome() }),
            ("merge", { try $0.mergeAdd() }),
            ("commit_self_update", { try $0.commitSelfUpdate() }),
            ("process_commit", { try $0.processCommit() }),
        ]
        if scenario == "app_message" {
            for step in chain.prefix(4) { try step.run(&steps) }
            try countedStep { try steps.appMessage() }
            return
        }
        for step in chain {
            if step.name == scenario {
                try countedStep { try step.run(&steps) }
                return
            }
            try step.run(&steps)
        }
    }
}

/// The measured step. Its name is what Benchmarks/Scripts/gate.sh passes to callgrind's
/// `--toggle-collect`, so it must not be inlined or renamed.
@inline(never)
func countedStep(_ body: () throws -> Void) rethrows {
    try body()
}

/// The state the steps pass along: A creates the group and adds everyone, B joins from the
/// Welcome (ratchet tree inside), A and B exchange a commit and a message. Messages cross as
/// bytes.
struct Steps {
    let suite: CipherSuite
    let n: Int
    let a: MLSClient
    let b: MLSClient
    var keyPackageBytes: [[UInt8]] = []
    var bBundle: KeyPackageBundle?
    var groupA: MLSGroup?
    var groupB: MLSGroup?
    var addCommit: [UInt8] = []
    var addPending: PendingCommit?
    var welcome: [UInt8] = []
    var commit: [UInt8] = []

    init(suite: CipherSuite, n: Int) {
        self.suite = suite
        self.n = n
        a = MLSClient.basic(identity: Array("authority".utf8), suite: suite)
        b = MLSClient.basic(identity: Array("citizen".utf8), suite: suite)
    }

    mutating func keyPackages() throws {
        let bundle = try b.makeKeyPackage()
        bBundle = bundle
        keyPackageBytes = try (0..<(n - 2)).map {
            MLSMessage(keyPackage: try MLSClient.basic(identity: Array("member-\($0)".utf8), suite: suite).makeKeyPackage().keyPackage).serialized
        } + [MLSMessage(keyPackage: bundle.keyPackage).serialized]
    }

    mutating func createAddWelcome() throws {
        var group = try a.createGroup(groupID: Array("gate".utf8))
        let adds = try keyPackageBytes.map { bytes -> Proposal in
            guard let kp = try MLSMessage(serialized: bytes).keyPackage else { throw ValidationError("not a KeyPackage") }
            return .add(kp)
        }
        let out = try group.commit(CommitOptions(proposals: adds))
        guard let w = out.welcome else { throw ValidationError("no Welcome") }
        addCommit = out.commit.serialized
        addPending = out.pending
        welcome = w.serialized
        groupA = group
    }

    mutating func joinWelcome() throws {
        guard let bBundle else { throw ValidationError("no KeyPackage") }
        groupB = try b.join(welcome: try MLSMessage(serialized: welcome), keyPackage: bBundle)
    }

    mutating func mergeAdd() throws {
        guard var group = groupA else { throw ValidationError("no group") }
        // The delivery service echoes A's commit; A merges it as its own.
        _ = try group.process(try MLSMessage(serialized: addCommit), pending: addPending)
        groupA = group
    }

    mutating func commitSelfUpdate() throws {
        guard var group = groupA else { throw ValidationError("no group") }
        commit = try group.commit().commit.serialized
        groupA = group
    }

    mutating func processCommit() throws {
        guard var group = groupB else { throw ValidationError("no group") }
        _ = try group.process(try MLSMessage(serialized: commit))
        groupB = group
    }

    mutating func appMessage() throws {
        guard var sender = groupA, var receiver = groupB else { throw ValidationError("no group") }
        let bytes = try sender.encrypt([UInt8](repeating: 0x42, count: 1024)).serialized
        _ = try receiver.process(try MLSMessage(serialized: bytes))
        groupA = sender
        groupB = receiver
    }
}
