// swift-tools-version: 6.1
//
// MLSKit: Messaging Layer Security (RFC 9420) in Swift over libsodium and OpenSSL.
//
// Dependency direction (outside in; never the reverse):
//
//   MLSMatrix ─┬─> AsyncHTTPClient (Matrix Client-Server API)
//              ├─> MLSStore
//   mls (CLI) ─┬─> MLSStore ─> GRDB (SQLite)
//              │       └──┐
//   MLSVectors ┴──────────┴─> MLS ─> MLSCrypto ─> MLSCodec
//                             └──────> CSodium, COpenSSL (system libraries via pkg-config)
//
// - MLSCodec knows nothing about cryptography; MLSCrypto knows nothing about groups.
// - MLSVectors (the official test-vector runners and generators) and the CLI sit on top of MLS,
//   so the protocol core never depends on JSON, files or argument parsing.
// - MLSStore (persistence) depends on MLS; MLS never depends on a database.
// - MLSMatrix (transport) depends on MLS and MLSStore; neither depends on the network.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "MLSKit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MLS", targets: ["MLS"]),
        .library(name: "MLSCrypto", targets: ["MLSCrypto"]),
        .library(name: "MLSCodec", targets: ["MLSCodec"]),
        .library(name: "MLSStore", targets: ["MLSStore"]),
        .library(name: "MLSMatrix", targets: ["MLSMatrix"]),
        .executable(name: "mls", targets: ["mls"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(name: "MLSCodec", swiftSettings: strict),
        .target(name: "MLSCrypto", dependencies: ["MLSCodec", "CSodium", "COpenSSL"], swiftSettings: strict),
        .target(
            name: "MLS",
            dependencies: ["MLSCodec", "MLSCrypto", "COpenSSL", .product(name: "HashTreeCollections", package: "swift-collections")],
            swiftSettings: strict
        ),
        .target(name: "MLSVectors", dependencies: ["MLS"], swiftSettings: strict),
        .target(
            name: "MLSStore",
            dependencies: ["MLS", "MLSCrypto", "MLSCodec", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        .target(
            name: "MLSMatrix",
            dependencies: ["MLS", "MLSStore", "MLSCrypto", "MLSCodec", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "mls",
            dependencies: [
                "MLSVectors", "MLS", "MLSStore", "MLSMatrix",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "MLSCodecTests", dependencies: ["MLSCodec"], swiftSettings: strict),
        .testTarget(name: "MLSCryptoTests", dependencies: ["MLSCrypto"], swiftSettings: strict),
        .testTarget(name: "MLSTests", dependencies: ["MLS", "MLSVectors"], swiftSettings: strict),
        .testTarget(name: "MLSStoreTests", dependencies: ["MLSStore", "MLS", .product(name: "GRDB", package: "GRDB.swift")],
                    swiftSettings: strict),
        .testTarget(name: "MLSMatrixTests", dependencies: ["MLSMatrix", "MLSStore", "MLS"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
