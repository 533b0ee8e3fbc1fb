@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// Why a message could not be protected or was refused on receipt (RFC 9420 §6): its framing,
/// or a sender that may not send what it sent (§6, §12.1.8).
public enum FramingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The message names a different group (§6).
    case wrongGroupID
    /// The message belongs to another epoch (§6).
    case wrongEpoch(UInt64)
    /// The signature over FramedContentTBS does not verify (§6.1).
    case invalidSignature
    /// A member's PublicMessage lacks its membership tag, or another sender's carries one (§6.2).
    case membershipTagPresence
    /// The membership tag does not verify (§6.2).
    case invalidMembershipTag
    /// A commit lacks its confirmation tag, or a non-commit carries one (§6.1).
    case confirmationTagPresence
    /// Application data must be sent as PrivateMessage (§6.2).
    case applicationDataInPublicMessage
    /// Only members can send PrivateMessage (§6.3).
    case senderMustBeMember
    /// The encrypted SenderData did not decrypt or decode (§6.3.2).
    case senderDataUndecryptable
    /// The sender's leaf (as framed, or in the decrypted SenderData, §6.3.2) is blank or outside
    /// the tree.
    case notAMember(LeafIndex)
    /// The sender or a proposer could not be resolved against the roster.
    case unknownSender
    /// The `external_senders` extension has no entry at this index (§12.1.8.1).
    case noSuchExternalSender(UInt32)
    /// External senders may only send proposals (§12.1.8.1).
    case externalSenderMayOnlyPropose
    /// External senders may not send a proposal of this `proposal_type` (§12.1.8.1, the IANA
    /// registry's "External" column, §17.4).
    case externalSenderProposalType(UInt16)
    /// A `new_member_proposal` must be an Add (§12.1.8).
    case newMemberProposalNotAdd
    /// A `new_member_commit` must be a commit with an UpdatePath (§12.4.3.2).
    case newMemberCommitWithoutPath
    /// Commits come from members or new members (§12.4).
    case commitFromNonMember
    /// Application data comes from members only (§15).
    case applicationFromNonMember
    /// Only members send Update proposals (§12.1.2).
    case updateFromNonMember
    /// A commit signed by this member that is not its pending commit (§12.4.2).
    case ownCommitNotPending
    /// The content did not decrypt under the sender's key (§6.3.1).
    case contentUndecryptable
    /// The decrypted content is malformed (bad encoding or non-zero padding) (§6.3.1).
    case malformedContent(String)
    /// The sender's key for this generation was already used and deleted: a replay, or a
    /// message older than the retained window (§9.2).
    case generationConsumed(UInt32)
    /// The message's generation is further ahead of the sender's ratchet than the configured
    /// forward window (§9.2).
    case generationTooFarAhead(requested: UInt32, current: UInt32, limit: UInt32)
    /// The sender's ratchet has reached the end of the 32-bit generation space (§9.1).
    case generationExhausted
    /// A cryptographic operation failed while protecting a message.
    case crypto(CryptoError)

    public var description: String {
        switch self {
        case .wrongGroupID: "message is for another group"
        case let .wrongEpoch(e): "message is for epoch \(e)"
        case .invalidSignature: "signature over FramedContentTBS does not verify"
        case .membershipTagPresence: "membership tag missing for a member or present for a non-member"
        case .invalidMembershipTag: "membership tag does not verify"
        case .confirmationTagPresence: "confirmation tag must be present exactly for commits"
        case .applicationDataInPublicMessage: "application data must be sent as PrivateMessage"
        case .senderMustBeMember: "only members may send PrivateMessage"
        case .senderDataUndecryptable: "sender data did not decrypt"
        case let .notAMember(l): "\(l) is not a member"
        case .unknownSender: "the sender is not in the group"
        case let .noSuchExternalSender(i): "no external sender \(i)"
        case .externalSenderMayOnlyPropose: "external senders may only propose"
        case let .externalSenderProposalType(t): "external senders may not send proposal type \(t)"
        case .newMemberProposalNotAdd: "new_member_proposal must be an Add"
        case .newMemberCommitWithoutPath: "new_member_commit must be a commit with a path"
        case .commitFromNonMember: "commits come from members or new members"
        case .applicationFromNonMember: "application data from a non-member"
        case .updateFromNonMember: "only members send Update"
        case .ownCommitNotPending: "a commit of ours that is not pending"
        case .contentUndecryptable: "content did not decrypt"
        case let .malformedContent(d): "decrypted content is malformed: \(d)"
        case let .generationConsumed(g): "no message key: generation \(g) was already used"
        case let .generationTooFarAhead(r, c, l): "no message key: generation \(r) is more than \(l) ahead of \(c)"
        case .generationExhausted: "no message key: the ratchet is exhausted"
        case let .crypto(e): "crypto failure: \(e)"
        }
    }

    /// Why the secret tree gave no key, as a framing reason: the secret tree is engine SPI, and
    /// a leaf outside it is a sender that is not in the tree.
    static func keyUnavailable(_ error: SecretTreeError) -> FramingError {
        switch error {
        case let .leafOutOfRange(leaf): .notAMember(LeafIndex(leaf))
        case let .generationConsumed(g): .generationConsumed(g)
        case let .generationTooFarAhead(requested, current, limit): .generationTooFarAhead(requested: requested, current: current, limit: limit)
        case .generationExhausted: .generationExhausted
        }
    }
}

/// Signing, MACing and encrypting FramedContent into PublicMessage and PrivateMessage, and the
/// reverse (RFC 9420 §6.1–§6.3). Stateless apart from the secret tree passed in.
@_spi(Engine) public enum MessageProtection {
    /// Signs `content` as it will be sent in `wireFormat` (§6.1).
    public static func sign(
        suite: CipherSuite, content: FramedContent, wireFormat: WireFormat, context: GroupContext, signer: any MLSSigner
    ) throws -> [UInt8] {
        let tbs = FramedContentTBS(wireFormat: wireFormat, content: content, context: FramedContentTBS.carriesContext(content.sender) ? context : nil)
        return try suite.signWithLabel(signer: signer, label: "FramedContentTBS", content: tbs.tlsSerialized)
    }

    /// Verifies the signature of authenticated content against the sender's key (§6.1).
    public static func verifySignature(suite: CipherSuite, _ ac: AuthenticatedContent, context: GroupContext, verificationKey: [UInt8]) -> Bool {
        let tbs = FramedContentTBS(wireFormat: ac.wireFormat, content: ac.content, context: FramedContentTBS.carriesContext(ac.content.sender) ? context : nil)
        return suite.verifyWithLabel(publicKey: verificationKey, label: "FramedContentTBS", content: tbs.tlsSerialized, signature: ac.auth.signature)
    }

    /// `AuthenticatedContentTBM` = FramedContentTBS || FramedContentAuthData (§6.2).
    static func tbm(_ content: FramedContent, auth: FramedContentAuthData, context: GroupContext) -> [UInt8] {
        var w = TLSWriter()
        FramedContentTBS(wireFormat: .publicMessage, content: content, context: FramedContentTBS.carriesContext(content.sender) ? context : nil).encode(to: &w)
        auth.encode(to: &w, contentType: content.content.contentType)
        return w.bytes
    }

    static func checkConfirmationTag(_ content: FramedContent, _ tag: [UInt8]?) throws(FramingError) {
        if (content.content.contentType == .commit) != (tag != nil) { throw .confirmationTagPresence }
    }

    /// Builds a PublicMessage: signs, attaches `confirmationTag` for commits, and for member
    /// senders the membership tag under `membershipKey` (§6.2).
    public static func protectPublic(
        suite: CipherSuite, content: FramedContent, context: GroupContext, signer: any MLSSigner,
        confirmationTag: [UInt8]?, membershipKey: SecretBytes?
    ) throws -> PublicMessage {
        if case .application = content.content { throw FramingError.applicationDataInPublicMessage }
        let signature = try sign(suite: suite, content: content, wireFormat: .publicMessage, context: context, signer: signer)
        return try framePublic(suite: suite, content: content, auth: FramedContentAuthData(signature: signature, confirmationTag: confirmationTag),
                               context: context, membershipKey: membershipKey)
    }

    /// Frames already-signed content as a PublicMessage, adding the membership tag for member
    /// senders (§6.2). Used for commits, whose confirmation tag is computed after signing.
    public static func framePublic(
        suite: CipherSuite, content: FramedContent, auth: FramedContentAuthData, context: GroupContext, membershipKey: SecretBytes?
    ) throws -> PublicMessage {
        if case .application = content.content { throw FramingError.applicationDataInPublicMessage }
        try checkConfirmationTag(content, auth.confirmationTag)
        var tag: [UInt8]?
        if case .member = content.sender {
            guard let membershipKey else { throw FramingError.membershipTagPresence }
            tag = suite.mac(key: membershipKey, data: tbm(content, auth: auth, context: context))
        }
        return PublicMessage(content: content, auth: auth, membershipTag: tag)
    }

    /// Checks a PublicMessage: group and epoch, membership tag for member senders, content type,
    /// and the signature under `verificationKey` (§6.2).
    public static func unprotectPublic(
        suite: CipherSuite, message: PublicMessage, context: GroupContext, membershipKey: SecretBytes?, verificationKey: [UInt8]
    ) throws -> AuthenticatedContent {
        let content = message.content
        guard content.groupID == context.groupID else { throw FramingError.wrongGroupID }
        guard content.epoch == context.epoch else { throw FramingError.wrongEpoch(content.epoch) }
        if case .application = content.content { throw FramingError.applicationDataInPublicMessage }
        try checkConfirmationTag(content, message.auth.confirmationTag)
        if case .member = content.sender {
            guard let tag = message.membershipTag, let membershipKey else { throw FramingError.membershipTagPresence }
            let expected = suite.mac(key: membershipKey, data: tbm(content, auth: message.auth, context: context))
            guard constantTimeEqual(expected, tag) else { throw FramingError.invalidMembershipTag }
        } else if message.membershipTag != nil {
            throw FramingError.membershipTagPresence
        }
        let ac = AuthenticatedContent(wireFormat: .publicMessage, content: content, auth: message.auth)
        guard verifySignature(suite: suite, ac, context: context, verificationKey: verificationKey) else { throw FramingError.invalidSignature }
        return ac
    }

    /// The AEAD nonce with the reuse guard XORed into its first four bytes (§6.3.1).
    static func guarded(_ nonce: SecretBytes, _ reuseGuard: [UInt8]) -> [UInt8] {
        var n = nonce.unsafeCopiedBytes()
        for i in 0..<min(4, reuseGuard.count, n.count) { n[i] ^= reuseGuard[i] }
        return n
    }

    /// Builds a PrivateMessage from a member's content: signs it, encrypts it under the next key
    /// of the sender's ratchet with a fresh reuse guard and `paddingLength` zero bytes, and
    /// encrypts the SenderData (§6.3). The used key is deleted from `secretTree`.
    public static func protectPrivate(
        suite: CipherSuite, content: FramedContent, context: GroupContext, signer: any MLSSigner, confirmationTag: [UInt8]?,
        secretTree: inout SecretTree, senderDataSecret: SecretBytes, paddingLength: Int = 0
    ) throws -> PrivateMessage {
        let signature = try sign(suite: suite, content: content, wireFormat: .privateMessage, context: context, signer: signer)
        return try framePrivate(suite: suite, content: content, auth: FramedContentAuthData(signature: signature, confirmationTag: confirmationTag),
                                secretTree: &secretTree, senderDataSecret: senderDataSecret, paddingLength: paddingLength)
    }

    /// Encrypts already-signed content as a PrivateMessage (§6.3).
    public static func framePrivate(
        suite: CipherSuite, content: FramedContent, auth: FramedContentAuthData,
        secretTree: inout SecretTree, senderDataSecret: SecretBytes, paddingLength: Int = 0
    ) throws -> PrivateMessage {
        guard case let .member(leaf) = content.sender else { throw FramingError.senderMustBeMember }
        try checkConfirmationTag(content, auth.confirmationTag)
        let type = content.content.contentType
        let ratchet: RatchetType = type == .application ? .application : .handshake
        let key = try secretTree.nextKey(leaf: leaf, type: ratchet)
        let reuseGuard = SystemRandom.bytes(4)
        let plaintext = PrivateMessageContent(content: content.content, auth: auth, paddingLength: paddingLength).tlsSerialized
        let aad = PrivateContentAAD(groupID: content.groupID, epoch: content.epoch, contentType: type, authenticatedData: content.authenticatedData)
        let ciphertext = try suite.aead.seal(key: key.key, nonce: guarded(key.nonce, reuseGuard), aad: aad.tlsSerialized, plaintext: plaintext)
        let senderData = SenderData(leafIndex: leaf.rawValue, generation: key.generation, reuseGuard: reuseGuard)
        let sdKey = try SecretTree.senderDataKey(suite: suite, senderDataSecret: senderDataSecret, ciphertext: ciphertext)
        let sdAAD = SenderDataAAD(groupID: content.groupID, epoch: content.epoch, contentType: type)
        let encryptedSenderData = try suite.aead.seal(
            key: sdKey.key, nonce: sdKey.nonce.unsafeCopiedBytes(), aad: sdAAD.tlsSerialized, plaintext: senderData.tlsSerialized)
        return PrivateMessage(
            groupID: content.groupID, epoch: content.epoch, contentType: type, authenticatedData: content.authenticatedData,
            encryptedSenderData: encryptedSenderData, ciphertext: ciphertext)
    }

    /// Decrypts and authenticates a PrivateMessage (§6.3): sender data, then content under the
    /// sender's ratchet key for that generation (which is then deleted), then the signature.
    ///
    /// - Parameter verificationKey: the signature key of a leaf, or `nil` when the leaf is not a
    ///   member (blank or beyond the tree).
    /// - Note: `secretTree` is modified only when the message is accepted.
    public static func unprotectPrivate(
        suite: CipherSuite, message: PrivateMessage, context: GroupContext, secretTree: inout SecretTree, senderDataSecret: SecretBytes,
        verificationKey: (LeafIndex) -> [UInt8]?
    ) throws -> AuthenticatedContent {
        guard message.groupID == context.groupID else { throw FramingError.wrongGroupID }
        guard message.epoch == context.epoch else { throw FramingError.wrongEpoch(message.epoch) }
        let sdKey = try SecretTree.senderDataKey(suite: suite, senderDataSecret: senderDataSecret, ciphertext: message.ciphertext)
        let sdAAD = SenderDataAAD(groupID: message.groupID, epoch: message.epoch, contentType: message.contentType)
        let senderData: SenderData
        do {
            let plain = try suite.aead.open(key: sdKey.key, nonce: sdKey.nonce.unsafeCopiedBytes(), aad: sdAAD.tlsSerialized, ciphertext: message.encryptedSenderData)
            senderData = try SenderData(tlsSerialized: plain)
        } catch {
            throw FramingError.senderDataUndecryptable
        }
        let leaf = LeafIndex(senderData.leafIndex)
        guard let publicKey = verificationKey(leaf) else { throw FramingError.notAMember(leaf) }

        var tree = secretTree
        let ratchet: RatchetType = message.contentType == .application ? .application : .handshake
        let key: RatchetKey
        do {
            key = try tree.key(leaf: leaf, type: ratchet, generation: senderData.generation)
        } catch let e as SecretTreeError {
            throw FramingError.keyUnavailable(e)
        }
        let aad = PrivateContentAAD(groupID: message.groupID, epoch: message.epoch, contentType: message.contentType, authenticatedData: message.authenticatedData)
        let plaintext: [UInt8]
        do {
            plaintext = try suite.aead.open(key: key.key, nonce: guarded(key.nonce, senderData.reuseGuard), aad: aad.tlsSerialized, ciphertext: message.ciphertext)
        } catch {
            throw FramingError.contentUndecryptable
        }
        let body: PrivateMessageContent
        do {
            body = try PrivateMessageContent(tlsSerialized: plaintext, contentType: message.contentType)
        } catch {
            throw FramingError.malformedContent("\(error)")
        }
        let content = FramedContent(groupID: message.groupID, epoch: message.epoch, sender: .member(leaf), authenticatedData: message.authenticatedData, content: body.content)
        try checkConfirmationTag(content, body.auth.confirmationTag)
        let ac = AuthenticatedContent(wireFormat: .privateMessage, content: content, auth: body.auth)
        guard verifySignature(suite: suite, ac, context: context, verificationKey: publicKey) else { throw FramingError.invalidSignature }
        secretTree = tree
        return ac
    }
}
