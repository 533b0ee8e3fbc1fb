import ArgumentParser
import Foundation
import MLS

/// Whole group operations as an application runs them, through the public API only (`import MLS`
/// without the engine SPI): a member of an N-member group processes a received commit, and two
/// members exchange 1 KiB application messages. The report shows how each grows with N, and
/// splits processing a commit into `stage` (verify and describe, the state untouched) and
/// `apply` (adopt the staged state).
///
/// Only two members run state: A (leaf 0) created the group and added everyone in one commit;
/// B (the last leaf) joined from the Welcome with the tree out of band. A's commits are
/// self-updates with an UpdatePath, the costliest ordinary commit to receive.
@main
struct GroupReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group-report",
        abstract: "Median cost of receiving a commit and of sending / receiving a 1 KiB application message, by group size (suite 1)."
    )

    @Option(help: "Comma-separated group sizes N.")
    var sizes: String = "1024,10000"

    @Option(help: "Commits per size (each is made by A, timed at B, merged by A).")
    var commits: Int = 15

    @Option(help: "Application messages per size.")
    var messages: Int = 300

    func validate() throws {
        if commits < 1 || messages < 1 { throw ValidationError("--commits and --messages must be at least 1") }
        if parsedSizes.isEmpty || parsedSizes.contains(where: { $0 < 2 }) { throw ValidationError("--sizes needs group sizes of at least 2") }
    }

    var parsedSizes: [Int] { sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        guard let suite = CipherSuite(id: 1) else { throw ValidationError("suite 1 unavailable") }
        print("suite 1 (X25519 / AES-128-GCM / Ed25519); medians; \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print(String(repeating: " ", count: 7) + pad("N", 6) + pad("stage commit", 14) + pad("apply", 10) + pad("process commit", 16)
              + pad("encrypt 1 KiB", 15) + pad("process 1 KiB", 15) + "  setup")
        for n in parsedSizes {
            let started = ContinuousClock.now
            var (a, b) = try Self.group(n, suite: suite)
            let setup = ContinuousClock.now - started
            var stage: [Duration] = [], apply: [Duration] = [], process: [Duration] = []
            for round in 0..<commits {
                let out = try a.commit()
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
            print(pad("", 7) + pad("\(n)", 6) + pad(fmt(median(stage)), 14) + pad(fmt(median(apply)), 10) + pad(fmt(median(process)), 16)
                  + pad(fmt(median(encrypt)), 15) + pad(fmt(median(receive)), 15) + "  " + fmt(setup))
        }
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
        let out = try a.commit(CommitOptions(proposals: (others + [mine.keyPackage]).map { .add(Add(keyPackage: $0)) }))
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
