@_spi(Engine) import MLSCodec

/// `PreSharedKeyID` (RFC 9420 §8.4): names a PSK and carries a fresh nonce.
///
/// An application names PSKs of two kinds: external ones by ID, and resumption PSKs of an
/// earlier epoch (`usage` `application`). ReInit and branch PSKs (§11.2, §11.3) are made by
/// the group itself, so the engine's full form (``psk``) is SPI.
public struct PreSharedKeyID: Hashable, Sendable {
    /// The `psktype` and the fields it selects (RFC 9420 §8.4).
    @_spi(Engine) public enum PSK: Hashable, Sendable {
        /// `external`: `opaque psk_id<V>` (RFC 9420 §8.4).
        case external(pskID: [UInt8])
        /// `resumption`: usage, `opaque psk_group_id<V>` and `uint64 psk_epoch` (RFC 9420 §8.4).
        case resumption(usage: ResumptionPSKUsage, pskGroupID: [UInt8], pskEpoch: UInt64)

        /// The `psktype` discriminant (RFC 9420 §8.4).
        @_spi(Engine) public var pskType: PSKType {
            switch self {
            case .external: .external
            case .resumption: .resumption
            }
        }
    }

    /// The PSK's type and identifying fields (RFC 9420 §8.4).
    @_spi(Engine) public var psk: PSK
    /// `opaque psk_nonce<V>` (RFC 9420 §8.4): fresh random bytes of the KDF's output length,
    /// so that every use of a PSK derives a distinct secret.
    public var pskNonce: [UInt8]

    /// Creates a PreSharedKeyID from its fields (RFC 9420 §8.4).
    @_spi(Engine) public init(psk: PSK, pskNonce: [UInt8]) {
        self.psk = psk
        self.pskNonce = pskNonce
    }

    /// An external PSK (`psktype` `external`, RFC 9420 §8.4) with the given `psk_id`.
    public static func external(id: [UInt8], nonce: [UInt8]) -> PreSharedKeyID {
        PreSharedKeyID(psk: .external(pskID: id), pskNonce: nonce)
    }

    /// A resumption PSK (`psktype` `resumption`, usage `application`, RFC 9420 §8.4, §8.6): the
    /// `resumption_psk` of epoch `epoch` of group `groupID`.
    public static func resumption(groupID: [UInt8], epoch: UInt64, nonce: [UInt8]) -> PreSharedKeyID {
        PreSharedKeyID(psk: .resumption(usage: .application, pskGroupID: groupID, pskEpoch: epoch), pskNonce: nonce)
    }

    /// The `psk_id` of an external PSK; `nil` for a resumption PSK.
    public var externalID: [UInt8]? {
        if case let .external(id) = psk { return id }
        return nil
    }

    /// The group and epoch of a resumption PSK, of whatever usage (RFC 9420 §8.6); `nil` for
    /// an external PSK.
    public var resumedEpoch: (groupID: [UInt8], epoch: UInt64)? {
        if case let .resumption(_, groupID, epoch) = psk { return (groupID, epoch) }
        return nil
    }

    /// Encodes the struct (RFC 9420 §8.4).
    @_spi(Engine) public func encode(to writer: inout TLSWriter) {
        psk.pskType.encode(to: &writer)
        switch psk {
        case let .external(pskID):
            writer.writeOpaque(pskID)
        case let .resumption(usage, groupID, epoch):
            usage.encode(to: &writer)
            writer.writeOpaque(groupID)
            writer.writeUInt64(epoch)
        }
        writer.writeOpaque(pskNonce)
    }

    /// Decodes the struct (RFC 9420 §8.4).
    @_spi(Engine) public init(from reader: inout TLSReader) throws {
        switch try PSKType(from: &reader) {
        case .external:
            psk = .external(pskID: try reader.readOpaque())
        case .resumption:
            let usage = try ResumptionPSKUsage(from: &reader)
            let groupID = try reader.readOpaque()
            let epoch = try reader.readUInt64()
            psk = .resumption(usage: usage, pskGroupID: groupID, pskEpoch: epoch)
        }
        pskNonce = try reader.readOpaque()
    }
}

// The codec is engine SPI, so the conformance is too (Docs/Architecture.md, "SPI rather than package").
@_spi(Engine) extension PreSharedKeyID: TLSCodable {}
