import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `message-protection.json`: PublicMessage and PrivateMessage protection (RFC 9420 §6),
/// with leaf 1 of a two-member secret tree as the sender.
enum MessageProtectionVectors {
    struct Case: Codable {
        var cipher_suite: UInt16
        var group_id: HexBytes
        var epoch: UInt64
        var tree_hash: HexBytes
        var confirmed_transcript_hash: HexBytes
        var signature_priv: HexBytes
        var signature_pub: HexBytes
        var encryption_secret: HexBytes
        var sender_data_secret: HexBytes
        var membership_key: HexBytes
        var proposal: HexBytes
        var proposal_pub: HexBytes
        var proposal_priv: HexBytes
        var commit: HexBytes
        var commit_pub: HexBytes
        var commit_priv: HexBytes
        var application: HexBytes
        var application_priv: HexBytes
    }

    static let kind = VectorFileKind(name: "message-protection", verify: verify, generate: generate)
    static let sender = LeafIndex(1)

    struct Keys {
        var suite: CipherSuite
        var context: GroupContext
        var signer: any MLSSigner
        var verificationKey: [UInt8]
        var encryptionSecret: SecretBytes
        var senderDataSecret: SecretBytes
        var membershipKey: SecretBytes

        func tree() -> SecretTree { SecretTree(suite: suite, encryptionSecret: encryptionSecret, leafCount: 2) }

        func framed(_ content: MLSContent) -> FramedContent {
            FramedContent(groupID: context.groupID, epoch: context.epoch, sender: .member(sender), authenticatedData: [], content: content)
        }

        func tag(_ content: MLSContent) -> [UInt8]? {
            if case .commit = content { return SystemRandom.bytes(suite.kdfLength) }
            return nil
        }

        func unprotectPublic(_ bytes: [UInt8]) throws -> MLSContent {
            let message = try MLSMessage(tlsSerialized: bytes)
            guard case let .publicMessage(pm) = message.body else { throw VectorCheckFailure("not a PublicMessage") }
            return try MessageProtection.unprotectPublic(
                suite: suite, message: pm, context: context, membershipKey: membershipKey, verificationKey: verificationKey).content.content
        }

        func unprotectPrivate(_ bytes: [UInt8]) throws -> MLSContent {
            let message = try MLSMessage(tlsSerialized: bytes)
            guard case let .privateMessage(pm) = message.body else { throw VectorCheckFailure("not a PrivateMessage") }
            var t = tree()
            return try MessageProtection.unprotectPrivate(
                suite: suite, message: pm, context: context, secretTree: &t, senderDataSecret: senderDataSecret,
                verificationKey: { $0 == sender ? verificationKey : nil }).content.content
        }

        func protectPublic(_ content: MLSContent) throws -> [UInt8] {
            let pm = try MessageProtection.protectPublic(
                suite: suite, content: framed(content), context: context, signer: signer, confirmationTag: tag(content), membershipKey: membershipKey)
            return MLSMessage(body: .publicMessage(pm)).tlsSerialized
        }

        func protectPrivate(_ content: MLSContent) throws -> [UInt8] {
            var t = tree()
            let pm = try MessageProtection.protectPrivate(
                suite: suite, content: framed(content), context: context, signer: signer, confirmationTag: tag(content),
                secretTree: &t, senderDataSecret: senderDataSecret, paddingLength: 7)
            return MLSMessage(body: .privateMessage(pm)).tlsSerialized
        }
    }

    static func keys(_ c: Case) throws -> Keys {
        let s = try CryptoBasicsVectors.suite(c.cipher_suite)
        return Keys(
            suite: s,
            context: GroupContext(version: .mls10, cipherSuite: s.id, groupID: c.group_id.bytes, epoch: c.epoch, treeHash: c.tree_hash.bytes,
                                  confirmedTranscriptHash: c.confirmed_transcript_hash.bytes, extensions: []),
            signer: try InMemorySigner(scheme: s.signature, privateKey: SecretBytes(c.signature_priv.bytes)), verificationKey: c.signature_pub.bytes,
            encryptionSecret: SecretBytes(c.encryption_secret.bytes), senderDataSecret: SecretBytes(c.sender_data_secret.bytes),
            membershipKey: SecretBytes(c.membership_key.bytes))
    }

    static func verify(_ data: Data) throws -> VectorTally {
        var tally = VectorTally()
        for c in try OfficialVectors.cases(Case.self, from: data) {
            tally.run("suite \(c.cipher_suite)") {
                let k = try keys(c)
                let proposal = MLSContent.proposal(try Proposal(tlsSerialized: c.proposal.bytes))
                let commit = MLSContent.commit(try Commit(tlsSerialized: c.commit.bytes))
                let application = MLSContent.application(c.application.bytes)
                for (name, content, pub, priv) in [
                    ("proposal", proposal, c.proposal_pub.bytes as [UInt8]?, c.proposal_priv.bytes),
                    ("commit", commit, c.commit_pub.bytes, c.commit_priv.bytes),
                    ("application", application, nil, c.application_priv.bytes),
                ] {
                    if let pub {
                        try check("\(name)_pub unprotects to \(name)", try k.unprotectPublic(pub) == content)
                        try check("our PublicMessage(\(name)) unprotects", try k.unprotectPublic(try k.protectPublic(content)) == content)
                    } else {
                        var refused = false
                        do { _ = try k.protectPublic(content) } catch FramingError.applicationDataInPublicMessage { refused = true }
                        try check("protecting application data as PublicMessage fails", refused)
                    }
                    try check("\(name)_priv unprotects to \(name)", try k.unprotectPrivate(priv) == content)
                    try check("our PrivateMessage(\(name)) unprotects", try k.unprotectPrivate(try k.protectPrivate(content)) == content)
                }
            }
        }
        return tally
    }

    static func generate() throws -> Data {
        let cases = try CipherSuite.all.map { s -> Case in
            let signer = s.signature.generateKeyPair()
            let nh = s.kdfLength
            let c = Case(
                cipher_suite: s.id, group_id: HexBytes(SystemRandom.bytes(nh)), epoch: 0x1234_5678, tree_hash: HexBytes(SystemRandom.bytes(nh)),
                confirmed_transcript_hash: HexBytes(SystemRandom.bytes(nh)), signature_priv: HexBytes(signer.privateKey.unsafeCopiedBytes()),
                signature_pub: HexBytes(signer.publicKey), encryption_secret: HexBytes(SystemRandom.bytes(nh)),
                sender_data_secret: HexBytes(SystemRandom.bytes(nh)), membership_key: HexBytes(SystemRandom.bytes(nh)),
                proposal: HexBytes(Proposal.remove(LeafIndex(2)).tlsSerialized), proposal_pub: HexBytes([]), proposal_priv: HexBytes([]),
                commit: HexBytes(Commit(proposals: [.proposal(.remove(LeafIndex(3)))], path: nil).tlsSerialized),
                commit_pub: HexBytes([]), commit_priv: HexBytes([]),
                application: HexBytes(SystemRandom.bytes(42)), application_priv: HexBytes([]))
            let k = try keys(c)
            var out = c
            let proposal = MLSContent.proposal(try Proposal(tlsSerialized: c.proposal.bytes))
            let commit = MLSContent.commit(try Commit(tlsSerialized: c.commit.bytes))
            out.proposal_pub = HexBytes(try k.protectPublic(proposal))
            out.proposal_priv = HexBytes(try k.protectPrivate(proposal))
            out.commit_pub = HexBytes(try k.protectPublic(commit))
            out.commit_priv = HexBytes(try k.protectPrivate(commit))
            out.application_priv = HexBytes(try k.protectPrivate(.application(c.application.bytes)))
            return out
        }
        return try OfficialVectors.encode(cases)
    }
}
