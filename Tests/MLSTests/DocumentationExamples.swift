// Plain imports only: the examples use the public API an application sees.
import MLS

import MLSCrypto
import Testing

/// The code of the MLS module's DocC articles (Sources/MLS/MLS.docc), compiled and run here.
/// Every `swift` block of those articles appears verbatim in this file (inside
/// ``MLSDocumentationExamples``, indented one level); ``DocumentationCodeTests`` checks that, so
/// an article cannot show code that no longer compiles.
struct MLSDocumentationExamples {
    // MARK: Create a mailbox group

    func makeClients() -> (authority: MLSClient, citizen: MLSClient) {
        let suite = CipherSuite.mls128X25519AES128GCMSHA256Ed25519
        let authority = MLSClient.basic(identity: Array("registry-office@city.example".utf8), suite: suite)
        let citizen = MLSClient.basic(identity: Array("jane.doe@mail.example".utf8), suite: suite)
        return (authority, citizen)
    }

    /// Signs through a key-management service: `request` is the application's call to it.
    struct KMSSigner: MLSSigner {
        let scheme: SignatureScheme
        let publicKey: [UInt8]
        let request: @Sendable ([UInt8]) throws -> [UInt8]

        func sign(_ message: [UInt8]) throws -> [UInt8] { try request(message) }
    }

    func makeAuthority(signer: KMSSigner) throws -> MLSClient {
        var configuration = GroupConfiguration()
        configuration.encryptsHandshakes = true  // proposals and commits encrypted, too
        return try MLSClient(credential: .basic(identity: Array("registry-office@city.example".utf8)), signer: signer,
                             suite: .mls128X25519AES128GCMSHA256Ed25519, configuration: configuration)
    }

    func openMailbox(authority: MLSClient, citizen: MLSClient) throws -> (authority: MLSGroup, citizen: MLSGroup) {
        // The authority's new group has one member: the authority, at leaf 0.
        var authorityGroup = try authority.createGroup()

        // The citizen publishes the KeyPackage and keeps the bundle, whose private keys open the Welcome.
        let keyPackage = try citizen.makeKeyPackage()

        // The authority commits an Add. The commit stays pending until the delivery service
        // accepts it and hands it back.
        let out = try authorityGroup.commit(CommitOptions(proposals: [.add(keyPackage.keyPackage)]))
        _ = try authorityGroup.process(out.commit, pending: out.pending)

        // The citizen joins from the Welcome, in the epoch the commit created.
        let citizenGroup = try citizen.join(welcome: out.welcome!, keyPackage: keyPackage)
        return (authorityGroup, citizenGroup)
    }

    func sendNotice(from authority: inout MLSGroup, to citizen: inout MLSGroup) throws -> (author: Member?, text: String) {
        let notice = try authority.encrypt(Array("Your application has been received.".utf8))
        let received = try citizen.process(notice)
        guard case let .application(bytes) = received.content else { return (nil, "") }
        return (received.author.member, String(decoding: bytes, as: UTF8.self))
    }

    // MARK: Add and remove members

    func addClerks(_ clerks: [KeyPackageBundle], to group: inout MLSGroup) throws -> CommitOutput {
        let adds = clerks.map { Proposal.add($0.keyPackage) }
        let out = try group.commit(CommitOptions(proposals: adds))
        // out.description.added lists the new members at their leaves; out.welcome is one
        // Welcome for all of them.
        _ = try group.process(out.commit, pending: out.pending)
        return out
    }

    func removeMember(identity: [UInt8], from group: inout MLSGroup) throws -> CommitOutput? {
        guard let member = group.roster.first(where: { $0.identity == identity }) else { return nil }
        let out = try group.commit(CommitOptions(proposals: [.remove(member.leaf)]))
        _ = try group.process(out.commit, pending: out.pending)
        return out
    }

    func receiveCommit(_ commit: MLSMessage, in group: inout MLSGroup) throws -> String {
        let received = try group.process(commit)
        guard case let .commit(description) = received.content else { return "not a commit" }
        if description.removedSelf {
            // group.isActive is now false: this member can neither read nor send in the group.
            return "\(description.committer) removed us"
        }
        let added = description.added.map(\.description), removed = description.removed.map(\.description)
        return "epoch \(description.epoch): \(description.committer) added \(added), removed \(removed)"
    }

    func proposeRemoval(of leaf: LeafIndex, in clerkGroup: inout MLSGroup) throws -> MLSMessage {
        // The clerk may not commit membership changes (the mailbox's rules say so), but it may
        // propose them. Every member that receives the proposal caches it for the next commit.
        try clerkGroup.proposeRemove(leaf)
    }

    func commitPendingProposals(in group: inout MLSGroup) throws -> CommitOutput {
        // CommitOptions() includes the proposals received in this epoch, by reference.
        let out = try group.commit()
        _ = try group.process(out.commit, pending: out.pending)
        return out
    }

    func commitLost(_ pending: PendingCommit, winner: MLSMessage, in group: inout MLSGroup) throws -> Bool {
        // Another member's commit won the epoch: process it with the pending commit (which is not
        // its echo) and drop the pending one, which now refuses to merge.
        _ = try group.process(winner, pending: pending)
        do {
            try group.merge(pending)
            return false
        } catch GroupError.stalePendingCommit {
            return true
        }
    }

    // MARK: Audit a commit

    func audit(_ message: MLSMessage, in group: inout MLSGroup, authority: [UInt8]) throws -> Bool {
        let staged = try group.stage(message)  // verified and described; the group is unchanged
        if let commit = staged.commit {
            let onlyAuthorityChangesMembers = (commit.added.isEmpty && commit.removed.isEmpty) || commit.committer.identity == authority
            guard onlyAuthorityChangesMembers else { return false }  // dropping `staged` leaves the group as it was
        }
        return group.apply(staged)
    }

    /// Only the authority adds or removes members; everyone may update their own keys.
    struct MailboxRules: GroupRules {
        static let onlyAuthority = RuleViolation.Code(rawValue: "onlyAuthorityChangesMembers")
        let authority: [UInt8]

        func check(proposal: Proposal, from proposer: MessageAuthor, in group: MLSGroup) throws(RuleViolation) {
            try DefaultGroupRules().check(proposal: proposal, from: proposer, in: group)
        }

        func check(commit: CommitDescription, direction: TransitionDirection, in group: MLSGroup) throws(RuleViolation) {
            guard (commit.added.isEmpty && commit.removed.isEmpty) || commit.committer.identity == authority else {
                throw RuleViolation(Self.onlyAuthority, detail: "\(commit.committer) changed the membership")
            }
        }
    }

    func mailboxConfiguration(authority: [UInt8]) -> GroupConfiguration {
        var configuration = GroupConfiguration()
        configuration.rules = MailboxRules(authority: authority)
        return configuration
    }

    func explain(_ error: GroupError) -> String {
        switch error {
        case let .rejectedByRules(violation) where violation.code == MailboxRules.onlyAuthority:
            "refused by the mailbox's rules: \(violation.detail)"
        case let .rejectedByRules(violation):
            "refused by the application: \(violation)"
        default:
            "refused by RFC 9420: \(error)"
        }
    }

    // MARK: Validate X.509 credentials

    func x509Configuration(rootCA: [UInt8], issuingCAs: [[UInt8]]) throws -> GroupConfiguration {
        var configuration = GroupConfiguration()
        configuration.identity = try X509IdentityProvider(trustAnchors: [rootCA], intermediates: issuingCAs)
        return configuration
    }

    func x509Client(chain: [[UInt8]], signer: any MLSSigner, configuration: GroupConfiguration) throws -> MLSClient {
        try MLSClient(credential: .x509(certificates: chain), signer: signer, suite: .mls128X25519AES128GCMSHA256Ed25519,
                      configuration: configuration)
    }

    /// Accepts X.509 credentials that chain to the authority's PKI and whose subject is in the
    /// directory of staff and registered citizens.
    struct DirectoryIdentityProvider: IdentityProvider {
        static let unknownSubject = RuleViolation.Code(rawValue: "unknownSubject")
        let pki: X509IdentityProvider
        let directory: Set<[UInt8]>  // DER-encoded subjects

        func validate(_ credential: Credential, signatureKey: [UInt8], at time: UInt64?) throws(CredentialRejection) {
            try pki.validate(credential, signatureKey: signatureKey, at: time)
            guard directory.contains(identity(of: credential)) else {
                throw .refused(RuleViolation(Self.unknownSubject))
            }
        }
    }

    func reason(_ error: GroupError) -> String? {
        let rejection: CredentialRejection
        switch error {
        case let .leafNode(.invalidCredential(r)), let .invalidProposal(.keyPackageLeafNode(.invalidCredential(r))): rejection = r
        default: return nil
        }
        switch rejection {
        case .expired: return "the certificate has expired"
        case .untrusted: return "the certificate is not from our PKI"
        case .unsupportedType(.basic): return "a certificate is required"
        case let .unsupportedType(type): return "credential type \(type.rawValue) is not accepted"
        case let .refused(violation): return "refused: \(violation)"
        default: return "the certificate is not valid: \(rejection)"
        }
    }
}

/// Runs the articles' code, so it is not only compiled but does what the articles say.
@Suite struct MLSDocumentationExampleTests {
    let examples = MLSDocumentationExamples()
    typealias PKI = X509CredentialTests.PKI
    typealias Key = X509CredentialTests.Key

    @Test func createAMailboxGroup() throws {
        let (authority, citizen) = examples.makeClients()
        var (a, c) = try examples.openMailbox(authority: authority, citizen: citizen)
        #expect(a.epoch == 1 && c.epochAuthenticator == a.epochAuthenticator)
        let (author, text) = try examples.sendNotice(from: &a, to: &c)
        #expect(author?.identity == authority.identity && text == "Your application has been received.")

        // The same with the authority's key behind a signing service.
        let key = InMemorySigner.generate(.ed25519)
        let kms = MLSDocumentationExamples.KMSSigner(scheme: .ed25519, publicKey: key.publicKey, request: { try key.sign($0) })
        let hsmAuthority = try examples.makeAuthority(signer: kms)
        #expect(hsmAuthority.configuration.encryptsHandshakes)
        var (h, hc) = try examples.openMailbox(authority: hsmAuthority, citizen: citizen)
        #expect(h.member(at: LeafIndex(0))?.signatureKey == key.publicKey)
        #expect(try examples.sendNotice(from: &h, to: &hc).text == "Your application has been received.")
    }

    @Test func addAndRemoveMembers() throws {
        let (authority, citizen) = examples.makeClients()
        var (a, c) = try examples.openMailbox(authority: authority, citizen: citizen)
        let clerkClients = ["clerk1", "clerk2"].map { MLSClient.basic(identity: Array($0.utf8), suite: authority.suite) }
        let bundles = try clerkClients.map { try $0.makeKeyPackage() }
        let added = try examples.addClerks(bundles, to: &a)
        #expect(added.description.added.map(\.identity) == clerkClients.map(\.identity))
        #expect(try examples.receiveCommit(added.commit, in: &c) == "epoch 2: registry-office@city.example (leaf 0) added [\"clerk1 (leaf 2)\", \"clerk2 (leaf 3)\"], removed []")
        var clerks = try bundles.enumerated().map { try clerkClients[$0.offset].join(welcome: try #require(added.welcome), keyPackage: $0.element) }

        // A clerk proposes removing the other; the authority commits it.
        let proposal = try examples.proposeRemoval(of: LeafIndex(3), in: &clerks[0])
        _ = try clerks[1].process(proposal)
        _ = try a.process(proposal)
        _ = try c.process(proposal)
        let out = try examples.commitPendingProposals(in: &a)
        #expect(out.description.removed.map(\.identity) == [clerkClients[1].identity])
        _ = try examples.receiveCommit(out.commit, in: &c)
        _ = try examples.receiveCommit(out.commit, in: &clerks[0])
        #expect(try examples.receiveCommit(out.commit, in: &clerks[1]) == "registry-office@city.example (leaf 0) removed us")
        #expect(!clerks[1].isActive)

        // The citizen is removed by identity; a commit that lost the epoch is dropped.
        let removal = try #require(try examples.removeMember(identity: citizen.identity, from: &a))
        #expect(try examples.receiveCommit(removal.commit, in: &c).hasSuffix("removed us"))
        _ = try clerks[0].process(removal.commit)
        #expect(try examples.removeMember(identity: citizen.identity, from: &a) == nil)
        let mine = try a.commit()
        let theirs = try clerks[0].commit()
        #expect(try examples.commitLost(mine.pending, winner: theirs.commit, in: &a))
        _ = try clerks[0].process(theirs.commit, pending: theirs.pending)
        #expect(a.epochAuthenticator == clerks[0].epochAuthenticator)
    }

    @Test func auditACommit() throws {
        let (authority, citizen) = examples.makeClients()
        var (a, c) = try examples.openMailbox(authority: authority, citizen: citizen)
        // The citizen accepts a key update from the authority…
        let update = try a.commit()
        _ = try a.process(update.commit, pending: update.pending)
        #expect(try examples.audit(update.commit, in: &c, authority: authority.identity))
        #expect(c.epoch == a.epoch)
        // …and refuses the citizen's own attempt, seen from the authority, to add someone.
        let other = try MLSClient.basic(identity: Array("stranger".utf8), suite: authority.suite).makeKeyPackage()
        let add = try c.commit(CommitOptions(proposals: [.add(other.keyPackage)]))
        let before = a.epochAuthenticator
        #expect(try !examples.audit(add.commit, in: &a, authority: authority.identity))
        #expect(a.epochAuthenticator == before)

        // With the rules configured, the same commit cannot be built by the citizen, and is
        // refused by the authority with the rule's code.
        let rulesAuthority = MLSClient.basic(identity: authority.identity, suite: authority.suite,
                                             configuration: examples.mailboxConfiguration(authority: authority.identity))
        let rulesCitizen = MLSClient.basic(identity: citizen.identity, suite: citizen.suite,
                                           configuration: examples.mailboxConfiguration(authority: authority.identity))
        var (ra, rc) = try examples.openMailbox(authority: rulesAuthority, citizen: rulesCitizen)
        do {
            _ = try rc.commit(CommitOptions(proposals: [.add(other.keyPackage)]))
            Issue.record("the citizen built a commit its rules forbid")
        } catch {
            #expect(examples.explain(error) == "refused by the mailbox's rules: jane.doe@mail.example (leaf 1) changed the membership")
        }
        // A commit built without the rules is refused on receipt.
        var unruly = rc
        unruly.configuration = GroupConfiguration()
        let forbidden = try unruly.commit(CommitOptions(proposals: [.add(other.keyPackage)]))
        do {
            _ = try ra.process(forbidden.commit)
            Issue.record("the authority accepted a commit its rules forbid")
        } catch {
            #expect(examples.explain(error).hasPrefix("refused by the mailbox's rules"))
        }
        #expect(examples.explain(.noPendingCommit) == "refused by RFC 9420: no pending commit")
    }

    @Test func validateX509Credentials() throws {
        let pki = try PKI(name: "City")
        let configuration = try examples.x509Configuration(rootCA: pki.root, issuingCAs: [pki.intermediate])
        func client(_ key: Key, _ configuration: GroupConfiguration, issuer: PKI? = nil) throws -> MLSClient {
            let signer = try InMemorySigner(scheme: .ed25519, privateKey: try key.rawPrivateKey)
            return try examples.x509Client(chain: [try (issuer ?? pki).leaf(key)], signer: signer, configuration: configuration)
        }
        let authorityKey = try Key.ed25519(), citizenKey = try Key.ed25519()
        let authority = try client(authorityKey, configuration)
        let citizen = try client(citizenKey, configuration)
        var (a, c) = try examples.openMailbox(authority: authority, citizen: citizen)
        #expect(try examples.sendNotice(from: &a, to: &c).text == "Your application has been received.")

        // A basic credential is refused, and the reason says why.
        let basic = try MLSClient.basic(identity: [1], suite: authority.suite).makeKeyPackage()
        do {
            _ = try a.commit(CommitOptions(proposals: [.add(basic.keyPackage)]))
            Issue.record("a basic credential was accepted")
        } catch {
            #expect(examples.reason(error) == "a certificate is required")
        }
        // A certificate of another PKI is refused.
        let otherPKI = try PKI(name: "Other")
        let stranger = try client(try Key.ed25519(), try examples.x509Configuration(rootCA: otherPKI.root, issuingCAs: [otherPKI.intermediate]),
                                  issuer: otherPKI)
        do {
            _ = try a.commit(CommitOptions(proposals: [.add(try stranger.makeKeyPackage().keyPackage)]))
            Issue.record("a foreign certificate was accepted")
        } catch {
            #expect(examples.reason(error) == "the certificate is not from our PKI")
        }

        // The directory provider accepts only the subjects it lists.
        let x509 = try X509IdentityProvider(trustAnchors: [pki.root], intermediates: [pki.intermediate])
        let directory = MLSDocumentationExamples.DirectoryIdentityProvider(pki: x509, directory: [])
        let credential = Credential.x509(certificates: [try pki.leaf(citizenKey)])
        let signatureKey = try citizenKey.mlsPublicKey
        #expect(throws: CredentialRejection.refused(RuleViolation(MLSDocumentationExamples.DirectoryIdentityProvider.unknownSubject))) {
            try directory.validate(credential, signatureKey: signatureKey, at: nil)
        }
        let listed = MLSDocumentationExamples.DirectoryIdentityProvider(pki: x509, directory: [x509.identity(of: credential)])
        try listed.validate(credential, signatureKey: signatureKey, at: nil)
    }
}
