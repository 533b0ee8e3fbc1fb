@_spi(Engine) import MLSCodec

/// `SenderType` (RFC 9420 §6). Decoding any other value throws, because the sender body is
/// selected on it.
@_spi(Engine) public enum SenderType: UInt8, Hashable, Sendable, TLSRawValueCodable {
    /// `member(1)` (RFC 9420 §6).
    case member = 1
    /// `external(2)` (RFC 9420 §6).
    case external = 2
    /// `new_member_proposal(3)` (RFC 9420 §6).
    case newMemberProposal = 3
    /// `new_member_commit(4)` (RFC 9420 §6).
    case newMemberCommit = 4
}
