// swift-tools-version: 6.1
//
// libFuzzer targets for MLSKit. Not part of the root package: the root's `swift build` and
// `swift test` never see these. Build (see Scripts/fuzz.sh):
//
//   swift build -c release --package-path Fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//
// Every fuzz target is an executable whose entry point is libFuzzer's `main`, calling the
// `@_cdecl("LLVMFuzzerTestOneInput")` function of the target.
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which depends on where the clone lives.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let deps: [Target.Dependency] = [
    "FuzzSupport",
    .product(name: "MLS", package: root),
    .product(name: "MLSCrypto", package: root),
    .product(name: "MLSCodec", package: root),
]

let fuzzTargets = [
    // Decoders.
    "FuzzMLSMessage", "FuzzGroupInfo", "FuzzKeyPackage", "FuzzWelcome", "FuzzRatchetTree", "FuzzGroupState",
    // Stateful, past authentication.
    "FuzzJoin", "FuzzExternalJoin", "FuzzProcess",
]

let package = Package(
    name: "MLSKitFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
    ],
    targets: [
        .target(name: "FuzzSupport", dependencies: [
            .product(name: "MLS", package: root),
            .product(name: "MLSCrypto", package: root),
            .product(name: "MLSCodec", package: root),
        ]),
    ] + fuzzTargets.map { .executableTarget(name: $0, dependencies: deps) } + [
        // The Matrix adapter's sync handlers; it alone pulls in MLSMatrix (and so AsyncHTTPClient).
        .executableTarget(name: "FuzzMatrix", dependencies: deps + [
            .product(name: "MLSMatrix", package: root),
            .product(name: "MLSStore", package: root),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
