import Foundation
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// `transcript-hashes.json`: confirmed and interim transcript hashes and the confirmation tag
/// (RFC 9420 §8.2, §6.1).
enum TranscriptHashVectors {
    struct Case: Codable {
        var cipher_suite: UInt16
        var confirmation_key: HexBytes
        var authenticated_content: HexBytes
        var interim_transcript_hash_before: HexBytes
        var confirmed_transcript_hash_after: HexBytes
        var interim_transcript_hash_after: HexBytes
    }

    static let kind = VectorFileKind(name: "transcript-hashes", verify: verify, generate: generate)

    static func verify(_ data: Data) throws -> VectorTally {
        var tally = VectorTally()
        for c in try OfficialVectors.cases(Case.self, from: data) {
            tally.run("suite \(c.cipher_suite)") {
                let s = try CryptoBasicsVectors.suite(c.cipher_suite)
                let ac = try AuthenticatedContent(tlsSerialized: c.authenticated_content.bytes)
                guard case .commit = ac.content.content, let tag = ac.auth.confirmationTag else {
                    throw VectorCheckFailure("authenticated_content is not a commit with a confirmation tag")
                }
                let confirmed = TranscriptHash.confirmed(suite: s, interimBefore: c.interim_transcript_hash_before.bytes, commit: ac)
                try check("confirmed_transcript_hash_after", confirmed, c.confirmed_transcript_hash_after.bytes)
                let expectedTag = TranscriptHash.confirmationTag(suite: s, confirmationKey: SecretBytes(c.confirmation_key.bytes), confirmed: confirmed)
                try check("confirmation_tag verifies", constantTimeEqual(expectedTag, tag))
                try check("interim_transcript_hash_after", TranscriptHash.interim(suite: s, confirmed: confirmed, confirmationTag: tag), c.interim_transcript_hash_after.bytes)
            }
        }
        return tally
    }

    static func generate() throws -> Data {
        let cases = try CipherSuite.all.map { s -> Case in
            let confirmationKey = SecretBytes(randomCount: s.kdfLength)
            let interimBefore = SystemRandom.bytes(s.kdfLength)
            let signer = s.signature.generateKeyPair()
            let content = FramedContent(
                groupID: Array("group".utf8), epoch: 0x3456, sender: .member(LeafIndex(0)), authenticatedData: [],
                content: .commit(Commit(proposals: [], path: nil)))
            let context = GroupContext(version: .mls10, cipherSuite: s.id, groupID: content.groupID, epoch: content.epoch,
                                       treeHash: SystemRandom.bytes(s.kdfLength), confirmedTranscriptHash: SystemRandom.bytes(s.kdfLength), extensions: [])
            let signature = try MessageProtection.sign(suite: s, content: content, wireFormat: .publicMessage, context: context, signer: try InMemorySigner(scheme: s.signature, privateKey: signer.privateKey))
            // The confirmed hash covers only the signature, so the tag can be computed after it.
            var ac = AuthenticatedContent(wireFormat: .publicMessage, content: content, auth: FramedContentAuthData(signature: signature, confirmationTag: nil))
            let confirmed = TranscriptHash.confirmed(suite: s, interimBefore: interimBefore, commit: ac)
            let tag = TranscriptHash.confirmationTag(suite: s, confirmationKey: confirmationKey, confirmed: confirmed)
            ac.auth.confirmationTag = tag
            return Case(
                cipher_suite: s.id, confirmation_key: HexBytes(confirmationKey.unsafeCopiedBytes()),
                authenticated_content: HexBytes(ac.tlsSerialized), interim_transcript_hash_before: HexBytes(interimBefore),
                confirmed_transcript_hash_after: HexBytes(confirmed),
                interim_transcript_hash_after: HexBytes(TranscriptHash.interim(suite: s, confirmed: confirmed, confirmationTag: tag)))
        }
        return try OfficialVectors.encode(cases)
    }
}
