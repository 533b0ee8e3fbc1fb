import Foundation
import Testing

/// Code shown in the documentation is code the tests compile and run: the README's example is
/// the marked region of Tests/MLSStoreTests/ReadmeExampleTests.swift, and every `swift` block of
/// the DocC articles appears verbatim in its module's DocumentationExamples.swift. A change to
/// the API that breaks an example breaks the build; a change to an example that is not made in
/// both places fails here.
@Suite struct DocumentationCodeTests {
    /// The package root, from this file's place in it (Tests/MLSTests/…).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func lines(_ path: String) throws -> [String] {
        let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// The lines strictly between the line `start` and the line `end`, or `nil` unless each
    /// occurs exactly once, in that order.
    static func region(_ lines: [String], from start: String, to end: String) -> ArraySlice<String>? {
        let starts = lines.indices.filter { lines[$0] == start }, ends = lines.indices.filter { lines[$0] == end }
        guard starts.count == 1, ends.count == 1, starts[0] < ends[0] else { return nil }
        return lines[(starts[0] + 1)..<ends[0]]
    }

    /// The contents of the fenced ```` ```swift ```` blocks of a Markdown text.
    static func swiftBlocks(_ markdown: some Collection<String>) -> [[String]] {
        var blocks: [[String]] = []
        var current: [String]?
        for line in markdown {
            let fence = line.trimmingCharacters(in: .whitespaces)
            if var block = current {
                if fence == "```" {
                    blocks.append(block)
                    current = nil
                } else {
                    block.append(line)
                    current = block
                }
            } else if fence == "```swift" {
                current = []
            }
        }
        return blocks
    }

    /// Whether `block` occurs in `source` as consecutive lines, all indented by the same run of
    /// spaces (empty lines stay empty).
    static func contains(_ source: [String], _ block: [String]) -> Bool {
        guard let first = block.first, !first.isEmpty, block.count <= source.count else { return false }
        for start in 0...(source.count - block.count) {
            let line = source[start]
            guard line.hasSuffix(first) else { continue }
            let indent = line.dropLast(first.count)
            guard indent.allSatisfy({ $0 == " " }) else { continue }
            let matches = block.indices.allSatisfy { k in
                block[k].isEmpty ? source[start + k].isEmpty : source[start + k] == indent + block[k]
            }
            if matches { return true }
        }
        return false
    }

    @Test func readmeExampleIsTheTestedCode() throws {
        let readme = try Self.lines("README.md")
        let tested = try Self.lines("Tests/MLSStoreTests/ReadmeExampleTests.swift")
        let section = try #require(Self.region(readme, from: "<!-- readme-example:start -->", to: "<!-- readme-example:end -->"),
                                   "README.md marks its example with <!-- readme-example:start --> and <!-- readme-example:end -->")
        let blocks = Self.swiftBlocks(section)
        try #require(blocks.count == 1, "exactly one ```swift block between the README's markers")
        let code = try #require(Self.region(tested, from: "// readme-example:start", to: "// readme-example:end"))
        // Compared as values first, so a failure names the first differing line rather than
        // printing both texts.
        let shown = blocks[0], compiled = Array(code)
        let same = shown == compiled
        let firstDifference = shown.indices.first { $0 >= compiled.count || shown[$0] != compiled[$0] } ?? shown.count
        #expect(same, """
            README.md's example differs from the code between the markers in Tests/MLSStoreTests/ReadmeExampleTests.swift \
            (line \(firstDifference + 1) of the block); make them the same
            """)
    }

    @Test(arguments: [
        ("Sources/MLS/MLS.docc", "Tests/MLSTests/DocumentationExamples.swift"),
        ("Sources/MLSStore/MLSStore.docc", "Tests/MLSStoreTests/DocumentationExamples.swift"),
        ("Sources/MLSMatrix/MLSMatrix.docc", "Tests/MLSMatrixTests/DocumentationExamples.swift"),
    ])
    func articleCodeIsTestedCode(catalog: String, examples: String) throws {
        let source = try Self.lines(examples)
        let articles = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent(catalog).path)
            .filter { $0.hasSuffix(".md") }.sorted()
        var checked = 0
        for article in articles {
            for block in Self.swiftBlocks(try Self.lines("\(catalog)/\(article)")) {
                checked += 1
                let found = Self.contains(source, block)
                #expect(found, "a swift block of \(catalog)/\(article) is not in \(examples):\n\(block.joined(separator: "\n"))")
            }
        }
        #expect(checked > 0, "\(catalog) has no swift blocks: the check would be vacuous")
    }
}
