@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// Structure-aware mutations. Every choice comes from the fuzz input; 0 keeps the valid value.
package enum Mutate {
    package static let interestingExtensionTypes: [UInt16] = [1, 2, 3, 4, 5, 0, 6, 0x0a0a, 0xf000, 0xffff]
    package static let interestingSuites: [UInt16] = [1, 2, 3, 4, 5, 6, 7, 0, 8, 0xffff]

    package static func extensionType(_ inp: inout FuzzInput) -> ExtensionType {
        inp.bool() ? ExtensionType(inp.u16()) : ExtensionType(inp.pick(interestingExtensionTypes) ?? 1)
    }

    package static func extensions(_ exts: inout [Extension], _ inp: inout FuzzInput, keyring: Keyring, suite: CipherSuite) {
        switch inp.int(10) {
        case 0: break
        case 1: if !exts.isEmpty { exts.remove(at: inp.int(exts.count)) }
        case 2: exts.append(Extension(extensionType: extensionType(&inp), extensionData: inp.bytes(max: 48)))
        case 3: if let e = inp.pick(exts) { exts.insert(e, at: inp.int(exts.count + 1)) }
        case 4:
            var types: [ExtensionType] = []
            for _ in 0..<inp.int(4) { types.append(extensionType(&inp)) }
            var proposals: [ProposalType] = []
            for _ in 0..<inp.int(3) { proposals.append(ProposalType(inp.bool() ? inp.u16() : UInt16(inp.int(9)))) }
            var creds: [CredentialType] = []
            for _ in 0..<inp.int(3) { creds.append(CredentialType(inp.bool() ? inp.u16() : UInt16(inp.int(4)))) }
            let rc = RequiredCapabilities(extensionTypes: types, proposalTypes: proposals, credentialTypes: creds)
            exts.append(Extension(extensionType: .requiredCapabilities, extensionData: rc.tlsSerialized))
        case 5:
            var senders: [ExternalSender] = []
            for _ in 0..<(1 + inp.int(3)) {
                let key = inp.bool() ? inp.bytes(max: 40) : (inp.pick(keyring.publicKeys) ?? [])
                senders.append(ExternalSender(signatureKey: key, credential: .basic(identity: inp.bytes(max: 8))))
            }
            var w = TLSWriter()
            w.writeVector(senders)
            exts.append(Extension(extensionType: .externalSenders, extensionData: w.bytes))
        case 6:
            let key = inp.bool() ? inp.bytes(max: 40) : suite.hpke.generateKeyPair().publicKey
            exts.append(Extension(extensionType: .externalPub, extensionData: ExternalPub(externalPub: key).tlsSerialized))
        case 7: exts.append(Extension(extensionType: .applicationID, extensionData: inp.bytes(max: 16)))
        case 8: if !exts.isEmpty { let i = inp.int(exts.count); exts[i].extensionData = inp.bytes(max: 64) }
        default: if !exts.isEmpty { let i = inp.int(exts.count); exts[i].extensionType = extensionType(&inp) }
        }
    }

    package static func capabilities(_ caps: inout Capabilities, _ inp: inout FuzzInput) {
        switch inp.int(7) {
        case 0: break
        case 1: caps.versions.append(ProtocolVersion(inp.u16()))
        case 2: caps.cipherSuites = inp.bool() ? [] : caps.cipherSuites + [inp.pick(interestingSuites) ?? 1]
        case 3: caps.extensions.append(extensionType(&inp))
        case 4: caps.proposals.append(ProposalType(inp.bool() ? inp.u16() : UInt16(inp.int(9))))
        case 5: caps.credentials = inp.bool() ? [] : caps.credentials + [CredentialType(inp.u16())]
        default: caps.versions = []
        }
    }

    /// Mutates a leaf; re-signs it (by default) when its signature key is known.
    package static func leaf(_ leaf: inout LeafNode, _ inp: inout FuzzInput, keyring: Keyring, suite: CipherSuite,
                            groupID: [UInt8], leafIndex: UInt32, otherKeys: [[UInt8]]) {
        for _ in 0..<(1 + inp.int(3)) {
            switch inp.int(9) {
            case 0: break
            case 1: leaf.encryptionKey = inp.bool() ? inp.bytes(max: 40) : (inp.pick(otherKeys) ?? [])
            case 2: if let k = inp.pick(keyring.publicKeys) { leaf.signatureKey = k } else { leaf.signatureKey = inp.bytes(max: 40) }
            case 3: leaf.credential = inp.bool() ? .basic(identity: inp.bytes(max: 16)) : .x509(certificates: [inp.bytes(max: 64)])
            case 4: capabilities(&leaf.capabilities, &inp)
            case 5:
                switch inp.int(4) {
                case 0: leaf.leafNodeSource = .keyPackage(Lifetime(notBefore: inp.interestingU64(keep: 0), notAfter: inp.interestingU64(keep: UInt64.max)))
                case 1: leaf.leafNodeSource = .update
                case 2: leaf.leafNodeSource = .commit(parentHash: inp.bytes(max: 40))
                default: leaf.leafNodeSource = .keyPackage(Lifetime(notBefore: UInt64.max, notAfter: 0))
                }
            case 6: extensions(&leaf.extensions, &inp, keyring: keyring, suite: suite)
            case 7: leaf.signature = inp.bytes(max: 70)
            default: leaf.encryptionKey = suite.hpke.generateKeyPair().publicKey
            }
        }
        if !inp.bool(), let sk = keyring[leaf.signatureKey] {
            try? leaf.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: sk), groupID: groupID, leafIndex: leafIndex)
        }
    }

    /// Tree-shape and node mutations of a `ratchet_tree`.
    package static func nodes(_ nodes: inout [Node?], _ inp: inout FuzzInput, keyring: Keyring, suite: CipherSuite, groupID: [UInt8]) {
        let count = nodes.count
        let i = inp.int(max(count, 1))
        let keys: [[UInt8]] = nodes.compactMap {
            switch $0 {
            case let .leaf(l)?: l.encryptionKey
            case let .parent(p)?: p.encryptionKey
            case nil: nil
            }
        }
        switch inp.int(12) {
        case 0: break
        case 1: if i < count { nodes[i] = nil }
        case 2:
            if i < count, case var .parent(p)? = nodes[i] {
                var leaves: [UInt32] = []
                let leafCount = UInt32((count + 1) / 2)
                for _ in 0..<(1 + inp.int(4)) { leaves.append(inp.interestingU32(keep: UInt32(inp.int(Int(leafCount))), near: leafCount)) }
                if inp.bool() { p.unmergedLeaves += leaves } else { p.unmergedLeaves = leaves }
                nodes[i] = .parent(p)
            }
        case 3:
            if i < count, case var .parent(p)? = nodes[i] {
                p.parentHash = inp.bool() ? inp.bytes(max: 40) : []
                nodes[i] = .parent(p)
            }
        case 4:
            if i < count, case var .parent(p)? = nodes[i] {
                p.encryptionKey = inp.bool() ? inp.bytes(max: 40) : (inp.pick(keys) ?? [])
                nodes[i] = .parent(p)
            } else if i < count, nodes[i] == nil, i % 2 == 1 {
                nodes[i] = .parent(ParentNode(encryptionKey: suite.hpke.generateKeyPair().publicKey, parentHash: inp.bytes(max: 32), unmergedLeaves: []))
            }
        case 5:
            if i < count, case var .leaf(l)? = nodes[i] {
                Mutate.leaf(&l, &inp, keyring: keyring, suite: suite, groupID: groupID, leafIndex: UInt32(i / 2), otherKeys: keys)
                nodes[i] = .leaf(l)
            }
        case 6: let j = inp.int(max(count, 1)); if i < count, j < count { nodes.swapAt(i, j) }
        case 7: for _ in 0..<(1 + inp.int(4)) { nodes.append(inp.bool() ? nil : nodes.randomElement() ?? nil) }
        case 8: if count > 0 { nodes.removeLast(1 + inp.int(count)) }
        case 9:
            // Type confusion: a leaf where a parent belongs or the reverse.
            if i < count, let some = nodes.first(where: { ($0.map { $0.nodeType } ?? nil) != (nodes[i].map { $0.nodeType } ?? nil) && $0 != nil }) {
                nodes[i] = some
            }
        case 10:
            // Copy a leaf to another leaf slot (duplicate signature/encryption keys).
            let j = inp.int(max(count, 1))
            if i % 2 == 0, j % 2 == 0, i < count, j < count { nodes[j] = nodes[i] }
        default:
            // Grow the tree to an extreme width with blanks (bounded to keep runs fast).
            let extra = [2, 4, 6, 30, 62, 126][inp.int(6)]
            nodes += [Node?](repeating: nil, count: extra)
            if inp.bool(), let last = nodes.lastIndex(where: { if case .leaf? = $0 { true } else { false } }) {
                nodes.append(nodes[last])
            }
        }
    }
}
