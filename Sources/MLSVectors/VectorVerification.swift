import Foundation

/// The result of verifying a directory of vector files.
package struct VectorVerificationReport: Sendable {
    /// The lines to print: failure details, one summary line per file, and a total line last.
    package var lines: [String] = []
    /// Total passed cases.
    package var passed = 0
    /// Total failed cases (a missing or unreadable file counts as one failure).
    package var failed = 0
    /// Total skipped cases.
    package var skipped = 0
}

/// Why a directory could not be verified at all.
package enum VectorVerificationError: Error, CustomStringConvertible {
    /// The directory does not exist.
    case missingDirectory(String)
    /// `--file` named a file this tool does not know.
    case unknownFile(String)

    package var description: String {
        switch self {
        case let .missingDirectory(d): "vector directory \(d) does not exist (set MLS_TEST_VECTORS)"
        case let .unknownFile(f): "\(f) is not an official vector file"
        }
    }
}

/// Runs the vector files of a directory, as `mls vectors verify` and the test suite do.
package enum VectorVerification {
    /// Verifies every official file in `directory` (or only those named in `only`).
    ///
    /// Files whose runner belongs to a later milestone have all their cases counted as skipped,
    /// with the reason printed. A file named in `only` but absent counts as a failure.
    package static func run(directory: String, only: [String] = []) throws -> VectorVerificationReport {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw VectorVerificationError.missingDirectory(directory)
        }
        let known = OfficialVectors.kinds.map(\.name) + OfficialVectors.pending.keys.sorted()
        let wanted: [String]
        if only.isEmpty {
            wanted = known.filter { FileManager.default.fileExists(atPath: path(directory, $0)) }
        } else {
            wanted = try only.map { name in
                let base = name.hasSuffix(".json") ? String(name.dropLast(5)) : name
                guard known.contains(base) else { throw VectorVerificationError.unknownFile(name) }
                return base
            }
        }
        var report = VectorVerificationReport()
        for name in wanted {
            var tally = VectorTally()
            if let data = FileManager.default.contents(atPath: path(directory, name)) {
                if let kind = OfficialVectors.kind(named: name) {
                    tally = OfficialVectors.verify(kind, data: data)
                } else if let reason = OfficialVectors.pending[name] {
                    let count = ((try? JSONSerialization.jsonObject(with: data)) as? [Any])?.count ?? 1
                    tally.skipped = count
                    tally.notes.append("SKIP \(name): all \(count) cases: \(reason)")
                }
            } else {
                tally.failed = 1
                tally.notes.append("FAIL \(name): \(path(directory, name)) is missing")
            }
            report.lines += tally.notes.map { "  \($0)" }
            report.lines.append("\(name).json: \(tally.passed) passed, \(tally.failed) failed, \(tally.skipped) skipped")
            report.passed += tally.passed
            report.failed += tally.failed
            report.skipped += tally.skipped
        }
        report.lines.append("\(report.passed) passed, \(report.failed) failed, \(report.skipped) skipped")
        return report
    }

    /// Writes a generated file for every kind that has a generator; returns the names written.
    package static func generate(into directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written: [String] = []
        for kind in OfficialVectors.kinds {
            guard let data = try OfficialVectors.generate(kind) else { continue }
            try data.write(to: URL(fileURLWithPath: path(directory, kind.name)))
            written.append(kind.name)
        }
        return written
    }

    static func path(_ directory: String, _ name: String) -> String {
        (directory as NSString).appendingPathComponent(name + ".json")
    }
}
