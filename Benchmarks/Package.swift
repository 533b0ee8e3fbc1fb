// swift-tools-version: 6.1
//
// MLSKit benchmarks: a separate package so the library itself never depends on the benchmark
// framework (and its malloc interposer).
//
// - `RatchetTree` (Benchmarks/RatchetTree): package-benchmark suite, run with
//   `swift package --package-path Benchmarks benchmark`; keeps baselines for regression checks.
// - `floor-report`: prints each operation's median next to its cryptographic floor
//   (../shared/design/benchmarks.md, "The floor").
// - `MLSBenchSupport`: the fixtures, operations and floor formulas both share, so the suite and
//   the report time exactly the same code.
// - `Store` (Benchmarks/Store): package-benchmark suite for persistence (MLSStore over SQLite).
// - `store-report`: bytes written per commit against the whole tree, and load / process / save of
//   many small groups in one database.
// - `MLSStoreBenchSupport`: the group fixtures both of those share.
import PackageDescription

let package = Package(
    name: "MLSKitBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "MLSKit", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "MLSBenchSupport",
            dependencies: [
                .product(name: "MLS", package: "MLSKit"),
                .product(name: "MLSCrypto", package: "MLSKit"),
                .product(name: "MLSCodec", package: "MLSKit"),
            ]
        ),
        .executableTarget(
            name: "RatchetTree",
            dependencies: [
                "MLSBenchSupport",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/RatchetTree",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "floor-report",
            dependencies: [
                "MLSBenchSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Persistence: kept apart from MLSBenchSupport so the ratchet-tree benchmarks do not link GRDB.
        .target(
            name: "MLSStoreBenchSupport",
            dependencies: [
                .product(name: "MLS", package: "MLSKit"),
                .product(name: "MLSCrypto", package: "MLSKit"),
                .product(name: "MLSStore", package: "MLSKit"),
            ]
        ),
        .executableTarget(
            name: "Store",
            dependencies: [
                "MLSStoreBenchSupport",
                .product(name: "MLS", package: "MLSKit"),
                .product(name: "MLSStore", package: "MLSKit"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/Store",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Whole group operations through the public API only (no engine SPI).
        .executableTarget(
            name: "group-report",
            dependencies: [
                .product(name: "MLS", package: "MLSKit"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // libsodium for instruction-gate's seeded random source.
        .systemLibrary(name: "CSodiumGate", pkgConfig: "libsodium"),
        // One group-level operation per run, for callgrind's instruction counts (the CI gate).
        .executableTarget(
            name: "instruction-gate",
            dependencies: [
                "CSodiumGate",
                .product(name: "MLS", package: "MLSKit"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "store-report",
            dependencies: [
                "MLSStoreBenchSupport",
                "MLSBenchSupport",
                .product(name: "MLS", package: "MLSKit"),
                .product(name: "MLSCrypto", package: "MLSKit"),
                .product(name: "MLSStore", package: "MLSKit"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
