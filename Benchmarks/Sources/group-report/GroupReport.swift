import ArgumentParser
import Foundation
import MLS

/// Whole group operations as an application runs them, through the public API only (`import MLS`
/// without the engine SPI): a member of an N-member group processes a received commit, and two
/// members exchange 1 KiB application messages. The report shows how each grows with N, and
/// splits processing a commit into `stage` (verify and describe, the state untouched) and
/// `apply` (adopt the staged state).
///
/// Only two members run state, A (leaf 0) and B (the last leaf). A's commits are self-updates
/// with an UpdatePath. Two tree shapes (../shared/design/benchmarks.md):
/// - `blank`: A created the group and added everyone in one commit; B joined from the Welcome
///   with the tree out of band. Every parent off A's path is blank, so each of A's commits
///   encrypts to about N − 1 leaves: the commit itself is O(N) bytes, and so is receiving it.
/// - `full`: every member has committed once, so a commit encrypts to about log2 N nodes and
///   is O(log N) bytes. Anything here that grows with N is work the group does beyond the
///   message: the test of "no O(N) copy per operation". The tree and A's and B's keys come
///   from the engine's fixture (FullShape.swift), since N real commits would take hours; from
///   then on A and B run real MLS through the public API only.
@main
struct GroupReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group-report",
        abstract: "Median cost of receiving a commit and of sending / receiving a 1 KiB application message, by group size (suite 1)."
    )

    @Option(help: "Comma-separated group sizes N.")
    var sizes: String = "1024,10000"

    @Option(help: "Comma-separated tree shapes: blank, full.")
    var shapes: String = "blank,full"

    @Option(help: "Commits per size (each is made by A, timed at B, merged by A).")
    var commits: Int = 15

    @Option(help: "Application messages per size.")
    var messages: Int = 300

    func validate() throws {
        if commits < 1 || messages < 1 { throw ValidationError("--commits and --messages must be at least 1") }
        if parsedSizes.isEmpty || parsedSizes.contains(where: { $0 < 2 }) { throw ValidationError("--sizes needs group sizes of at least 2") }
        if parsedShapes.isEmpty || parsedShapes.contains(where: { $0 != "blank" && $0 != "full" }) { throw ValidationError("--shapes takes blank and full") }
    }

    var parsedShapes: [String] { shapes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    var parsedSizes: [Int] { sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        guard let suite = CipherSuite(id: 1) else { throw ValidationError("suite 1 unavailable") }
        print("suite 1 (X25519 / AES-128-GCM / Ed25519); medians; \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print(pad("shape", 7) + pad("N", 6) + pad("commit bytes", 14) + pad("stage commit", 14) + pad("apply", 10) + pad("process commit", 16)
              + pad("encrypt 1 KiB", 15) + pad("process 1 KiB", 15) + "  setup")
        for shape in parsedShapes {
            for n in parsedSizes { try measure(shape: shape, n: n, suite: suite) }
        }
    }

    func measure(shape: String, n: Int, suite: CipherSuite) throws {
        let started = ContinuousClock.now
        var (a, b) = shape == "full" ? try fullShapeGroup(n, suite: suite) : try Self.group(n, suite: suite)
        let setup = ContinuousClock.now - started
        var stage: [Duration] = [], apply: [Duration] = [], process: [Duration] = []
        var bytes: [Int] = []
        for round in 0..<commits {
            let out = try a.commit()
            bytes.append(out.commit.serialized.count)
            if round % 2 == 0 {
                // Staged and applied separately: what an application auditing commits does.
                var staged: StagedMessage?
                stage.append(try time { staged = try b.stage(out.commit) })
                guard let staged else { throw ValidationError("no staged commit") }
                apply.append(time { b.apply(staged) })
            } else {
                process.append(try time { _ = try b.process(out.commit) })
            }
            _ = try a.process(out.commit, pending: out.pending)
            guard a.epochAuthenticator == b.epochAuthenticator else { throw ValidationError("A and B disagree at N = \(n)") }
        }
        var encrypt: [Duration] = [], receive: [Duration] = []
        let payload = [UInt8](repeating: 0x42, count: 1024)
        for _ in 0..<messages {
            var m: MLSMessage?
            encrypt.append(try time { m = try a.encrypt(payload) })
            guard let m else { throw ValidationError("no message") }
            receive.append(try time { _ = try b.process(m) })
        }
        print(pad(shape, 7) + pad("\(n)", 6) + pad("\(bytes.sorted()[bytes.count / 2])", 14) + pad(fmt(median(stage)), 14) + pad(fmt(median(apply)), 10) + pad(fmt(median(process)), 16)
              + pad(fmt(median(encrypt)), 15) + pad(fmt(median(receive)), 15) + "  " + fmt(setup))
    }

    /// A (leaf 0) and B (leaf n − 1) of an n-member group in epoch 1.
    static func group(_ n: Int, suite: CipherSuite) throws -> (MLSGroup, MLSGroup) {
        var configuration = GroupConfiguration()
        // The tree travels out of band: with it inside, every one of the n − 1 recipients' HPKE
        // seals would cover the whole tree (a cost of building the Welcome, not of the
        // operations measured here).
        configuration.ratchetTreeInWelcome = false
        let creator = MLSClient.basic(identity: Array("authority".utf8), suite: suite, configuration: configuration)
        var a = try creator.createGroup()
        let joiner = MLSClient.basic(identity: Array("citizen".utf8), suite: suite, configuration: configuration)
        let mine = try joiner.makeKeyPackage()
        let others = try (0..<(n - 2)).map { try MLSClient.basic(identity: Array("member-\($0)".utf8), suite: suite).makeKeyPackage().keyPackage }
        let out = try a.commit(CommitOptions(proposals: (others + [mine.keyPackage]).map { .add($0) }))
        _ = try a.process(out.commit, pending: out.pending)
        guard let welcome = out.welcome else { throw ValidationError("no Welcome") }
        let b = try joiner.join(welcome: welcome, keyPackage: mine, ratchetTree: a.exportedTree)
        return (a, b)
    }
}

func time(_ body: () throws -> Void) rethrows -> Duration {
    let start = ContinuousClock.now
    try body()
    return ContinuousClock.now - start
}

func median(_ samples: [Duration]) -> Duration? {
    guard !samples.isEmpty else { return nil }
    return samples.sorted()[samples.count / 2]
}

func fmt(_ d: Duration?) -> String {
    guard let d else { return "-" }
    let us = Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12
    if us >= 1e6 { return String(format: "%.2f s", us / 1e6) }
    if us >= 1e3 { return String(format: "%.2f ms", us / 1e3) }
    return String(format: "%.1f µs", us)
}

func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }
