import Foundation
@_spi(Engine) import MLSCodec

/// The outcome of the cases in one vector file.
package struct VectorTally: Sendable {
    /// Cases whose every check passed.
    package var passed = 0
    /// Cases with at least one failed check.
    package var failed = 0
    /// Cases not run, each with the reason in ``notes``.
    package var skipped = 0
    /// One line per failed or skipped case, naming the case and the check.
    package var notes: [String] = []

    /// An empty tally.
    package init() {}

    /// Runs one case: it passes unless `body` throws.
    package mutating func run(_ name: String, _ body: () throws -> Void) {
        do {
            try body()
            passed += 1
        } catch {
            failed += 1
            notes.append("FAIL \(name): \(error)")
        }
    }

    /// Records a skipped case and why.
    package mutating func skip(_ name: String, because reason: String) {
        skipped += 1
        notes.append("SKIP \(name): \(reason)")
    }
}

/// A failed check inside a vector case.
package struct VectorCheckFailure: Error, CustomStringConvertible {
    /// What was checked and how it differed.
    package let description: String
    /// Creates a failure with a message.
    package init(_ description: String) { self.description = description }
}

/// Throws unless `actual == expected`, naming the field.
func check(_ field: String, _ actual: [UInt8], _ expected: [UInt8]) throws {
    if actual != expected {
        throw VectorCheckFailure("\(field): got \(actual.hex.prefix(64)), expected \(expected.hex.prefix(64))")
    }
}

/// Throws unless `condition` holds.
func check(_ what: String, _ condition: Bool) throws {
    if !condition { throw VectorCheckFailure(what) }
}

/// Throws unless `actual == expected` for any equatable value.
func check<T: Equatable>(_ field: String, _ actual: T, _ expected: T) throws {
    if actual != expected { throw VectorCheckFailure("\(field): got \(actual), expected \(expected)") }
}

/// Bytes carried as a hex string in the official JSON format.
package struct HexBytes: Codable, Sendable, Equatable {
    /// The decoded bytes.
    package var bytes: [UInt8]

    /// Wraps bytes.
    package init(_ bytes: [UInt8]) { self.bytes = bytes }

    package init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let b = Hex.decode(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not hex"))
        }
        bytes = b
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(bytes.hex)
    }
}

/// One official vector file: its name, how to verify it and how to generate it.
package struct VectorFileKind: Sendable {
    /// File name without `.json`, as in mlswg/mls-implementations.
    package let name: String
    /// Verifies the file's JSON.
    let verify: @Sendable (Data) throws -> VectorTally
    /// Produces a fresh file in the official format, or `nil` when generation belongs to a later
    /// milestone.
    let generate: (@Sendable () throws -> Data)?
}

/// The official MLS test vectors (mlswg/mls-implementations `test-vectors/`).
package enum OfficialVectors {
    /// Every vector file this library knows how to verify, in a stable order.
    package static let kinds: [VectorFileKind] = [
        TreeMathVectors.kind,
        CryptoBasicsVectors.kind,
        SecretTreeVectors.kind,
        MessageProtectionVectors.kind,
        KeyScheduleVectors.kind,
        PSKSecretVectors.kind,
        TranscriptHashVectors.kind,
        DeserializationVectors.kind,
        MessagesVectors.kind,
        TreeValidationVectors.kind,
        TreeOperationsVectors.kind,
        TreeKEMVectors.kind,
        WelcomeVectors.kind,
        PassiveClientVectors.welcomeKind,
        PassiveClientVectors.handlingCommitKind,
        PassiveClientVectors.randomKind,
    ]

    /// Official files whose runners arrive with later milestones, and which one. Their cases are
    /// reported as skipped, with this reason, rather than silently ignored.
    package static let pending: [String: String] = [:]

    /// The places the official vectors are looked for, in order, for a checkout at `packageRoot`:
    /// `$MLS_TEST_VECTORS`, then `../shared/mls-test-vectors` beside the checkout, then the cache
    /// `.vectors/` that `Scripts/vectors.sh` fills. The script follows the same order. When
    /// `MLS_TEST_VECTORS` is set it is the only candidate: an explicit choice is never silently
    /// replaced by another copy.
    package static func candidateDirectories(
        packageRoot: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [String] {
        if let env = environment["MLS_TEST_VECTORS"], !env.isEmpty { return [env] }
        let root = URL(fileURLWithPath: packageRoot)
        return [
            root.deletingLastPathComponent().appendingPathComponent("shared/mls-test-vectors").path,
            root.appendingPathComponent(".vectors").path,
        ]
    }

    /// The first existing directory of `candidateDirectories(packageRoot:)`, or `nil`.
    package static func locate(
        packageRoot: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        candidateDirectories(packageRoot: packageRoot, environment: environment).first { dir in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) && isDir.boolValue
        }
    }

    /// What to tell a user who has no vectors: where they were looked for, and how to get them.
    package static func missingVectorsAdvice(packageRoot: String) -> String {
        "the official test vectors were not found (looked in "
            + candidateDirectories(packageRoot: packageRoot).joined(separator: ", ")
            + "); run Scripts/vectors.sh (part of Scripts/bootstrap.sh) to fetch them at the pinned commit,"
            + " or set MLS_TEST_VECTORS to a copy of mlswg/mls-implementations/test-vectors"
    }

    /// The kind for a file name (with or without `.json`).
    package static func kind(named name: String) -> VectorFileKind? {
        let base = name.hasSuffix(".json") ? String(name.dropLast(5)) : name
        return kinds.first { $0.name == base }
    }

    /// Verifies one file's contents with the runner for `kind`.
    package static func verify(_ kind: VectorFileKind, data: Data) -> VectorTally {
        do {
            return try kind.verify(data)
        } catch {
            var t = VectorTally()
            t.failed += 1
            t.notes.append("FAIL \(kind.name): file could not be read as the official format: \(error)")
            return t
        }
    }

    /// Generates a file for `kind`, or `nil` if that kind has no generator yet.
    package static func generate(_ kind: VectorFileKind) throws -> Data? {
        try kind.generate?()
    }

    /// Decodes a JSON array of cases.
    static func cases<T: Decodable>(_ type: T.Type, from data: Data) throws -> [T] {
        try JSONDecoder().decode([T].self, from: data)
    }

    /// Encodes cases as pretty-printed JSON with sorted keys.
    static func encode<T: Encodable>(_ cases: [T]) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(cases)
    }
}
