import Foundation
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLS

/// The worst inputs we could build for each entry point (`join`, `externalJoin`, `process`,
/// KeyPackage validation), run one per process by `Scripts/hostile-report.sh`, which reports the
/// CPU time and peak memory of the entry point alone. Not a unit test: it measures, and runs only
/// when `MLS_HOSTILE_CASE` names a case (skipped, with that reason printed, otherwise).
///
/// The file uses only API that predates the hostile-input fixes, so the same cases can be run
/// against the code before them for the before/after table in Docs/Security.md.
@Suite struct HostileCostReport {
    static let caseName = ProcessInfo.processInfo.environment["MLS_HOSTILE_CASE"]
    static let suite = CipherSuite(id: 1)!

    static func bundle(_ name: String, capabilities: Capabilities? = nil, leafExtensions: [Extension] = []) throws -> KeyPackageBundle {
        var client = MLSClient.basic(identity: Array(name.utf8), suite: suite)
        client.capabilities = capabilities
        return try client.makeKeyPackage(leafExtensions: leafExtensions)
    }

    /// An outsider's own group: any tree and epoch, GroupInfo signed by leaf 0, honest tree hash
    /// and confirmation tag, a Welcome sealed to the victim's KeyPackage.
    struct Forged {
        let victim: KeyPackageBundle
        let info: GroupInfo
        let welcome: MLSMessage

        init(epoch: UInt64 = 7, victim: KeyPackageBundle, attacker: KeyPackageBundle, nodes: [Node?]) throws {
            let suite = HostileCostReport.suite
            self.victim = victim
            let treeNodes = RatchetTreeNodes(nodes: nodes)
            var tree = try RatchetTree(suite: suite, nodes: treeNodes)
            let context = GroupContext(cipherSuite: suite.id, groupID: SystemRandom.bytes(16), epoch: epoch, treeHash: tree.treeHash(),
                                       confirmedTranscriptHash: SystemRandom.bytes(suite.kdfLength), extensions: [])
            let joinerSecret = SecretBytes(randomCount: suite.kdfLength)
            let secrets = try KeyScheduleEpoch.derive(suite: suite, joinerSecret: joinerSecret, pskSecret: nil, groupContext: context.tlsSerialized)
            info = try WelcomeCrypto.signedGroupInfo(
                suite: suite, groupContext: context,
                extensions: [Extension(extensionType: .ratchetTree, extensionData: treeNodes.tlsSerialized),
                             Extension(extensionType: .externalPub, extensionData: ExternalPub(externalPub: try secrets.externalKeyPair().publicKey).tlsSerialized)],
                epoch: secrets, signerLeaf: 0, signer: attacker.signer)
            let encrypted = try WelcomeCrypto.encryptGroupInfo(suite: suite, groupInfo: info, welcomeSecret: secrets.welcomeSecret)
            let groupSecrets = try WelcomeCrypto.encryptGroupSecrets(
                suite: suite, recipients: [(victim.keyPackage, GroupSecrets(joinerSecret: joinerSecret.unsafeCopiedBytes(), pathSecret: nil, psks: []))],
                encryptedGroupInfo: encrypted)
            welcome = MLSMessage(body: .welcome(Welcome(cipherSuite: suite.id, secrets: groupSecrets, encryptedGroupInfo: encrypted)))
        }
    }

    /// A leaf whose capabilities list `junk` unused extension types before the `used` ones it
    /// carries: every membership test of the old nested scan walked the whole junk prefix.
    static func heavyLeafBundle(junk: Int, used: Int) throws -> KeyPackageBundle {
        let usedTypes = (0..<used).map { ExtensionType(rawValue: UInt16(0x8000 + $0)) }
        var caps = KeyPackageBundle.defaultCapabilities(suite: suite, credential: .basic(identity: Array("heavy".utf8)))
        caps.extensions = (0..<junk).map { ExtensionType(rawValue: UInt16(0x1000 + $0 % 0x6000)) } + usedTypes
        return try bundle("heavy", capabilities: caps, leafExtensions: usedTypes.map { Extension(extensionType: $0, extensionData: []) })
    }

    /// Builds the input of `name` (not measured), returns the entry point to measure and the
    /// input's size in bytes.
    static func prepare(_ name: String) throws -> (size: Int, run: () throws -> String) {
        switch name {
        case "join-unmerged-2^31":
            let victim = try bundle("citizen"), attacker = try bundle("mallory")
            let key = suite.hpke.generateKeyPair().publicKey
            let f = try Forged(victim: victim, attacker: attacker, nodes: [
                .leaf(attacker.keyPackage.leafNode), .parent(ParentNode(encryptionKey: key, parentHash: [], unmergedLeaves: [1 << 31])),
                .leaf(victim.keyPackage.leafNode)])
            return (f.welcome.tlsSerialized.count, { _ = try MLSGroup.join(welcome: f.welcome, keyPackage: f.victim); return "joined" })
        case "join-epoch-max":
            let victim = try bundle("citizen"), attacker = try bundle("mallory")
            let f = try Forged(epoch: .max, victim: victim, attacker: attacker,
                               nodes: [.leaf(attacker.keyPackage.leafNode), nil, .leaf(victim.keyPackage.leafNode)])
            return (f.welcome.tlsSerialized.count, {
                var g = try MLSGroup.join(welcome: f.welcome, keyPackage: f.victim)
                _ = try g.commit()
                return "joined and committed"
            })
        case "join-blank-tree", "externalJoin-blank-tree":
            // 8 Mi nodes, nearly all blank: one byte each on the wire.
            let victim = try bundle("citizen"), attacker = try bundle("mallory")
            var nodes = [Node?](repeating: nil, count: (8 << 20) - 1)
            nodes[0] = .leaf(attacker.keyPackage.leafNode)
            nodes[nodes.count - 1] = .leaf(victim.keyPackage.leafNode)
            let f = try Forged(victim: victim, attacker: attacker, nodes: nodes)
            if name.hasPrefix("join") {
                return (f.welcome.tlsSerialized.count, { _ = try MLSGroup.join(welcome: f.welcome, keyPackage: f.victim); return "joined" })
            }
            let joiner = try bundle("joiner")
            let message = MLSMessage(body: .groupInfo(f.info))
            return (message.tlsSerialized.count, { _ = try MLSGroup.externalJoin(groupInfo: message, keyPackage: joiner); return "joined" })
        case "join-unmerged-quadratic":
            // 16384 real leaves under one parent that lists them all as unmerged.
            let count = 16384
            let victim = try bundle("citizen"), attacker = try bundle("mallory")
            var nodes = [Node?](repeating: nil, count: 2 * count - 1)
            nodes[0] = .leaf(attacker.keyPackage.leafNode)
            nodes[2] = .leaf(victim.keyPackage.leafNode)
            for i in 2..<count { nodes[2 * i] = .leaf(try bundle("m\(i)").keyPackage.leafNode) }
            let root = Int(TreeMath.root(UInt32(count)).rawValue)
            nodes[root] = .parent(ParentNode(encryptionKey: suite.hpke.generateKeyPair().publicKey, parentHash: [],
                                             unmergedLeaves: (1..<UInt32(count)).map { $0 }))
            let f = try Forged(victim: victim, attacker: attacker, nodes: nodes)
            return (f.welcome.tlsSerialized.count, { _ = try MLSGroup.join(welcome: f.welcome, keyPackage: f.victim); return "joined" })
        case "keyPackage-capabilities":
            let heavy = try heavyLeafBundle(junk: 100_000, used: 10_000)
            let context = GroupContext(cipherSuite: suite.id, groupID: [1], epoch: 1, treeHash: [], confirmedTranscriptHash: [], extensions: [])
            let validator = LeafNodeValidator(suite: suite, groupContext: context)
            return (heavy.keyPackage.tlsSerialized.count, { validator.validate(keyPackage: heavy.keyPackage).map { "\($0)" } ?? "valid" })
        case "process-join-proposal":
            let heavy = try heavyLeafBundle(junk: 100_000, used: 10_000)
            var group = try MLSGroup.create(suite: suite, groupID: SystemRandom.bytes(16), creator: try bundle("authority"))
            let proposal = try MLSGroup.joinProposal(heavy, groupContext: group.context)
            return (proposal.tlsSerialized.count, { _ = try group.process(proposal); return "cached" })
        default:
            throw GroupError.internalError("unknown case \(name)")
        }
    }

    /// Peak resident memory since the last reset, in KiB (Linux: VmHWM; reset by writing 5 to
    /// /proc/self/clear_refs).
    static func peakKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return -1 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    static func residentKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return -1 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    @Test(.enabled(if: caseName != nil, "set MLS_HOSTILE_CASE (Scripts/hostile-report.sh) to measure a worst-case input"))
    func measure() throws {
        let name = try #require(Self.caseName)
        let (size, run) = try Self.prepare(name)
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let before = Self.residentKiB()
        print("HOSTILE-START \(name) size=\(size)")
        let cpu = Self.cpuSeconds()
        let outcome: String
        do { outcome = try run() } catch { outcome = "refused: \(error)" }
        let spent = Self.cpuSeconds() - cpu
        let peak = Self.peakKiB() - before
        print("HOSTILE-RESULT \(name) size=\(size) cpu=\(String(format: "%.3f", spent))s peak=+\(max(peak, 0) / 1024)MiB outcome=\(outcome)")
    }
}
