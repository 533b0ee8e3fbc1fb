import Foundation
import Testing
@testable import MLSVectors

/// Runs the official mlswg vectors, found in the one lookup order of `OfficialVectors.locate`:
/// `MLS_TEST_VECTORS`, `../shared/mls-test-vectors` beside the checkout, then `.vectors/`.
///
/// Missing vectors are one failure, `officialVectorsArePresent`, whose message names the setup
/// step and `MLS_TEST_VECTORS`, locally and in CI alike; the tests that read the files are then
/// skipped with that reason printed rather than failing once each.
@Suite struct OfficialVectorTests {
    /// The checkout's root: tests are compiled from `<root>/Tests/MLSTests/`.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static let directory: String? = OfficialVectors.locate(packageRoot: packageRoot)

    /// The contents of the official file `name` (without `.json`).
    static func file(_ name: String) throws -> Data {
        let path = (try #require(directory) as NSString).appendingPathComponent(name + ".json")
        return try #require(FileManager.default.contents(atPath: path), "official vector file \(path) is missing")
    }

    @Test func officialVectorsArePresent() {
        if Self.directory == nil {
            Issue.record(Comment(rawValue: OfficialVectors.missingVectorsAdvice(packageRoot: Self.packageRoot)))
        }
    }

    @Test(.officialVectors, arguments: OfficialVectors.kinds.map(\.name))
    func officialFile(_ name: String) throws {
        let data = try Self.file(name)
        let kind = try #require(OfficialVectors.kind(named: name))
        let tally = OfficialVectors.verify(kind, data: data)
        for note in tally.notes { Issue.record("\(note)") }
        #expect(tally.failed == 0)
        #expect(tally.skipped == 0)
        #expect(tally.passed > 0)
    }

    @Test(arguments: OfficialVectors.kinds.map(\.name))
    func generatedFileVerifies(_ name: String) throws {
        let kind = try #require(OfficialVectors.kind(named: name))
        let data = try #require(try OfficialVectors.generate(kind), "no generator for \(name)")
        let tally = OfficialVectors.verify(kind, data: data)
        for note in tally.notes { Issue.record("\(note)") }
        #expect(tally.failed == 0 && tally.skipped == 0 && tally.passed > 0)
    }

    @Test func lookupOrderIsEnvironmentThenSharedThenCache() throws {
        let fm = FileManager.default
        let base = fm.temporaryDirectory.appendingPathComponent("vector-lookup-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: base) }
        let root = base.appendingPathComponent("MLSKit")
        let shared = base.appendingPathComponent("shared/mls-test-vectors")
        let cache = root.appendingPathComponent(".vectors")
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        #expect(OfficialVectors.locate(packageRoot: root.path, environment: [:]) == nil)
        try fm.createDirectory(at: cache, withIntermediateDirectories: true)
        #expect(OfficialVectors.locate(packageRoot: root.path, environment: [:]) == cache.path)
        try fm.createDirectory(at: shared, withIntermediateDirectories: true)
        #expect(OfficialVectors.locate(packageRoot: root.path, environment: [:]) == shared.path)
        // An explicit MLS_TEST_VECTORS is the only candidate, even when it does not exist.
        let env = ["MLS_TEST_VECTORS": base.appendingPathComponent("elsewhere").path]
        #expect(OfficialVectors.locate(packageRoot: root.path, environment: env) == nil)
        #expect(OfficialVectors.missingVectorsAdvice(packageRoot: root.path).contains("Scripts/vectors.sh"))
    }

    @Test func missingDirectoryIsAnError() {
        #expect(throws: VectorVerificationError.self) { try VectorVerification.run(directory: "/nonexistent/vectors") }
    }

    @Test(.officialVectors) func corruptedVectorFails() throws {
        // Flip one expected output: the runner must notice (guards against tests that cannot fail).
        let data = try Self.file("tree-math")
        var json = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        json[3]["root"] = 999
        let tally = OfficialVectors.verify(try #require(OfficialVectors.kind(named: "tree-math")), data: try JSONSerialization.data(withJSONObject: json))
        #expect(tally.failed == 1)
    }
}

extension Trait where Self == ConditionTrait {
    /// For tests that read the official vectors: skipped, with the reason printed, when they are
    /// missing, since `officialVectorsArePresent` already fails once for that.
    static var officialVectors: Self {
        .enabled(if: OfficialVectorTests.directory != nil, "official vectors not found: see officialVectorsArePresent")
    }
}
