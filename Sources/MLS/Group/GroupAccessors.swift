@_spi(Engine) import MLSCodec

// What an application needs of a GroupContext (RFC 9420 §8.1), which is engine SPI: a member
// reads the group ID and epoch as ``MLSGroup/groupID`` and ``MLSGroup/epoch`` and the extensions
// here; an outsider names the group and epoch it writes to by the GroupInfo it was given.

extension MLSGroup {
    /// The GroupContext's extensions (§8.1, §13): `required_capabilities`, `external_senders` and
    /// the application's own, as the last commit that changed them left them.
    public var extensions: [Extension] { context.extensions }

    /// A request to join from a new member (§12.1.8): an Add of its own KeyPackage, signed with
    /// the KeyPackage's key, for the group and epoch of `groupInfo` (an `mls_group_info`
    /// message, as ``groupInfo(withTree:)`` makes). A member accepts it only if its
    /// ``GroupRules`` do (``DefaultGroupRules`` refuse it unless opted in).
    ///
    /// The GroupInfo's signature is not checked here: the request is only as good as the group
    /// and epoch it names, and the group's members verify what they receive.
    public static func joinProposal(_ bundle: KeyPackageBundle, groupInfo: MLSMessage) throws(GroupError) -> MLSMessage {
        guard case let .groupInfo(info) = groupInfo.body else { throw GroupError.unexpectedWireFormat }
        return try joinProposal(bundle, groupContext: info.groupContext)
    }

    /// A proposal from a party outside the group (§12.1.8): an `external` sender listed at
    /// `senderIndex` of the group's `external_senders` extension, signing with its key, for the
    /// group and epoch of `groupInfo` (an `mls_group_info` message). Sent as PublicMessage, the
    /// only framing an outsider can produce. As with ``joinProposal(_:groupInfo:)``, the members
    /// verify it; the GroupInfo only names the epoch.
    public static func externalProposal(
        _ proposal: Proposal, groupInfo: MLSMessage, senderIndex: UInt32, signer: any MLSSigner, authenticatedData: [UInt8] = []
    ) throws(GroupError) -> MLSMessage {
        guard case let .groupInfo(info) = groupInfo.body else { throw GroupError.unexpectedWireFormat }
        return try externalProposal(proposal, groupContext: info.groupContext, senderIndex: senderIndex, signer: signer,
                                    authenticatedData: authenticatedData)
    }
}
