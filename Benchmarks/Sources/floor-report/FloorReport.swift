import ArgumentParser
import Foundation
@_spi(Engine) import MLS
import MLSBenchSupport
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// Prints each tree operation's median time next to its floor: the unavoidable public-key
/// operations (or, for tree hashes, hash computations) times the cost of one, measured in the same
/// run, divided by the cores the operation can use (../shared/design/benchmarks.md).
@main
struct FloorReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "floor-report",
        abstract: "Median time of each ratchet-tree operation next to its cryptographic floor.",
        discussion: """
        Operations: \(BenchOp.allCases.map(\.rawValue).joined(separator: ", ")). add_all starts from a \
        one-member group whatever the shape, so it is reported once per size under the shape `blank` \
        (and only when `blank` is among the shapes). The tree_hash_* floors are hashing floors: \
        those operations do no public-key cryptography.
        """
    )

    @Option(help: "Comma-separated group sizes.")
    var sizes: String = "16,128,1024,10000"

    @Option(help: "Comma-separated tree shapes: blank, full, churn.")
    var shapes: String = "blank,full,churn"

    @Option(help: "Comma-separated cipher suites (1 = X25519/AES-128-GCM/Ed25519, 2 = P-256).")
    var suite: String = "1"

    @Option(help: "Comma-separated operations to run (default: all).")
    var ops: String = BenchOp.allCases.map(\.rawValue).joined(separator: ",")

    @Flag(help: "One JSON object per line: op, n, shape, suite, median_ms, floor_ms, ratio.")
    var json = false

    @Option(help: "Seconds spent on each cell, setup included (at least 5 runs; 3 for cells slower than this).")
    var budget: Double = 1.5

    @Option(help: "Measure every cell this many times, interleaved, and report the median of the per-round medians and the range of the ratios.")
    var rounds: Int = 1

    @Option(help: "Re-run a cell (up to this many times, after pauses of 5, 15, 30... s) when other processes or the hypervisor took more than --max-interference cores during it.")
    var retries: Int = 3

    @Option(help: "Cores' worth of CPU that others may take during a cell before it is re-run (see --retries).")
    var maxInterference: Double = 0.2

    @Option(help: "Also write each tree a joiner receives (GroupContext + ratchet tree) into this directory, for --join-file.")
    var exportJoin: String?

    @Option(help: "Only join from a file written by --export-join: parse, validate once, print time and peak RSS.")
    var joinFile: String?

    func run() throws {
        if let joinFile { return try joinOnly(joinFile) }

        let sizeList = try list(sizes) { Int($0) }.filter { $0 >= 2 }
        let shapeList = try list(shapes) { BenchShape(rawValue: $0) }
        let suiteList = try list(suite) { UInt16($0).flatMap(CipherSuite.init(id:)) }
        let opList = try list(ops) { BenchOp(rawValue: $0) }
        let policy = RepetitionPolicy(budget: budget)
        let cores = Parallelism.cores
        let clock = ContinuousClock()

        if !json {
            print("floor-report  \(ISO8601DateFormatter().string(from: Date()))  cores: \(cores)  budget: \(budget) s/cell  load average: \(loadAverage())")
        }
        for suite in suiteList {
            // Per cell, one measurement per round; with several rounds every cell is measured once
            // per round (primitives too), so a burst of load on the host spoils one sample of each
            // cell rather than all samples of a few.
            var cells: [Cell] = []
            var index: [CellKey: Int] = [:]
            func record(_ key: CellKey, _ sample: Sample) {
                if let i = index[key] {
                    cells[i].samples.append(sample)
                } else {
                    index[key] = cells.count
                    cells.append(Cell(key: key, samples: [sample]))
                }
                if rounds == 1 { emit(cells[index[key]!]) }
            }
            for round in 1...max(1, rounds) {
                var costs = try PrimitiveCosts.measure(suite: suite)
                for attempt in 0..<retries where costs.interference > maxInterference {
                    log("primitives: others took \(String(format: "%.2f", costs.interference)) cores; measuring again")
                    Thread.sleep(forTimeInterval: pause(attempt))
                    costs = try PrimitiveCosts.measure(suite: suite)
                }
                printCosts(costs, round: rounds > 1 ? round : nil)
                if !json, rounds == 1 { printHeader() }
                for n in sizeList {
                    for shape in shapeList {
                        let shapeOps = opList.filter(\.dependsOnShape)
                        if !shapeOps.isEmpty {
                            let start = clock.now
                            let scenario = try ScenarioCache.scenario(suite: suite, shape: shape, n: n)
                            if round == 1 {
                                log("built \(shape.rawValue) n=\(n) suite \(suite.id) in \(format((clock.now - start).seconds * 1000)) ms"
                                    + " (\(scenario.memberCount) members, \(scenario.tree.leafCount) leaves, receiver leaf \(scenario.receiver.rawValue))")
                                if let exportJoin { try export(scenario, to: exportJoin) }
                            }
                            for op in shapeOps {
                                let (timing, other) = try measureCell("\(op.rawValue) \(shape.rawValue) \(n)", policy) { try prepare(op, scenario: scenario) }
                                let f = operationFloor(op, scenario: scenario, n: n, costs: costs, cores: cores)
                                record(CellKey(op: op, n: n, shape: shape, suite: suite.id), Sample(timing: timing, floor: f, interference: other))
                            }
                        }
                        if shape == .blank, opList.contains(.addAll) {
                            let start = clock.now
                            let scenario = try ScenarioCache.addAllScenario(suite: suite, n: n)
                            if round == 1 { log("generated \(n - 1) KeyPackages for add_all in \(format((clock.now - start).seconds * 1000)) ms") }
                            let (timing, other) = try measureCell("add_all \(n)", policy) { prepareAddAll(scenario) }
                            let f = operationFloor(.addAll, scenario: nil, n: n, costs: costs, cores: cores)
                            record(CellKey(op: .addAll, n: n, shape: .blank, suite: suite.id), Sample(timing: timing, floor: f, interference: other))
                        }
                        // One round: free each tree once measured. Several: keep them for the next round.
                        if rounds == 1 { ScenarioCache.removeAll() }
                    }
                }
                if rounds > 1 { log("round \(round) of \(rounds) done") }
            }
            if rounds > 1 {
                if !json { printHeader() }
                for cell in cells { emit(cell) }
            }
            ScenarioCache.removeAll()
        }
        if !json {
            print("")
            print("floor: public-key operations x their measured cost / cores usable; tree_hash_* (marked *): hashing floor,")
            print("no public-key operations. process_update_path is timed for the member decrypting lowest on the path.")
            print("busy: cores this process kept busy during the timed runs (CPU time / wall time; \(cores) = every core, all the time).")
            print("other: cores' worth of CPU that other processes or the hypervisor took during the cell (0 = undisturbed).")
            print("peak RSS of this process: \(format(Double(peakRSSBytes()) / 1_048_576)) MiB; load average at the end: \(loadAverage())")
        }
    }

    /// Times one cell, re-running it when others took more than `maxInterference` cores meanwhile
    /// (other processes, or the hypervisor's steal time, on these shared machines).
    func measureCell(_ name: String, _ policy: RepetitionPolicy, _ prepare: () throws -> PreparedIteration) throws -> (CellTiming, Double) {
        var attempt = 0
        while true {
            let probe = InterferenceProbe()
            let timing = try timeMedian(policy: policy, prepare: prepare)
            let other = probe.othersCores()
            if other <= maxInterference || attempt >= retries { return (timing, other) }
            log("\(name): others took \(String(format: "%.2f", other)) cores; measuring again in \(Int(pause(attempt))) s")
            Thread.sleep(forTimeInterval: pause(attempt))
            attempt += 1
        }
    }

    /// The pause before re-measuring: long enough for a neighbour's test run to finish.
    func pause(_ attempt: Int) -> Double { [5, 15, 30, 60][min(attempt, 3)] }

    // MARK: Output

    func printCosts(_ c: PrimitiveCosts, round: Int?) {
        let rows: [(String, Double)] = [
            ("seal (EncryptWithLabel)", c.seal), ("open (DecryptWithLabel)", c.open), ("DeriveKeyPair", c.deriveKeyPair),
            ("GenerateKeyPair", c.generateKeyPair), ("sign (LeafNodeTBS)", c.sign), ("verify (LeafNodeTBS)", c.verify),
            ("sha leaf TreeHashInput", c.shaLeaf), ("sha parent TreeHashInput", c.shaParent),
            ("sha blank parent", c.shaBlankParent), ("sha blank leaf", c.shaBlankLeaf),
        ]
        let text = "primitives, suite \(c.suite.id)" + (round.map { ", round \($0)" } ?? "") + " (medians, µs): " + rows.map { "\($0.0) \(format($0.1 * 1e6))" }.joined(separator: ", ")
            + String(format: "; others took %.2f cores meanwhile", c.interference)
        if json { log(text) } else { print(round.map { $0 > 1 } ?? false ? "" : "\n", terminator: ""); print(text) }
    }

    func printHeader() {
        print("")
        print(pad("op", 20) + pad("shape", 7) + lpad("n", 7) + lpad("suite", 6) + lpad("median ms", 12) + lpad("floor ms", 11) + lpad("ratio", 8)
              + (rounds > 1 ? lpad("range", 12) : "") + lpad("runs", 6) + lpad("busy", 6) + lpad("other", 7) + "  floor counts")
    }

    /// Prints a cell: with one round its measurement, with several the median of the per-round
    /// medians and floors, their ratio, and the range of the per-round ratios.
    func emit(_ cell: Cell) {
        let k = cell.key
        let medianMS = median(cell.samples.map(\.median)) * 1000
        let floorMS = median(cell.samples.map(\.floor.seconds)) * 1000
        let ratio = medianMS / floorMS
        let ratios = cell.samples.map { $0.median / $0.floor.seconds }
        let runs = cell.samples.reduce(0) { $0 + $1.timing.runs }
        let parallelism = median(cell.samples.map(\.timing.parallelism))
        let other = cell.samples.map(\.interference).max() ?? 0
        let f = cell.samples.last!.floor
        if json {
            print("{\"op\":\"\(k.op.rawValue)\",\"n\":\(k.n),\"shape\":\"\(k.shape.rawValue)\",\"suite\":\(k.suite),"
                + "\"median_ms\":\(number(medianMS)),\"floor_ms\":\(number(floorMS)),\"ratio\":\(number(ratio))}")
            log("\(k.op.rawValue) \(k.shape.rawValue) \(k.n): \(runs) runs, ratios \(ratios.map { String(format: "%.2f", $0) }.joined(separator: " ")),"
                + " cores busy \(String(format: "%.2f", parallelism)), others took up to \(String(format: "%.2f", other)) cores; floor \(f.formula)")
        } else {
            let range = String(format: "%.2f-%.2f", ratios.min()!, ratios.max()!)
            print(pad(k.op.rawValue + (f.hashingOnly ? "*" : ""), 20) + pad(k.shape.rawValue, 7) + lpad("\(k.n)", 7) + lpad("\(k.suite)", 6)
                  + lpad(format(medianMS), 12) + lpad(format(floorMS), 11) + lpad(String(format: "%.2f", ratio), 8)
                  + (rounds > 1 ? lpad(range, 12) : "") + lpad("\(runs)", 6) + lpad(String(format: "%.2f", parallelism), 6)
                  + lpad(String(format: "%.2f", other), 7) + "  " + f.formula)
        }
        fflush(nil)  // rows appear as they are measured, also when piped
    }

    // MARK: Join-only mode (peak RSS of a joiner)

    func export(_ s: Scenario, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var w = TLSWriter()
        s.joinContext.encode(to: &w)
        s.exported.encode(to: &w)
        let path = (directory as NSString).appendingPathComponent("join-suite\(s.suite.id)-\(s.shape.rawValue)-\(s.n).bin")
        try Data(w.bytes).write(to: URL(fileURLWithPath: path))
        log("wrote \(path) (\(w.bytes.count) bytes)")
    }

    func joinOnly(_ path: String) throws {
        let before = peakRSSBytes()
        let clock = ContinuousClock()
        let start = clock.now
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var reader = TLSReader(bytes)
        let context = try GroupContext(from: &reader)
        let nodes = try RatchetTreeNodes(from: &reader)
        guard let suite = CipherSuite(id: context.cipherSuite) else { throw ValidationError("unknown suite \(context.cipherSuite)") }
        var tree = try RatchetTree(suite: suite, nodes: nodes)
        try tree.validate(groupContext: context, validator: LeafNodeValidator(suite: suite, groupContext: context))
        let elapsed = (clock.now - start).seconds
        let after = peakRSSBytes()
        withExtendedLifetime((nodes, tree)) {}
        print("joined \(path): \(tree.memberLeaves.count) members, \(bytes.count) bytes, decode + parse + validate \(format(elapsed * 1000)) ms")
        print("peak RSS: \(format(Double(after) / 1_048_576)) MiB (before reading the file: \(format(Double(before) / 1_048_576)) MiB)")
    }

    // MARK: Helpers

    func list<T>(_ text: String, _ parse: (String) -> T?) throws -> [T] {
        try text.split(separator: ",").map { item in
            let s = item.trimmingCharacters(in: .whitespaces)
            guard let v = parse(s) else { throw ValidationError("unknown value '\(s)'") }
            return v
        }
    }

    func log(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

/// Identifies a row of the report.
struct CellKey: Hashable {
    let op: BenchOp
    let n: Int
    let shape: BenchShape
    let suite: UInt16
}

/// One round's measurement of a cell.
struct Sample {
    let timing: CellTiming
    let floor: Floor
    let interference: Double
    var median: Double { timing.median }
}

/// A row of the report and its measurements, one per round.
struct Cell {
    let key: CellKey
    var samples: [Sample]
}



/// A time in milliseconds or microseconds with about four significant digits.
func format(_ v: Double) -> String {
    switch v {
    case 1000...: String(format: "%.0f", v)
    case 100...: String(format: "%.1f", v)
    case 10...: String(format: "%.2f", v)
    case 1...: String(format: "%.3f", v)
    default: String(format: "%.4f", v)
    }
}

/// A JSON number with enough precision for sub-microsecond times.
func number(_ v: Double) -> String {
    v.isFinite ? String(format: "%.6g", v) : "null"
}

func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }
func lpad(_ s: String, _ width: Int) -> String { s.count >= width ? " " + s : String(repeating: " ", count: width - s.count) + s }
