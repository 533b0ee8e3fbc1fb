import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

package enum StateCheck {
    /// snapshot → restore → snapshot must be byte-identical.
    package static func roundtrip(_ group: MLSGroup, what: String) {
        let snap = group.snapshot()
        var nodes: [UInt32: Node] = [:]
        for (index, node) in snap.tree.nodes { if let node { nodes[index] = node } }
        let restored: MLSGroup
        do {
            restored = try MLSGroup(restoringRecord: snap.record, nodes: nodes, configuration: group.configuration)
        } catch {
            fatalError("\(what): own snapshot does not restore: \(error)")
        }
        let again = restored.snapshot()
        guard again.record == snap.record, again.tree == snap.tree, again.epoch == snap.epoch, again.groupID == snap.groupID else {
            fatalError("\(what): snapshot → restore → snapshot differs")
        }
        guard restored.epochAuthenticator == group.epochAuthenticator else { fatalError("\(what): restored epoch authenticator differs") }
    }
}

/// `FUZZ_SEEDS_DIR=DIR TARGET -runs=0`: write the target's own seeds (built from real groups) and exit.
package enum SeedWriter {
    package static func handle(_ body: (String) -> Void) {
        guard let dir = ProcessInfo.processInfo.environment["FUZZ_SEEDS_DIR"], !dir.isEmpty else { return }
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        body(dir)
        exit(0)
    }

    package static func write(_ bytes: [UInt8], to dir: String, name: String) {
        FileManager.default.createFile(atPath: "\(dir)/\(name)", contents: Data(bytes))
    }
}

/// `FUZZ_VERBOSE=1`: print one line per input about how far it got (for checking depth:
/// `FUZZ_VERBOSE=1 TARGET -runs=0 CORPUS 2>&1 | grep '^outcome' | sort | uniq -c`).
package let fuzzVerbose = ProcessInfo.processInfo.environment["FUZZ_VERBOSE"] == "1"

package func outcome(_ text: @autoclosure () -> String) {
    if fuzzVerbose { FileHandle.standardError.write(Data("outcome: \(text())\n".utf8)) }
}
