@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

// The persisted group record as named structures (Docs/Storage.md, "Encoding"). Each structure
// writes and reads its own fields by name, so the byte layout is defined here, field by field,
// and not by the order of statements in one long encoder. Only structure, not meaning, is
// checked while decoding; whatever needs the rebuilt ratchet tree (leaf and node indices, tree
// sizes, senders of cached proposals) is checked when the group is restored from the record.

/// The record of a member's group state: everything except the current ratchet tree's nodes.
struct GroupStateRecord {
    /// Leading bytes of every record.
    static let magic: [UInt8] = Array("MLSK".utf8)
    /// The version written.
    static let currentVersion: UInt16 = 2
    /// The versions read. Version 1 differs from 2 only in ``EpochSecretsRecord``: its eleven
    /// secrets were written untagged, in a fixed order.
    static let readableVersions: ClosedRange<UInt16> = 1...2

    var suite: CipherSuite
    var context: GroupContext
    /// Of the current tree, which is stored as node rows beside the record.
    var nodeWidth: UInt32
    var member: MemberStateRecord
    /// The pending commit stored with the group (a `PendingCommit` the store handle holds; the
    /// group value itself has none). Same place and layout as when the group held it, so the
    /// format version did not change with that.
    var pending: PendingCommitRecord?
    /// Oldest first; each tree is an overlay on the next newer one (the newest on the current tree).
    var pastEpochs: [PastEpochRecord]

    func encode(to w: inout TLSWriter, version: UInt16) {
        w.writeRaw(Self.magic)
        w.writeUInt16(version)
        w.writeUInt16(suite.id)
        w.write(context)
        w.writeUInt32(nodeWidth)
        member.encode(to: &w, version: version)
        if let pending {
            w.writeUInt8(1)
            pending.encode(to: &w, version: version)
        } else {
            w.writeUInt8(0)
        }
        w.writeVector { w in
            for past in pastEpochs { past.encode(to: &w) }
        }
    }

    /// Reads a whole record; trailing bytes are refused. `maxForwardDistance` is the
    /// application's bound for the secret trees read here (it is not stored).
    init(decoding bytes: [UInt8], maxForwardDistance: UInt32) throws(GroupStateError) {
        var r = TLSReader(bytes)
        do {
            guard r.remaining >= 6, try r.readBytes(4) == Self.magic else { throw GroupStateError.notGroupState }
            let version = try r.readUInt16()
            guard Self.readableVersions.contains(version) else { throw GroupStateError.unsupportedVersion(version) }
            let suiteID = try r.readUInt16()
            guard let suite = CipherSuite(id: suiteID) else { throw GroupStateError.unknownCipherSuite(suiteID) }
            self.suite = suite
            context = try r.read(GroupContext.self)
            nodeWidth = try r.readUInt32()
            member = try MemberStateRecord(decoding: &r, version: version, suite: suite, maxForwardDistance: maxForwardDistance)
            pending = try r.readPresence("pending commit")
                ? try PendingCommitRecord(decoding: &r, version: version, suite: suite, maxForwardDistance: maxForwardDistance)
                : nil
            var list = try r.readVectorReader()
            pastEpochs = []
            while !list.isAtEnd {
                pastEpochs.append(try PastEpochRecord(decoding: &list, suite: suite, maxForwardDistance: maxForwardDistance))
            }
            try r.finish()
        } catch let e as GroupStateError {
            throw e
        } catch {
            throw GroupStateError.malformed("\(error)")
        }
    }

    init(suite: CipherSuite, context: GroupContext, nodeWidth: UInt32, member: MemberStateRecord, pending: PendingCommitRecord?,
         pastEpochs: [PastEpochRecord]) {
        self.suite = suite
        self.context = context
        self.nodeWidth = nodeWidth
        self.member = member
        self.pending = pending
        self.pastEpochs = pastEpochs
    }
}

/// A member's private and per-epoch state: everything but the GroupContext and the trees.
struct MemberStateRecord {
    var leafIndex: UInt32
    /// HPKE private keys of nodes on this member's path, ascending by node index.
    var pathKeys: [(node: UInt32, privateKey: SecretBytes)]
    var signaturePrivateKey: SecretBytes
    var epochSecrets: EpochSecretsRecord
    var secretTree: SecretTree
    var interimTranscriptHash: [UInt8]
    /// Proposals cached in this epoch, in the order received.
    var proposals: [(ref: [UInt8], proposal: Proposal, sender: Sender)]
    /// Retained resumption PSKs, ascending by epoch.
    var resumptionPSKs: [(epoch: UInt64, psk: SecretBytes)]
    /// Private keys of this member's proposed Update leaves, ascending by public key.
    var updateLeafKeys: [(publicKey: [UInt8], privateKey: SecretBytes)]
    var linkedResumptionUsage: ResumptionPSKUsage?
    /// Proposal messages this member sent in this epoch, ascending by message bytes.
    var ownProposals: [(message: [UInt8], proposal: Proposal)]
    var isActive: Bool
    var pendingReInit: ReInit?

    func encode(to w: inout TLSWriter, version: UInt16) {
        w.writeUInt32(leafIndex)
        w.writeVector { w in
            for entry in pathKeys {
                w.writeUInt32(entry.node)
                writeSecret(entry.privateKey, to: &w)
            }
        }
        writeSecret(signaturePrivateKey, to: &w)
        epochSecrets.encode(to: &w, version: version)
        secretTree.encodeState(to: &w)
        w.writeOpaque(interimTranscriptHash)
        w.writeVector { w in
            for p in proposals {
                w.writeOpaque(p.ref)
                w.write(p.proposal)
                w.write(p.sender)
            }
        }
        w.writeVector { w in
            for entry in resumptionPSKs {
                w.writeUInt64(entry.epoch)
                writeSecret(entry.psk, to: &w)
            }
        }
        w.writeVector { w in
            for entry in updateLeafKeys {
                w.writeOpaque(entry.publicKey)
                writeSecret(entry.privateKey, to: &w)
            }
        }
        w.writeOptional(linkedResumptionUsage)
        w.writeVector { w in
            for entry in ownProposals {
                w.writeOpaque(entry.message)
                w.write(entry.proposal)
            }
        }
        w.writeUInt8(isActive ? 1 : 0)
        w.writeOptional(pendingReInit)
    }

    init(decoding r: inout TLSReader, version: UInt16, suite: CipherSuite, maxForwardDistance: UInt32) throws {
        leafIndex = try r.readUInt32()
        var keys = try r.readVectorReader()
        pathKeys = []
        while !keys.isAtEnd {
            let node = try keys.readUInt32()
            // Maps are written in ascending key order; anything else is not a record we wrote.
            guard pathKeys.last.map({ $0.node < node }) ?? true else { throw GroupStateError.malformed("path key order at node \(node)") }
            pathKeys.append((node, try readSecret(&keys)))
        }
        signaturePrivateKey = try readSecret(&r)
        epochSecrets = try EpochSecretsRecord(decoding: &r, version: version)
        secretTree = try SecretTree(decodingStateFrom: &r, suite: suite, maxForwardDistance: maxForwardDistance)
        interimTranscriptHash = try r.readOpaque()
        var list = try r.readVectorReader()
        proposals = []
        while !list.isAtEnd {
            proposals.append((try list.readOpaque(), try list.read(Proposal.self), try list.read(Sender.self)))
        }
        list = try r.readVectorReader()
        resumptionPSKs = []
        while !list.isAtEnd {
            let epoch = try list.readUInt64()
            guard resumptionPSKs.last.map({ $0.epoch < epoch }) ?? true else { throw GroupStateError.malformed("resumption PSK order") }
            resumptionPSKs.append((epoch, try readSecret(&list)))
        }
        list = try r.readVectorReader()
        updateLeafKeys = []
        while !list.isAtEnd {
            let key = try list.readOpaque()
            guard updateLeafKeys.last.map({ $0.publicKey.lexicographicallyPrecedes(key) }) ?? true else {
                throw GroupStateError.malformed("update leaf key order")
            }
            updateLeafKeys.append((key, try readSecret(&list)))
        }
        linkedResumptionUsage = try r.readOptional(of: ResumptionPSKUsage.self)
        list = try r.readVectorReader()
        ownProposals = []
        while !list.isAtEnd {
            let message = try list.readOpaque()
            guard ownProposals.last.map({ $0.message.lexicographicallyPrecedes(message) }) ?? true else {
                throw GroupStateError.malformed("own proposal order")
            }
            ownProposals.append((message, try list.read(Proposal.self)))
        }
        isActive = try r.readPresence("is_active")
        pendingReInit = try r.readOptional(of: ReInit.self)
    }

    init(leafIndex: UInt32, pathKeys: [(node: UInt32, privateKey: SecretBytes)], signaturePrivateKey: SecretBytes,
         epochSecrets: EpochSecretsRecord, secretTree: SecretTree, interimTranscriptHash: [UInt8],
         proposals: [(ref: [UInt8], proposal: Proposal, sender: Sender)], resumptionPSKs: [(epoch: UInt64, psk: SecretBytes)],
         updateLeafKeys: [(publicKey: [UInt8], privateKey: SecretBytes)], linkedResumptionUsage: ResumptionPSKUsage?,
         ownProposals: [(message: [UInt8], proposal: Proposal)], isActive: Bool, pendingReInit: ReInit?) {
        self.leafIndex = leafIndex
        self.pathKeys = pathKeys
        self.signaturePrivateKey = signaturePrivateKey
        self.epochSecrets = epochSecrets
        self.secretTree = secretTree
        self.interimTranscriptHash = interimTranscriptHash
        self.proposals = proposals
        self.resumptionPSKs = resumptionPSKs
        self.updateLeafKeys = updateLeafKeys
        self.linkedResumptionUsage = linkedResumptionUsage
        self.ownProposals = ownProposals
        self.isActive = isActive
        self.pendingReInit = pendingReInit
    }
}

/// The epoch's key-schedule secrets (RFC 9420 §8).
///
/// Eleven values of one type in a row are exactly where a positional encoding goes wrong
/// without anyone noticing: two swapped fields still decode. From version 2 on each secret is
/// written with its ``Label``, and a record must carry every label exactly once, in order.
struct EpochSecretsRecord {
    /// The tag of each secret. The raw values are also the order of version 1's untagged list.
    enum Label: UInt8, CaseIterable {
        case joinerSecret = 1
        case welcomeSecret
        case senderDataSecret
        case encryptionSecret
        case exporterSecret
        case epochAuthenticator
        case externalSecret
        case confirmationKey
        case membershipKey
        case resumptionPSK
        case initSecret

        var field: WritableKeyPath<EpochSecretsRecord, SecretBytes> {
            switch self {
            case .joinerSecret: \.joinerSecret
            case .welcomeSecret: \.welcomeSecret
            case .senderDataSecret: \.senderDataSecret
            case .encryptionSecret: \.encryptionSecret
            case .exporterSecret: \.exporterSecret
            case .epochAuthenticator: \.epochAuthenticator
            case .externalSecret: \.externalSecret
            case .confirmationKey: \.confirmationKey
            case .membershipKey: \.membershipKey
            case .resumptionPSK: \.resumptionPSK
            case .initSecret: \.initSecret
            }
        }
    }

    var joinerSecret: SecretBytes
    var welcomeSecret: SecretBytes
    var senderDataSecret: SecretBytes
    var encryptionSecret: SecretBytes
    var exporterSecret: SecretBytes
    var epochAuthenticator: SecretBytes
    var externalSecret: SecretBytes
    var confirmationKey: SecretBytes
    var membershipKey: SecretBytes
    var resumptionPSK: SecretBytes
    var initSecret: SecretBytes

    init(_ e: KeyScheduleEpoch) {
        joinerSecret = e.joinerSecret
        welcomeSecret = e.welcomeSecret
        senderDataSecret = e.senderDataSecret
        encryptionSecret = e.encryptionSecret
        exporterSecret = e.exporterSecret
        epochAuthenticator = e.epochAuthenticator
        externalSecret = e.externalSecret
        confirmationKey = e.confirmationKey
        membershipKey = e.membershipKey
        resumptionPSK = e.resumptionPSK
        initSecret = e.initSecret
    }

    func keySchedule(suite: CipherSuite) -> KeyScheduleEpoch {
        KeyScheduleEpoch(
            suite: suite, joinerSecret: joinerSecret, welcomeSecret: welcomeSecret, senderDataSecret: senderDataSecret,
            encryptionSecret: encryptionSecret, exporterSecret: exporterSecret, epochAuthenticator: epochAuthenticator,
            externalSecret: externalSecret, confirmationKey: confirmationKey, membershipKey: membershipKey, resumptionPSK: resumptionPSK,
            initSecret: initSecret)
    }

    func encode(to w: inout TLSWriter, version: UInt16) {
        if version == 1 {
            for label in Label.allCases { writeSecret(self[keyPath: label.field], to: &w) }
            return
        }
        w.writeVector { w in
            for label in Label.allCases {
                w.writeUInt8(label.rawValue)
                writeSecret(self[keyPath: label.field], to: &w)
            }
        }
    }

    init(decoding r: inout TLSReader, version: UInt16) throws {
        var values: [SecretBytes] = []
        if version == 1 {
            for _ in Label.allCases { values.append(try readSecret(&r)) }
        } else {
            var list = try r.readVectorReader()
            for label in Label.allCases {
                guard !list.isAtEnd else { throw GroupStateError.malformed("epoch secrets: \(label) missing") }
                let tag = try list.readUInt8()
                guard tag == label.rawValue else { throw GroupStateError.malformed("epoch secrets: tag \(tag) where \(label) belongs") }
                values.append(try readSecret(&list))
            }
            guard list.isAtEnd else { throw GroupStateError.malformed("epoch secrets: unknown trailing entries") }
        }
        joinerSecret = values[0]
        welcomeSecret = values[1]
        senderDataSecret = values[2]
        encryptionSecret = values[3]
        exporterSecret = values[4]
        epochAuthenticator = values[5]
        externalSecret = values[6]
        confirmationKey = values[7]
        membershipKey = values[8]
        resumptionPSK = values[9]
        initSecret = values[10]
    }
}

/// A commit this member sent and has not yet seen come back (§14), with the state it leads to.
struct PendingCommitRecord {
    /// Hash(MLSMessage) of the commit in the suite's hash, to recognise it when it comes back.
    var commitHash: [UInt8]
    var nextContext: GroupContext
    /// Relative to the current tree.
    var nextTree: TreeDelta
    var nextMember: MemberStateRecord

    func encode(to w: inout TLSWriter, version: UInt16) {
        w.writeOpaque(commitHash)
        w.write(nextContext)
        nextTree.encodeOverlay(to: &w)
        nextMember.encode(to: &w, version: version)
    }

    init(decoding r: inout TLSReader, version: UInt16, suite: CipherSuite, maxForwardDistance: UInt32) throws {
        commitHash = try r.readOpaque()
        nextContext = try r.read(GroupContext.self)
        nextTree = try TreeDelta(decodingOverlay: &r)
        nextMember = try MemberStateRecord(decoding: &r, version: version, suite: suite, maxForwardDistance: maxForwardDistance)
    }

    init(commitHash: [UInt8], nextContext: GroupContext, nextTree: TreeDelta, nextMember: MemberStateRecord) {
        self.commitHash = commitHash
        self.nextContext = nextContext
        self.nextTree = nextTree
        self.nextMember = nextMember
    }
}

/// A past epoch kept for late application messages (§9.2).
struct PastEpochRecord {
    var context: GroupContext
    var secretTree: SecretTree
    var senderDataSecret: SecretBytes
    /// Relative to the next newer epoch's tree.
    var tree: TreeDelta

    func encode(to w: inout TLSWriter) {
        w.write(context)
        secretTree.encodeState(to: &w)
        writeSecret(senderDataSecret, to: &w)
        tree.encodeOverlay(to: &w)
    }

    init(decoding r: inout TLSReader, suite: CipherSuite, maxForwardDistance: UInt32) throws {
        context = try r.read(GroupContext.self)
        secretTree = try SecretTree(decodingStateFrom: &r, suite: suite, maxForwardDistance: maxForwardDistance)
        senderDataSecret = try readSecret(&r)
        tree = try TreeDelta(decodingOverlay: &r)
    }

    init(context: GroupContext, secretTree: SecretTree, senderDataSecret: SecretBytes, tree: TreeDelta) {
        self.context = context
        self.secretTree = secretTree
        self.senderDataSecret = senderDataSecret
        self.tree = tree
    }
}

extension TreeDelta {
    /// `TreeOverlay`: the width, then the changed nodes ascending by index (absent = blank).
    func encodeOverlay(to w: inout TLSWriter) {
        w.writeUInt32(nodeWidth)
        w.writeVector { w in
            for (index, node) in nodes {
                w.writeUInt32(index)
                w.writeOptional(node)
            }
        }
    }

    init(decodingOverlay r: inout TLSReader) throws {
        let width = try r.readUInt32()
        var list = try r.readVectorReader()
        var nodes: [(index: UInt32, node: Node?)] = []
        while !list.isAtEnd {
            let index = try list.readUInt32()
            guard index < width, nodes.last.map({ $0.index < index }) ?? true else { throw GroupStateError.malformed("tree overlay index \(index)") }
            nodes.append((index, try list.readOptional(of: Node.self)))
        }
        self.init(nodeWidth: width, nodes: nodes)
    }
}

private func writeSecret(_ s: SecretBytes, to w: inout TLSWriter) {
    s.withUnsafeBytes { w.writeOpaque($0) }
}

private func readSecret(_ r: inout TLSReader) throws -> SecretBytes {
    var raw = try r.readOpaque()
    return SecretBytes(zeroizing: &raw)
}
