import Foundation
import Testing
@testable import MLSVectors

/// Runs the official mlswg vectors. The directory comes from `MLS_TEST_VECTORS`, else
/// `../shared/mls-test-vectors` beside the checkout. A missing directory is a failure, never a
/// skip: CI must not pass without having run them.
@Suite struct OfficialVectorTests {
    static var directory: String {
        if let env = ProcessInfo.processInfo.environment["MLS_TEST_VECTORS"], !env.isEmpty { return env }
        // Tests run from the package root; the vectors live beside the checkout.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.deletingLastPathComponent().appendingPathComponent("shared/mls-test-vectors").path
    }

    @Test(arguments: OfficialVectors.kinds.map(\.name))
    func officialFile(_ name: String) throws {
        let path = (Self.directory as NSString).appendingPathComponent(name + ".json")
        let data = try #require(FileManager.default.contents(atPath: path), "official vector file \(path) is missing")
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

    @Test func missingDirectoryIsAnError() {
        #expect(throws: VectorVerificationError.self) { try VectorVerification.run(directory: "/nonexistent/vectors") }
    }

    @Test func corruptedVectorFails() throws {
        // Flip one expected output: the runner must notice (guards against tests that cannot fail).
        let path = (Self.directory as NSString).appendingPathComponent("tree-math.json")
        let data = try #require(FileManager.default.contents(atPath: path))
        var json = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        json[3]["root"] = 999
        let tally = OfficialVectors.verify(try #require(OfficialVectors.kind(named: "tree-math")), data: try JSONSerialization.data(withJSONObject: json))
        #expect(tally.failed == 1)
    }
}
