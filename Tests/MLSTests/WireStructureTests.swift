import Foundation
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto
import Testing
@_spi(Engine) @testable import MLS
@testable import MLSVectors

/// Round trips and strict-decoding failures of the RFC 9420 wire structures (§6–§12).
@Suite struct WireStructureTests {
    // MARK: Fixtures (syntactically valid, no cryptography involved)

    static func bytes(_ n: Int, _ fill: UInt8) -> [UInt8] { [UInt8](repeating: fill, count: n) }

    static let capabilities = Capabilities(versions: [.mls10], cipherSuites: [1, 3], extensions: [ExtensionType(0x0a0a)],
                                           proposals: [ProposalType(0xfafa)], credentials: [.basic, .x509])

    static func leafNode(_ source: LeafNodeSource) -> LeafNode {
        LeafNode(encryptionKey: bytes(32, 1), signatureKey: bytes(32, 2), credential: .basic(identity: Array("alice".utf8)),
                 capabilities: capabilities, leafNodeSource: source,
                 extensions: [Extension(extensionType: .applicationID, extensionData: [9, 9])], signature: bytes(64, 3))
    }

    static let keyPackage = KeyPackage(cipherSuite: 1, initKey: bytes(32, 4),
                                       leafNode: leafNode(.keyPackage(Lifetime(notBefore: 1, notAfter: 1 << 40))),
                                       extensions: [], signature: bytes(64, 5))

    static let groupContext = GroupContext(cipherSuite: 1, groupID: [1, 2, 3], epoch: 7, treeHash: bytes(32, 6),
                                           confirmedTranscriptHash: bytes(32, 7), extensions: [])

    static let commit = Commit(
        proposals: [
            .proposal(.add(keyPackage)),
            .proposal(.remove(LeafIndex(3))),
            .proposal(.preSharedKey(PreSharedKeyID(
                psk: .resumption(usage: .branch, pskGroupID: [5], pskEpoch: 9), pskNonce: bytes(32, 8)))),
            .proposal(.reInit(ReInit(groupID: [4], cipherSuite: 2, extensions: []))),
            .proposal(.externalInit(kemOutput: bytes(32, 9))),
            .proposal(.groupContextExtensions([Extension(extensionType: .externalSenders,
                extensionData: ExternalSender.encodeList([ExternalSender(signatureKey: [1], credential: .x509(certificates: [[1, 2], []]))]))])),
            .proposal(.update(Update(leafNode: leafNode(.update)))),
            .reference(bytes(32, 10)),
        ],
        path: UpdatePath(leafNode: leafNode(.commit(parentHash: bytes(32, 11))), nodes: [
            UpdatePathNode(encryptionKey: bytes(32, 12), encryptedPathSecret: [HPKECiphertext(kemOutput: [1], ciphertext: [2, 3])]),
        ]))

    static func roundTrip<T: TLSCodable & Equatable>(_ value: T) throws {
        let encoded = value.tlsSerialized
        let decoded = try T(tlsSerialized: encoded)
        #expect(decoded == value)
        #expect(decoded.tlsSerialized == encoded)
    }

    // MARK: Round trips

    @Test func publicMessagesRoundTrip() throws {
        let senders: [Sender] = [.member(LeafIndex(5)), .external(senderIndex: 2), .newMemberProposal, .newMemberCommit]
        let contents: [MLSContent] = [.application([1, 2, 3]), .proposal(.remove(LeafIndex(1))), .commit(Self.commit)]
        for sender in senders {
            for content in contents {
                let framed = FramedContent(groupID: [0xaa], epoch: 1 << 40, sender: sender, authenticatedData: [7], content: content)
                let auth = FramedContentAuthData(signature: Self.bytes(64, 1), confirmationTag: content.contentType == .commit ? Self.bytes(32, 2) : nil)
                let tag: [UInt8]? = sender.senderType == .member ? Self.bytes(32, 3) : nil
                let message = MLSMessage(body: .publicMessage(PublicMessage(content: framed, auth: auth, membershipTag: tag)))
                try Self.roundTrip(message)
                try Self.roundTrip(AuthenticatedContent(wireFormat: .publicMessage, content: framed, auth: auth))
                let tbs = FramedContentTBS(wireFormat: .publicMessage, content: framed, context: Self.groupContext)
                let tbsDecoded = try FramedContentTBS(tlsSerialized: tbs.tlsSerialized)
                #expect(tbsDecoded.context == (FramedContentTBS.carriesContext(sender) ? Self.groupContext : nil))
                #expect(tbsDecoded.tlsSerialized == tbs.tlsSerialized)
            }
        }
    }

    @Test func otherMessagesRoundTrip() throws {
        let groupInfo = GroupInfo(groupContext: Self.groupContext,
                                  extensions: [Extension(extensionType: .externalPub, extensionData: ExternalPub(externalPub: [1]).tlsSerialized)],
                                  confirmationTag: Self.bytes(32, 1), signer: 4, signature: Self.bytes(64, 2))
        try Self.roundTrip(MLSMessage(body: .groupInfo(groupInfo)))
        try Self.roundTrip(MLSMessage(body: .keyPackage(Self.keyPackage)))
        try Self.roundTrip(MLSMessage(body: .welcome(Welcome(cipherSuite: 1, secrets: [
            EncryptedGroupSecrets(newMember: Self.bytes(32, 3), encryptedGroupSecrets: HPKECiphertext(kemOutput: [1], ciphertext: [2])),
        ], encryptedGroupInfo: [4, 5]))))
        try Self.roundTrip(MLSMessage(body: .privateMessage(PrivateMessage(groupID: [1], epoch: 2, contentType: .commit,
            authenticatedData: [], encryptedSenderData: [3], ciphertext: [4]))))
        try Self.roundTrip(RatchetTreeNodes(nodes: [.leaf(Self.leafNode(.update)), nil,
            .leaf(Self.leafNode(.commit(parentHash: []))), .parent(ParentNode(encryptionKey: [1], parentHash: [2], unmergedLeaves: [0, 2])), nil]))
        try Self.roundTrip(GroupSecrets(joinerSecret: Self.bytes(32, 1), pathSecret: PathSecret(pathSecret: [1]),
            psks: [PreSharedKeyID(psk: .external(pskID: [1]), pskNonce: [2])]))
        try Self.roundTrip(GroupSecrets(joinerSecret: [], pathSecret: nil, psks: []))
        try Self.roundTrip(SenderData(leafIndex: 1, generation: 2, reuseGuard: [1, 2, 3, 4]))
        try Self.roundTrip(SenderDataAAD(groupID: [1], epoch: 2, contentType: .proposal))
        try Self.roundTrip(PrivateContentAAD(groupID: [1], epoch: 2, contentType: .application, authenticatedData: [3]))
        try Self.roundTrip(RequiredCapabilities(extensionTypes: [.ratchetTree], proposalTypes: [.psk], credentialTypes: [.x509]))
        #expect(SenderData(leafIndex: 0, generation: 0, reuseGuard: []).tlsSerialized.count == 12)
    }

    @Test func privateMessageContentPadding() throws {
        let content = PrivateMessageContent(content: .commit(Self.commit),
                                            auth: FramedContentAuthData(signature: [1], confirmationTag: [2]), paddingLength: 13)
        let encoded = content.tlsSerialized
        let decoded = try PrivateMessageContent(tlsSerialized: encoded, contentType: .commit)
        #expect(decoded == content)
        #expect(Array(encoded.suffix(13)) == Self.bytes(13, 0))
        // The same bytes read as an application message do not parse.
        #expect(throws: (any Error).self) { try PrivateMessageContent(tlsSerialized: encoded, contentType: .application) }
    }

    @Test func leafNodeTBSCarriesGroupContextOnlyForUpdateAndCommit() {
        let kp = Self.leafNode(.keyPackage(Lifetime(notBefore: 0, notAfter: 1)))
        #expect(kp.tbs(groupID: [1, 2], leafIndex: 3) == kp.tbs(groupID: nil, leafIndex: nil))
        let update = Self.leafNode(.update)
        #expect(update.tbs(groupID: [1, 2], leafIndex: 3).suffix(7) == [2, 1, 2, 0, 0, 0, 3])
        // An update/commit leaf cannot be verified without its group ID and leaf index.
        #expect(!update.verifySignature(suite: .mls128X25519AES128GCMSHA256Ed25519, groupID: nil, leafIndex: 0))
    }

    // MARK: Strict decoding

    @Test func truncatedMLSMessage() throws {
        let encoded = MLSMessage(body: .keyPackage(Self.keyPackage)).tlsSerialized
        for cut in [1, 2, 10, encoded.count / 2, encoded.count - 1] {
            #expect(throws: TLSDecodingError.self) { try MLSMessage(tlsSerialized: Array(encoded.prefix(cut))) }
        }
    }

    @Test func trailingByteAfterKeyPackage() {
        let encoded = Self.keyPackage.tlsSerialized + [0]
        #expect(throws: TLSDecodingError.trailingBytes(count: 1)) { try KeyPackage(tlsSerialized: encoded) }
        #expect(throws: TLSDecodingError.trailingBytes(count: 1)) {
            try MLSMessage(tlsSerialized: MLSMessage(body: .keyPackage(Self.keyPackage)).tlsSerialized + [0])
        }
    }

    @Test func nonMinimalVarintInsideStruct() {
        // Extension { extension_type = 1; extension_data = <1 byte> } with the length as 0x40 0x01.
        #expect(throws: TLSDecodingError.nonMinimalVarint) { try Extension(tlsSerialized: [0x00, 0x01, 0x40, 0x01, 0xff]) }
        // An ExternalInit proposal whose kem_output length is written as 0x80 0x00 0x00 0x02.
        #expect(throws: TLSDecodingError.nonMinimalVarint) { try Proposal(tlsSerialized: [0x00, 0x06, 0x80, 0x00, 0x00, 0x02, 1, 2]) }
    }

    @Test func unknownWireFormat() {
        var encoded = MLSMessage(body: .keyPackage(Self.keyPackage)).tlsSerialized
        encoded[3] = 6
        #expect(throws: TLSDecodingError.invalidValue(type: "MLSMessage", detail: "unknown wire format 6")) {
            try MLSMessage(tlsSerialized: encoded)
        }
        #expect(throws: TLSDecodingError.self) { try MLSMessage(tlsSerialized: [0x00, 0x01, 0x00, 0x00]) }
        // An unknown wire format is still representable where the RFC allows it.
        #expect(throws: Never.self) { try WireFormat(tlsSerialized: [0xff, 0xff]) }
    }

    @Test func unknownProposalType() {
        #expect(throws: TLSDecodingError.self) { try Proposal(tlsSerialized: [0x00, 0x08, 0x00]) }
        #expect(throws: TLSDecodingError.self) { try Proposal(tlsSerialized: [0x00, 0x00, 0x00]) }
        // Inside a commit's proposal list, too; an unknown ProposalOrRefType also fails.
        #expect(throws: TLSDecodingError.self) { try Commit(tlsSerialized: [0x04, 0x01, 0x0a, 0x0a, 0x00, 0x00]) }
        #expect(throws: TLSDecodingError.self) { try Commit(tlsSerialized: [0x02, 0x03, 0x00, 0x00]) }
        // Unknown proposal types in capability lists are fine.
        #expect(throws: Never.self) { try Capabilities(tlsSerialized: [0, 0, 0, 2, 0x0a, 0x0a, 0]) }
    }

    @Test func unknownEnumValues() {
        // SenderType 5, ContentType 4, credential type 3, leaf node source 4, node type 3, PSK type 3.
        #expect(throws: TLSDecodingError.self) { try Sender(tlsSerialized: [5]) }
        #expect(throws: TLSDecodingError.self) { try SenderDataAAD(tlsSerialized: [0, 0, 0, 0, 0, 0, 0, 0, 0, 4]) }
        #expect(throws: TLSDecodingError.self) { try Credential(tlsSerialized: [0, 3, 0]) }
        #expect(throws: TLSDecodingError.self) { try LeafNodeSource(tlsSerialized: [4]) }
        #expect(throws: TLSDecodingError.self) { try Node(tlsSerialized: [3]) }
        #expect(throws: TLSDecodingError.self) { try PreSharedKeyID(tlsSerialized: [3, 0, 0]) }
    }

    @Test func optionalPresenceByteTwo() {
        // Commit { proposals = <>; path presence = 2 }.
        #expect(throws: TLSDecodingError.invalidValue(type: "optional<UpdatePath>", detail: "presence byte 2")) {
            try Commit(tlsSerialized: [0x00, 0x02])
        }
        // A blank node in a ratchet tree with presence byte 2.
        #expect(throws: TLSDecodingError.self) { try RatchetTreeNodes(tlsSerialized: [0x01, 0x02]) }
        #expect(throws: TLSDecodingError.self) { try GroupSecrets(tlsSerialized: [0x00, 0x02, 0x00]) }
    }

    @Test func nonZeroPadding() {
        let content = PrivateMessageContent(content: .application([1, 2]), auth: FramedContentAuthData(signature: [3], confirmationTag: nil), paddingLength: 4)
        var encoded = content.tlsSerialized
        #expect(throws: Never.self) { try PrivateMessageContent(tlsSerialized: encoded, contentType: .application) }
        encoded[encoded.count - 2] = 1
        #expect(throws: TLSDecodingError.self) { try PrivateMessageContent(tlsSerialized: encoded, contentType: .application) }
    }

    @Test func hugeLengthThrowsWithoutAllocating() {
        // Welcome { cipher_suite = 1; secrets<V> length 2^30 - 1 with 3 bytes behind it }.
        let hostile: [UInt8] = [0x00, 0x01, 0xbf, 0xff, 0xff, 0xff, 1, 2, 3]
        #expect(throws: TLSDecodingError.truncated(needed: TLSVarint.max, remaining: 3)) { try Welcome(tlsSerialized: hostile) }
        // The same inside an MLSMessage, and in a ratchet tree and a Capabilities list.
        #expect(throws: TLSDecodingError.self) { try MLSMessage(tlsSerialized: [0, 1, 0, 3] + hostile) }
        #expect(throws: TLSDecodingError.self) { try RatchetTreeNodes(tlsSerialized: [0xbf, 0xff, 0xff, 0xff, 0x00]) }
        #expect(throws: TLSDecodingError.self) { try Capabilities(tlsSerialized: [0xbf, 0xff, 0xff, 0xff]) }
    }

    // MARK: Official vectors (the full runs are in OfficialVectorTests)

    @Test(.officialVectors) func corruptedKeyPackageSignatureFails() throws {
        let data = try OfficialVectorTests.file("messages")
        var json = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        // The last byte of an MLSMessage(KeyPackage) is the last byte of the KeyPackage signature.
        let hex = try #require(json[0]["mls_key_package"] as? String)
        json[0]["mls_key_package"] = String(hex.dropLast(2)) + (hex.hasSuffix("00") ? "01" : "00")
        let tally = try MessagesVectors.verify(try JSONSerialization.data(withJSONObject: json))
        #expect(tally.failed == 1)
        #expect(tally.notes.first?.contains("KeyPackage signature") == true)
    }

    // MARK: Signatures

    @Test func signedStructuresVerify() throws {
        let suite = CipherSuite.mls128X25519AES128GCMSHA256Ed25519
        let (priv, pub) = suite.signature.generateKeyPair()
        var kp = Self.keyPackage
        kp.leafNode.signatureKey = pub
        try kp.leafNode.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: priv))
        try kp.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: priv))
        #expect(kp.leafNode.verifySignature(suite: suite, groupID: nil, leafIndex: nil))
        #expect(kp.verifySignature(suite: suite))
        #expect(kp.ref(suite: suite) == suite.keyPackageRef(kp.tlsSerialized))
        #expect(kp.ref(suite: suite).count == 32)
        var tampered = kp
        tampered.extensions = [Extension(extensionType: ExtensionType(0x0a0a), extensionData: [])]
        #expect(!tampered.verifySignature(suite: suite))

        var update = Self.leafNode(.update)
        update.signatureKey = pub
        update = try LeafNode.sign(update, suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: priv), groupID: [1, 2], leafIndex: 3)
        #expect(update.verifySignature(suite: suite, groupID: [1, 2], leafIndex: 3))
        #expect(!update.verifySignature(suite: suite, groupID: [1, 2], leafIndex: 4))
        #expect(!update.verifySignature(suite: suite, groupID: [1], leafIndex: 3))

        var groupInfo = GroupInfo(groupContext: Self.groupContext, extensions: [], confirmationTag: Self.bytes(32, 1), signer: 0, signature: [])
        try groupInfo.sign(suite: suite, signer: try InMemorySigner(scheme: suite.signature, privateKey: priv))
        #expect(groupInfo.verifySignature(suite: suite, publicKey: pub))
        groupInfo.signer = 1
        #expect(!groupInfo.verifySignature(suite: suite, publicKey: pub))
    }
}
