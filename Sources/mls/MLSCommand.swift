import ArgumentParser
import Foundation
import MLSVectors

/// The `mls` command-line tool.
@main
struct MLSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mls",
        abstract: "MLSKit: Messaging Layer Security (RFC 9420) tools.",
        subcommands: [Vectors.self, Interop.self, Demo.self, Store.self, Matrix.self])
}

/// `mls vectors …`: the official MLS interoperability test vectors.
struct Vectors: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify or generate MLS test vectors in the mlswg/mls-implementations JSON format.",
        subcommands: [Verify.self, Generate.self])
}

extension Vectors {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run every official vector file found in DIR; exit 0 only when nothing failed.",
            discussion: """
                Without DIR the vectors are looked up in this order: $MLS_TEST_VECTORS, then \
                ../shared/mls-test-vectors beside the current directory, then .vectors/ (filled by \
                Scripts/vectors.sh).
                """)

        @Argument(help: "Directory holding the vector JSON files.")
        var directory: String?

        @Option(name: .customLong("file"), help: "Only this file (repeatable), e.g. --file tree-math.")
        var files: [String] = []

        func run() throws {
            let cwd = FileManager.default.currentDirectoryPath
            guard let dir = directory ?? OfficialVectors.locate(packageRoot: cwd) else {
                FileHandle.standardError.write(Data("mls vectors verify: \(OfficialVectors.missingVectorsAdvice(packageRoot: cwd))\n".utf8))
                throw ExitCode.failure
            }
            if directory == nil { print("vectors: \(dir)") }
            let report = try VectorVerification.run(directory: dir, only: files)
            for line in report.lines { print(line) }
            if report.failed > 0 { throw ExitCode.failure }
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write vectors produced by this library, in the official JSON format, into DIR.")

        @Argument(help: "Output directory (created if missing).")
        var directory: String

        func run() throws {
            let written = try VectorVerification.generate(into: directory)
            for name in written { print("wrote \(directory)/\(name).json") }
        }
    }
}
