import Benchmark
import Foundation
@_spi(Engine) import MLS
import MLSBenchSupport
@_spi(Engine) import MLSCrypto

// Ratchet-tree operations for every shape, size and suite of ../shared/design/benchmarks.md:
// tree hash cold and after one commit, creating a self-update UpdatePath, processing it as
// another member, join-time validation, and adding N − 1 members in one commit.
//
// Benchmarks are named "<op> <shape> N=<n> suite <id>" so `--filter` can select any slice, e.g.
// `--filter 'commit_update_path blank N=1024 '`. Fixtures are built in each benchmark's setup
// (never measured) and cached for the whole process, so all operations on one tree share one
// build. `MLS_BENCH_SIZES` (e.g. "16,128") restricts the sizes registered.

/// The group sizes: all of the design's up to 10 000 unless `MLS_BENCH_SIZES` narrows them.
let sizes: [Int] = {
    if let env = ProcessInfo.processInfo.environment["MLS_BENCH_SIZES"] {
        return env.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }
    return [16, 128, 1024, 10_000]
}()

let suites: [CipherSuite] = [CipherSuite(id: 1)!, CipherSuite(id: 2)!]

/// Modest limits: a handful of iterations for the slow cells keeps the whole suite to minutes.
///
/// Wall-clock regressions are flagged beyond 20 % at the median (25 % at p75) rather than the
/// framework's 5 %: these benchmarks run on shared 2-core machines where parallel operations
/// drift by more than that between runs.
func configuration(n: Int) -> Benchmark.Configuration {
    Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 1,
        maxDuration: .seconds(n >= 10_000 ? 4 : 2),
        maxIterations: n >= 10_000 ? 10 : 200,
        thresholds: [.wallClock: BenchmarkThresholds(relative: [.p50: 20.0, .p75: 25.0])]
    )
}

/// Fails the benchmark instead of timing an error path.
func check(_ benchmark: Benchmark, _ body: () throws -> Void) {
    do {
        try body()
    } catch {
        benchmark.error("\(error)")
    }
}

let benchmarks: @Sendable () -> Void = {
    for suite in suites {
        for n in sizes {
            for shape in BenchShape.allCases {
                for op in BenchOp.allCases where op.dependsOnShape {
                    Benchmark("\(op.rawValue) \(shape.rawValue) N=\(n) suite \(suite.id)", configuration: configuration(n: n)) { benchmark in
                        check(benchmark) {
                            let scenario = try ScenarioCache.scenario(suite: suite, shape: shape, n: n)
                            let iteration = try prepare(op, scenario: scenario)
                            benchmark.startMeasurement()
                            let result = try iteration.run()
                            benchmark.stopMeasurement()
                            blackHole(result)
                        }
                    } setup: {
                        // Build (or fetch) the tree before any measurement starts.
                        _ = try? ScenarioCache.scenario(suite: suite, shape: shape, n: n)
                    }
                }
            }
            // add_all starts from a one-member group: it has no shape of its own and always ends
            // in a blank tree.
            Benchmark("add_all blank N=\(n) suite \(suite.id)", configuration: configuration(n: n)) { benchmark in
                check(benchmark) {
                    let iteration = prepareAddAll(try ScenarioCache.addAllScenario(suite: suite, n: n))
                    benchmark.startMeasurement()
                    let result = try iteration.run()
                    benchmark.stopMeasurement()
                    blackHole(result)
                }
            } setup: {
                _ = try? ScenarioCache.addAllScenario(suite: suite, n: n)
            }
        }
    }
}
