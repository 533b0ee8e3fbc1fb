@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// The cost of one of each primitive the floors count, measured as medians in the current run.
package struct PrimitiveCosts: Sendable {
    /// The cipher suite measured.
    package var suite: CipherSuite
    /// One `EncryptWithLabel` of a 32-byte path secret under a GroupContext (an HPKE seal).
    package var seal: Double
    /// One `DecryptWithLabel` of such a ciphertext (an HPKE open).
    package var open: Double
    /// One HPKE `DeriveKeyPair` from a 32-byte secret.
    package var deriveKeyPair: Double
    /// One HPKE `GenerateKeyPair` (reported only; the floors count it as a DeriveKeyPair).
    package var generateKeyPair: Double
    /// One `SignWithLabel` over a typical LeafNodeTBS.
    package var sign: Double
    /// One `VerifyWithLabel` of that signature.
    package var verify: Double
    /// One hash of a leaf's TreeHashInput (a typical member's LeafNode).
    package var shaLeaf: Double
    /// One hash of a non-blank parent's TreeHashInput.
    package var shaParent: Double
    /// One hash of a blank parent's TreeHashInput (two child hashes and little else).
    package var shaBlankParent: Double
    /// One hash of a blank leaf's TreeHashInput.
    package var shaBlankLeaf: Double
    /// Cores' worth of CPU others took while these were measured (see ``InterferenceProbe``).
    package var interference: Double

    /// Measures every primitive for `suite`, spending about `budget` seconds on each.
    package static func measure(suite: CipherSuite, budget: Double = 0.5) throws -> PrimitiveCosts {
        let member = try TreeFixture.makeMember(suite: suite, identity: Array("member-primitive".utf8))
        let leaf = member.leafNode
        let recipient = suite.hpke.generateKeyPair()
        let context = GroupContext(cipherSuite: suite.id, groupID: Array("mlskit-bench-group".utf8), epoch: 7,
                                   treeHash: [UInt8](repeating: 0xa5, count: suite.kdfLength),
                                   confirmedTranscriptHash: [UInt8](repeating: 0x5a, count: suite.kdfLength), extensions: []).tlsSerialized
        let pathSecret = SecretBytes(randomCount: suite.kdfLength).unsafeCopiedBytes()
        let ciphertext = try suite.encryptWithLabel(publicKey: recipient.publicKey, label: "UpdatePathNode", context: context, plaintext: pathSecret)
        let ikm = SecretBytes(randomCount: suite.kdfLength)
        let tbs = leaf.tbs(groupID: nil, leafIndex: nil)
        let signature = try suite.signWithLabel(signer: member.signer, label: LeafNode.signatureLabel, content: tbs)
        let hashes = HashInputs(suite: suite, leaf: leaf)

        let probe = InterferenceProbe()
        var sink = 0
        let verifies = { () throws -> Void in
            guard suite.verifyWithLabel(publicKey: leaf.signatureKey, label: LeafNode.signatureLabel, content: tbs, signature: signature) else {
                throw BenchError.unexpected("signature does not verify")
            }
        }
        // Each primitive is sampled in several short windows, interleaved with the others, so a
        // burst of load on the host (these are shared virtual machines) spoils a few samples of
        // every primitive rather than most samples of one, and the medians stay put.
        let windows = 5
        var samples = [[Double]](repeating: [], count: 10)
        for _ in 0..<windows {
            let b = budget / Double(windows)
            samples[0] += try timePrimitive(budget: b) {
                sink &+= try suite.encryptWithLabel(publicKey: recipient.publicKey, label: "UpdatePathNode", context: context, plaintext: pathSecret).kemOutput.count
            }
            samples[1] += try timePrimitive(budget: b) {
                sink &+= try suite.decryptWithLabel(privateKey: recipient.privateKey, label: "UpdatePathNode", context: context, ciphertext: ciphertext).count
            }
            samples[2] += try timePrimitive(budget: b) { sink &+= try suite.hpke.deriveKeyPair(ikm: ikm).publicKey.count }
            samples[3] += timePrimitive(budget: b) { sink &+= suite.hpke.generateKeyPair().publicKey.count }
            samples[4] += try timePrimitive(budget: b) {
                sink &+= try suite.signWithLabel(signer: member.signer, label: LeafNode.signatureLabel, content: tbs).count
            }
            samples[5] += try timePrimitive(budget: b, verifies)
            samples[6] += timePrimitive(budget: b) { sink &+= suite.digest(hashes.leaf).count }
            samples[7] += timePrimitive(budget: b) { sink &+= suite.digest(hashes.parent).count }
            samples[8] += timePrimitive(budget: b) { sink &+= suite.digest(hashes.blankParent).count }
            samples[9] += timePrimitive(budget: b) { sink &+= suite.digest(hashes.blankLeaf).count }
        }
        let m = samples.map { median($0) }
        let (seal, open, dkp, keygen, sign, verify, shaLeaf, shaParent, shaBlankParent, shaBlankLeaf) = (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9])
        withExtendedLifetime(sink) {}
        return PrimitiveCosts(suite: suite, seal: seal, open: open, deriveKeyPair: dkp, generateKeyPair: keygen, sign: sign, verify: verify,
                              shaLeaf: shaLeaf, shaParent: shaParent, shaBlankParent: shaBlankParent, shaBlankLeaf: shaBlankLeaf,
                              interference: probe.othersCores())
    }
}

/// TreeHashInput encodings (RFC 9420 §7.8) of each kind of node, byte for byte what the tree
/// hash feeds to the hash function, so the hashing floor costs each node at its own size.
struct HashInputs {
    let leaf: [UInt8]
    let parent: [UInt8]
    let blankParent: [UInt8]
    let blankLeaf: [UInt8]

    init(suite: CipherSuite, leaf node: LeafNode) {
        let childHash = [UInt8](repeating: 0x11, count: suite.kdfLength)
        func opaque(_ b: [UInt8]) -> [UInt8] {
            var w = TLSWriter()
            w.writeOpaque(b)
            return w.bytes
        }
        // node_type (1 = leaf, 2 = parent), then for a leaf: uint32 leaf_index, optional<LeafNode>;
        // for a parent: optional<ParentNode>, opaque left_hash<V>, opaque right_hash<V>.
        leaf = [1, 0, 0, 0, 5, 1] + node.tlsSerialized
        blankLeaf = [1, 0, 0, 0, 6, 0]
        let parentNode = ParentNode(encryptionKey: node.encryptionKey, parentHash: childHash, unmergedLeaves: [])
        parent = [2, 1] + parentNode.tlsSerialized + opaque(childHash) + opaque(childHash)
        blankParent = [2, 0] + opaque(childHash) + opaque(childHash)
    }
}

/// An operation's floor (../shared/design/benchmarks.md, "The floor"): its unavoidable
/// primitive operations times their measured costs, divided by the cores it can use.
package struct Floor: Sendable {
    /// The floor in seconds.
    package var seconds: Double
    /// The counts behind it, for the report.
    package var formula: String
    /// Whether the floor counts only hashing (the operation has no public-key operations).
    package var hashingOnly: Bool
}

/// The hashing cost of the given nodes of `tree`, each at the cost of its kind.
func hashingCost(_ nodes: some Sequence<NodeIndex>, in tree: RatchetTree, _ p: PrimitiveCosts) -> (seconds: Double, counts: [Int]) {
    var counts = [0, 0, 0, 0]  // leaves, blank leaves, parents, blank parents
    for node in nodes {
        if node.isLeaf {
            counts[tree.leaf(LeafIndex(node.rawValue / 2)) == nil ? 1 : 0] += 1
        } else {
            counts[tree.parent(node) == nil ? 3 : 2] += 1
        }
    }
    let seconds = Double(counts[0]) * p.shaLeaf + Double(counts[1]) * p.shaBlankLeaf + Double(counts[2]) * p.shaParent + Double(counts[3]) * p.shaBlankParent
    return (seconds, counts)
}

/// The floor of `op` on `scenario` (or, for `add_all`, for a group of `n`).
package func operationFloor(_ op: BenchOp, scenario s: Scenario?, n: Int, costs p: PrimitiveCosts, cores: Int) -> Floor {
    let c = Double(cores)
    switch op {
    case .commitUpdatePath:
        let s = s!
        let seals = s.commitSeals, dkp = s.commitPathLength
        let t = (Double(seals) * p.seal + Double(dkp) * p.deriveKeyPair) / c + p.sign + p.deriveKeyPair
        return Floor(seconds: t, formula: "(\(seals) seal + \(dkp) dkp)/\(cores) + 1 sign + 1 keygen", hashingOnly: false)

    case .processUpdatePath:
        let s = s!
        let dkp = s.processDeriveKeyPairs
        let t = p.open + Double(dkp) * p.deriveKeyPair / c + p.verify
        return Floor(seconds: t, formula: "1 open + \(dkp) dkp/\(cores) + 1 verify (receiver leaf \(s.receiver.rawValue))", hashingOnly: false)

    case .joinValidate:
        let s = s!
        let m = s.memberCount
        return Floor(seconds: Double(m) * p.verify / c, formula: "\(m) verify/\(cores)", hashingOnly: false)

    case .addAll:
        // The committer's filtered direct path after the adds: one node per level whose copath
        // subtree holds a member, i.e. every level k with 2^k < n.
        let path = (0..<32).filter { (1 << $0) < n }.count
        let k = n - 1
        let t = (Double(2 * k) * p.verify + Double(k) * p.seal + Double(path) * p.deriveKeyPair) / c + 2 * p.sign
        return Floor(seconds: t, formula: "(\(2 * k) verify + \(k) seal + \(path) dkp)/\(cores) + 2 sign", hashingOnly: false)

    case .treeHashCold:
        let s = s!
        let tree = s.tree
        let (t, counts) = hashingCost((0..<tree.nodeWidth).map { NodeIndex($0) }, in: tree, p)
        // The library hashes subtrees on all cores only from 256 leaves up (TreeHash.swift).
        let usable = tree.leafCount >= 256 ? cores : 1
        return Floor(seconds: t / Double(usable),
                     formula: "hashing: \(counts[0]) leaf + \(counts[1]) blank leaf + \(counts[2]) parent + \(counts[3]) blank parent sha/\(usable)",
                     hashingOnly: true)

    case .treeHashCached:
        let s = s!
        let tree = s.treeAfterCommit
        let nodes = [s.committer.nodeIndex] + TreeMath.directPath(s.committer.nodeIndex, leafCount: tree.leafCount)
        let (t, _) = hashingCost(nodes, in: tree, p)
        return Floor(seconds: t, formula: "hashing: (\(nodes.count - 1) path + 1 leaf) sha", hashingOnly: true)
    }
}
