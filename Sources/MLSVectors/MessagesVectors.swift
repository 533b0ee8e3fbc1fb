import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `messages.json`: the wire structures of RFC 9420 (§6–§12). Every field must decode strictly
/// and re-encode to the identical bytes; the KeyPackage's signatures are checked when its suite is
/// supported.
enum MessagesVectors {
    struct Case: Codable {
        var mls_welcome: HexBytes
        var mls_group_info: HexBytes
        var mls_key_package: HexBytes
        var ratchet_tree: HexBytes
        var group_secrets: HexBytes
        var add_proposal: HexBytes
        var update_proposal: HexBytes
        var remove_proposal: HexBytes
        var pre_shared_key_proposal: HexBytes
        var re_init_proposal: HexBytes
        var external_init_proposal: HexBytes
        var group_context_extensions_proposal: HexBytes
        var commit: HexBytes
        var public_message_application: HexBytes
        var public_message_proposal: HexBytes
        var public_message_commit: HexBytes
        var private_message: HexBytes
    }

    static let kind = VectorFileKind(name: "messages", verify: verify, generate: generate)

    /// Decodes `bytes` as a whole `T` and checks that it re-encodes to the same bytes.
    @discardableResult
    static func roundTrip<T: TLSCodable>(_ field: String, _: T.Type, _ bytes: [UInt8]) throws -> T {
        let value: T
        do {
            value = try T(tlsSerialized: bytes)
        } catch {
            throw VectorCheckFailure("\(field): decoding as \(T.self) failed: \(error)")
        }
        try check("\(field): re-encoded", value.tlsSerialized, bytes)
        return value
    }

    /// Round-trips the body of a proposal of the given type (the `*_proposal` fields carry
    /// bodies, without `proposal_type`).
    static func proposalBody(_ field: String, _ type: ProposalType, _ bytes: [UInt8]) throws {
        let value: Proposal
        do {
            var r = TLSReader(bytes)
            value = try Proposal(type, bodyFrom: &r)
            try r.finish()
        } catch {
            throw VectorCheckFailure("\(field): decoding as a \(type) proposal body failed: \(error)")
        }
        var w = TLSWriter()
        value.encodeBody(to: &w)
        try check("\(field): re-encoded", w.bytes, bytes)
    }

    /// Round-trips an MLSMessage and checks its wire format.
    @discardableResult
    static func message(_ field: String, _ bytes: [UInt8], _ format: WireFormat) throws -> MLSMessage {
        let m = try roundTrip(field, MLSMessage.self, bytes)
        try check("\(field): wire format", m.wireFormat, format)
        return m
    }

    /// Round-trips a PublicMessage MLSMessage and checks the content type it carries.
    static func publicMessage(_ field: String, _ bytes: [UInt8], _ type: ContentType) throws {
        guard case let .publicMessage(pm) = try message(field, bytes, .publicMessage).body else {
            throw VectorCheckFailure("\(field): not a PublicMessage")
        }
        try check("\(field): content type", pm.content.content.contentType, type)
    }

    static func verify(_ data: Data) throws -> VectorTally {
        var tally = VectorTally()
        for (i, c) in try OfficialVectors.cases(Case.self, from: data).enumerated() {
            tally.run("case \(i)") {
                try message("mls_welcome", c.mls_welcome.bytes, .welcome)
                try message("mls_group_info", c.mls_group_info.bytes, .groupInfo)
                let kpMessage = try message("mls_key_package", c.mls_key_package.bytes, .keyPackage)
                try roundTrip("ratchet_tree", RatchetTreeNodes.self, c.ratchet_tree.bytes)
                try roundTrip("group_secrets", GroupSecrets.self, c.group_secrets.bytes)
                try proposalBody("add_proposal", .add, c.add_proposal.bytes)
                try roundTrip("update_proposal", Update.self, c.update_proposal.bytes)
                try proposalBody("remove_proposal", .remove, c.remove_proposal.bytes)
                try proposalBody("pre_shared_key_proposal", .psk, c.pre_shared_key_proposal.bytes)
                try roundTrip("re_init_proposal", ReInit.self, c.re_init_proposal.bytes)
                try proposalBody("external_init_proposal", .externalInit, c.external_init_proposal.bytes)
                try proposalBody("group_context_extensions_proposal", .groupContextExtensions, c.group_context_extensions_proposal.bytes)
                try roundTrip("commit", Commit.self, c.commit.bytes)
                try publicMessage("public_message_application", c.public_message_application.bytes, .application)
                try publicMessage("public_message_proposal", c.public_message_proposal.bytes, .proposal)
                try publicMessage("public_message_commit", c.public_message_commit.bytes, .commit)
                try message("private_message", c.private_message.bytes, .privateMessage)

                // A KeyPackage's own signature and its key_package-sourced leaf's signature need no
                // group state, so they are checkable whenever the suite is supported.
                if case let .keyPackage(kp) = kpMessage.body, let suite = CipherSuite(id: kp.cipherSuite) {
                    try check("mls_key_package: KeyPackage signature", kp.verifySignature(suite: suite))
                    try check("mls_key_package: leaf node signature",
                              kp.leafNode.verifySignature(suite: suite, groupID: nil, leafIndex: nil))
                }
            }
        }
        return tally
    }

    // MARK: Generation

    /// A member's keys and a KeyPackage built and signed by this library.
    struct Member {
        var signer: any MLSSigner
        var keyPackage: KeyPackage
    }

    static let suite = CipherSuite.mls128X25519AES128GCMSHA256Ed25519

    static func capabilities() -> Capabilities {
        Capabilities(versions: [.mls10], cipherSuites: [suite.id],
                     extensions: [ExtensionType(0x0a0a)], proposals: [ProposalType(0x0a0a)], credentials: [.basic, .x509])
    }

    static func leaf(signatureKey: [UInt8], source: LeafNodeSource) -> LeafNode {
        LeafNode(encryptionKey: suite.hpke.generateKeyPair().publicKey, signatureKey: signatureKey,
                 credential: .basic(identity: Array("member-".utf8) + SystemRandom.bytes(4)),
                 capabilities: capabilities(), leafNodeSource: source, extensions: [], signature: [])
    }

    static func member() throws -> Member {
        let (priv, pub) = suite.signature.generateKeyPair()
        let now = UInt64(Date().timeIntervalSince1970)
        var node = leaf(signatureKey: pub, source: .keyPackage(Lifetime(notBefore: now - 3600, notAfter: now + 90 * 86400)))
        try node.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: priv))
        var kp = KeyPackage(cipherSuite: suite.id, initKey: suite.hpke.generateKeyPair().publicKey,
                            leafNode: node, extensions: [], signature: [])
        try kp.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: priv))
        return Member(signer: try InMemorySigner(scheme: suite.signature, privateKey: priv), keyPackage: kp)
    }

    static func hash() -> [UInt8] { SystemRandom.bytes(suite.kdfLength) }

    /// A proposal's body, without `proposal_type`.
    static func body(_ proposal: Proposal) -> [UInt8] {
        var w = TLSWriter()
        proposal.encodeBody(to: &w)
        return w.bytes
    }

    static func psk(_ n: Int) -> PreSharedKeyID {
        let nonce = SystemRandom.bytes(suite.kdfLength)
        return n % 2 == 0
            ? PreSharedKeyID(psk: .external(pskID: SystemRandom.bytes(16)), pskNonce: nonce)
            : PreSharedKeyID(psk: .resumption(usage: .application, pskGroupID: SystemRandom.bytes(16), pskEpoch: UInt64(n)), pskNonce: nonce)
    }

    /// A PublicMessage signed over its FramedContentTBS; membership tags and confirmation tags are
    /// random MACs (no key schedule is involved at this layer).
    static func publicMessage(_ content: FramedContent, context: GroupContext, signer: any MLSSigner) throws -> MLSMessage {
        let tbs = FramedContentTBS(wireFormat: .publicMessage, content: content, context: context)
        let signature = try suite.signWithLabel(signer: signer, label: "FramedContentTBS", content: tbs.tlsSerialized)
        let auth = FramedContentAuthData(signature: signature, confirmationTag: content.content.contentType == .commit ? hash() : nil)
        let tag: [UInt8]? = if case .member = content.sender { hash() } else { nil }
        return MLSMessage(body: .publicMessage(PublicMessage(content: content, auth: auth, membershipTag: tag)))
    }

    static func makeCase(_ n: Int) throws -> Case {
        let alice = try member()
        let bob = try member()
        let groupID = SystemRandom.bytes(16)
        let epoch = UInt64(n + 1)

        let externalPub = Extension(extensionType: .externalPub,
                                    extensionData: ExternalPub(externalPub: suite.hpke.generateKeyPair().publicKey).tlsSerialized)
        let required = Extension(extensionType: .requiredCapabilities,
                                 extensionData: RequiredCapabilities(extensionTypes: [], proposalTypes: [], credentialTypes: [.basic]).tlsSerialized)
        let context = GroupContext(cipherSuite: suite.id, groupID: groupID, epoch: epoch, treeHash: hash(),
                                   confirmedTranscriptHash: hash(), extensions: n % 2 == 0 ? [required] : [])

        var groupInfo = GroupInfo(groupContext: context, extensions: [externalPub], confirmationTag: hash(), signer: 0, signature: [])
        try groupInfo.sign(suite: suite, signer: alice.signer)

        let groupSecrets = GroupSecrets(joinerSecret: hash(), pathSecret: n % 2 == 0 ? PathSecret(pathSecret: hash()) : nil,
                                        psks: (0..<n).map(psk))
        let encryptedGroupInfo = SystemRandom.bytes(100 + 17 * n)
        let sealed = try suite.encryptWithLabel(publicKey: bob.keyPackage.initKey, label: "Welcome",
                                                context: encryptedGroupInfo, plaintext: groupSecrets.tlsSerialized)
        let welcome = Welcome(cipherSuite: suite.id,
                              secrets: [EncryptedGroupSecrets(newMember: bob.keyPackage.ref(suite: suite), encryptedGroupSecrets: sealed)],
                              encryptedGroupInfo: encryptedGroupInfo)

        var tree: [Node?] = [.leaf(alice.keyPackage.leafNode), nil, .leaf(bob.keyPackage.leafNode)]
        if n > 0 {
            tree[1] = .parent(ParentNode(encryptionKey: suite.hpke.generateKeyPair().publicKey, parentHash: [], unmergedLeaves: [1]))
        }

        var updated = leaf(signatureKey: alice.keyPackage.leafNode.signatureKey, source: .update)
        try updated.sign(suite: suite, signer: alice.signer, groupID: groupID, leafIndex: 0)
        var committed = leaf(signatureKey: alice.keyPackage.leafNode.signatureKey, source: .commit(parentHash: hash()))
        try committed.sign(suite: suite, signer: alice.signer, groupID: groupID, leafIndex: 0)

        let add = Proposal.add(bob.keyPackage)
        let remove = Proposal.remove(LeafIndex(UInt32(n + 1)))
        let commit = Commit(
            proposals: [.proposal(add), .reference(hash()), .proposal(remove)],
            path: UpdatePath(leafNode: committed, nodes: [
                UpdatePathNode(encryptionKey: suite.hpke.generateKeyPair().publicKey,
                               encryptedPathSecret: [HPKECiphertext(kemOutput: SystemRandom.bytes(32), ciphertext: SystemRandom.bytes(48))]),
            ]))

        let senders: [Sender] = [.member(LeafIndex(0)), .external(senderIndex: UInt32(n)), .newMemberProposal]
        let application = FramedContent(groupID: groupID, epoch: epoch, sender: .member(LeafIndex(0)),
                                        authenticatedData: SystemRandom.bytes(n), content: .application(Array("hello \(n)".utf8)))
        let proposal = FramedContent(groupID: groupID, epoch: epoch, sender: senders[n % senders.count], authenticatedData: [],
                                     content: n % senders.count == 2 ? .proposal(add) : .proposal(remove))
        let commitContent = FramedContent(groupID: groupID, epoch: epoch, sender: n % 2 == 0 ? .member(LeafIndex(0)) : .newMemberCommit,
                                          authenticatedData: [], content: .commit(commit))
        let privateMessage = PrivateMessage(groupID: groupID, epoch: epoch, contentType: .application, authenticatedData: [],
                                            encryptedSenderData: SystemRandom.bytes(12 + 16), ciphertext: SystemRandom.bytes(64))

        return Case(
            mls_welcome: HexBytes(MLSMessage(body: .welcome(welcome)).tlsSerialized),
            mls_group_info: HexBytes(MLSMessage(body: .groupInfo(groupInfo)).tlsSerialized),
            mls_key_package: HexBytes(MLSMessage(body: .keyPackage(alice.keyPackage)).tlsSerialized),
            ratchet_tree: HexBytes(RatchetTreeNodes(nodes: tree).tlsSerialized),
            group_secrets: HexBytes(groupSecrets.tlsSerialized),
            add_proposal: HexBytes(body(add)),
            update_proposal: HexBytes(Update(leafNode: updated).tlsSerialized),
            remove_proposal: HexBytes(body(remove)),
            pre_shared_key_proposal: HexBytes(body(.preSharedKey(psk(n)))),
            re_init_proposal: HexBytes(ReInit(groupID: SystemRandom.bytes(16), cipherSuite: suite.id, extensions: [required]).tlsSerialized),
            external_init_proposal: HexBytes(body(.externalInit(kemOutput: SystemRandom.bytes(32)))),
            group_context_extensions_proposal: HexBytes(body(.groupContextExtensions(n == 0 ? [] : [required]))),
            commit: HexBytes(commit.tlsSerialized),
            public_message_application: HexBytes(try publicMessage(application, context: context, signer: alice.signer).tlsSerialized),
            public_message_proposal: HexBytes(try publicMessage(proposal, context: context, signer: alice.signer).tlsSerialized),
            public_message_commit: HexBytes(try publicMessage(commitContent, context: context, signer: alice.signer).tlsSerialized),
            private_message: HexBytes(MLSMessage(body: .privateMessage(privateMessage)).tlsSerialized))
    }

    static func generate() throws -> Data {
        try OfficialVectors.encode((0..<3).map(makeCase))
    }
}
