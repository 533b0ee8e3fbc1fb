@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// The fixed victim of the join targets.
package let victim = Identity(seed: 0x77)
/// The fixed external joiner.
package let externalJoiner = Identity(seed: 0x78)
/// The external PSK every fuzz configuration knows, so PSK paths can succeed.
package let knownPSKID: [UInt8] = Array("fuzz-psk".utf8)
package let knownPSK = SecretBytes([UInt8](repeating: 0x42, count: 32))

package func fuzzConfiguration() -> GroupConfiguration {
    var c = GroupConfiguration()
    c.psks = InMemoryPSKStore(external: [knownPSKID: knownPSK])
    // Outsiders' proposals are refused by default; accepting them reaches their validation.
    c.rules = DefaultGroupRules(acceptsNewMemberProposals: true, acceptsExternalSenderProposals: true)
    return c
}

/// A group state built with the library's own operations, and the Welcome that added the victim.
package struct JoinScenario: Sendable {
    package let name: String
    /// The committer's state after the commit that added the victim.
    package let committer: MLSGroup
    package let signer: Identity
    package let welcome: Welcome
    package let groupInfo: GroupInfo
    package let nodes: [Node?]
    package let secrets: DecryptedGroupSecrets
    package let keyring: Keyring
}

package enum Scenarios {
    static func add(_ g: inout MLSGroup, _ kps: [KeyPackage], path: Bool = true) throws -> CommitOutput {
        let out = try g.commit(CommitOptions(proposals: kps.map { .add($0) }, alwaysIncludePath: path))
        try g.merge(out.pending)
        return out
    }

    static func commit(_ g: inout MLSGroup, _ proposals: [Proposal]) throws -> CommitOutput {
        let out = try g.commit(CommitOptions(proposals: proposals))
        try g.merge(out.pending)
        return out
    }

    /// Four tree shapes, each ending with a commit that adds `victim`.
    package static func joinScenarios() -> [JoinScenario] {
        let c = Identity(seed: 1), a = Identity(seed: 2), b = Identity(seed: 3), d = Identity(seed: 4)
        let keyring = Keyring([c, a, b, d, victim, externalJoiner])
        let config = fuzzConfiguration()
        var result: [JoinScenario] = []
        func finish(_ name: String, _ g: MLSGroup, _ signer: Identity, _ out: CommitOutput) {
            guard case let .welcome(w)? = out.welcome?.body else { fatalError("\(name): no Welcome") }
            let secrets = try! WelcomeCrypto.decryptGroupSecrets(w, keyPackage: victim.keyPackage, initPrivateKey: victim.bundle.initPrivateKey)
            let info = try! WelcomeCrypto.decryptGroupInfo(w, joinerSecret: secrets.joinerSecret, pskSecret: nil)
            let nodes = try! RatchetTreeNodes(tlsSerialized: info.extensions.data(for: .ratchetTree)!).nodes
            // The unmutated Welcome must join, or the generator is broken.
            do { _ = try MLSGroup.join(welcome: out.welcome!, keyPackage: victim.bundle, configuration: config) } catch {
                fatalError("\(name): the library's own Welcome does not join: \(error)")
            }
            result.append(JoinScenario(name: name, committer: g, signer: signer, welcome: w, groupInfo: info, nodes: nodes, secrets: secrets, keyring: keyring))
        }
        do {
            // S0: two members.
            var g = try MLSGroup.create(suite: fuzzSuite, groupID: Array("fuzz-s0".utf8), creator: c.bundle, configuration: config)
            finish("s0", g, c, try add(&g, [victim.keyPackage]))
            // S1: victim added without a path: unmerged leaves in the parents.
            g = try MLSGroup.create(suite: fuzzSuite, groupID: Array("fuzz-s1".utf8), creator: c.bundle, configuration: config)
            _ = try add(&g, [a.keyPackage, b.keyPackage])
            finish("s1", g, c, try add(&g, [victim.keyPackage], path: false))
            // S2: a blank leaf in the middle, filled by the victim.
            g = try MLSGroup.create(suite: fuzzSuite, groupID: Array("fuzz-s2".utf8), creator: c.bundle, configuration: config)
            _ = try add(&g, [a.keyPackage, b.keyPackage, d.keyPackage])
            _ = try commit(&g, [.remove(LeafIndex(2))])
            finish("s2", g, c, try add(&g, [victim.keyPackage]))
            // S3: the committer is not leaf 0.
            g = try MLSGroup.create(suite: fuzzSuite, groupID: Array("fuzz-s3".utf8), creator: c.bundle, configuration: config)
            let out = try add(&g, [a.keyPackage, b.keyPackage])
            var ga = try MLSGroup.join(welcome: out.welcome!, keyPackage: a.bundle, configuration: config)
            finish("s3", ga, a, try add(&ga, [victim.keyPackage]))
        } catch {
            fatalError("building join scenarios: \(error)")
        }
        return result
    }

    /// Groups in several shapes, for persisted-state seeds.
    package static func sampleGroups() -> [MLSGroup] {
        var groups = joinScenarios().map(\.committer)
        for s in joinScenarios().prefix(2) {
            if let g = try? MLSGroup.join(welcome: MLSMessage(body: .welcome(s.welcome)), keyPackage: victim.bundle, configuration: fuzzConfiguration()) {
                groups.append(g)
            }
        }
        return groups
    }
}
