@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// A GroupInfo (context, extensions, tree) taken apart for mutation and put back together with
/// a fresh tree hash, key schedule, confirmation tag and signature.
package struct GroupInfoForge {
    package var context: GroupContext
    package var extensions: [Extension]
    package var nodes: [Node?]
    package var signer: UInt32
    package var recomputeTreeHash = true
    package var treeOutOfBand = false
    package var garbageTag: [UInt8]?
    package var resignLeaves = false
    package var mutations = 0

    package init(_ info: GroupInfo, nodes: [Node?]) {
        context = info.groupContext
        extensions = info.extensions.filter { $0.extensionType != .ratchetTree }
        self.nodes = nodes
        signer = info.signer
    }

    /// Applies up to 8 input-chosen mutations.
    package mutating func mutate(_ inp: inout FuzzInput, keyring: Keyring, suite: CipherSuite) {
        let n = inp.int(9)
        for _ in 0..<n {
            mutations += 1
            switch inp.int(16) {
            case 0: context.epoch = inp.interestingU64(keep: context.epoch)
            case 1: context.groupID = inp.bytes(max: 40)
            case 2: Mutate.extensions(&context.extensions, &inp, keyring: keyring, suite: suite)
            case 3: Mutate.extensions(&extensions, &inp, keyring: keyring, suite: suite)
            case 4, 5, 6: Mutate.nodes(&nodes, &inp, keyring: keyring, suite: suite, groupID: context.groupID)
            case 7: context.confirmedTranscriptHash = inp.bytes(max: 64)
            case 8: context.cipherSuite = inp.pick(Mutate.interestingSuites) ?? 1
            case 9: signer = inp.interestingU32(keep: signer, near: UInt32((nodes.count + 1) / 2))
            case 10: treeOutOfBand.toggle()
            case 11: context.version = ProtocolVersion(inp.bool() ? 0 : inp.u16())
            case 12: recomputeTreeHash = false; context.treeHash = inp.bytes(max: 40)
            case 13: garbageTag = inp.bytes(max: 40)
            case 14: resignLeaves = true
            default: extensions.append(Extension(extensionType: .ratchetTree, extensionData: inp.bytes(max: 64)))
            }
        }
    }

    /// Re-signs known leaves with the final group ID and their index.
    mutating func resign(keyring: Keyring, suite: CipherSuite) {
        for i in stride(from: 0, to: nodes.count, by: 2) {
            guard case var .leaf(l)? = nodes[i], let sk = keyring[l.signatureKey] else { continue }
            try? l.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: sk), groupID: context.groupID, leafIndex: UInt32(i / 2))
            nodes[i] = .leaf(l)
        }
    }

    /// The tree nodes as sent.
    package var treeNodes: RatchetTreeNodes { RatchetTreeNodes(nodes: nodes) }

    /// Puts the GroupInfo back together: tree hash (when the mutated tree still builds), the
    /// `ratchet_tree` extension, confirmation tag under `epoch` (derived by the caller from the
    /// final context) and the signature of `signerKey`.
    package mutating func finishContext(keyring: Keyring, suite: CipherSuite) {
        if resignLeaves { resign(keyring: keyring, suite: suite) }
        if recomputeTreeHash, var tree = try? RatchetTree(suite: suite, nodes: treeNodes) {
            context.treeHash = tree.treeHash()
        }
    }

    package func groupInfo(suite: CipherSuite, confirmationKey: SecretBytes?, keepTag: [UInt8], signerKey: SecretBytes) -> GroupInfo {
        var exts = extensions
        if !treeOutOfBand { exts.insert(Extension(extensionType: .ratchetTree, extensionData: treeNodes.tlsSerialized), at: 0) }
        let tag = garbageTag ?? confirmationKey.map {
            TranscriptHash.confirmationTag(suite: suite, confirmationKey: $0, confirmed: context.confirmedTranscriptHash)
        } ?? keepTag
        var info = GroupInfo(groupContext: context, extensions: exts, confirmationTag: tag, signer: signer, signature: [])
        try? info.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: signerKey))
        return info
    }

    /// The private key to sign with: the signer leaf's if known, else `fallback`.
    package func signerKey(keyring: Keyring, fallback: SecretBytes) -> SecretBytes {
        let i = Int(signer) &* 2
        if signer < UInt32(Int32.max), i >= 0, i < nodes.count, case let .leaf(l)? = nodes[i], let sk = keyring[l.signatureKey] { return sk }
        return fallback
    }
}
