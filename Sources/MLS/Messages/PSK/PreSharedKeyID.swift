@_spi(Engine) import MLSCodec

/// `PreSharedKeyID` (RFC 9420 §8.4): names a PSK and carries a fresh nonce.
public struct PreSharedKeyID: Hashable, Sendable {
    /// The `psktype` and the fields it selects (RFC 9420 §8.4).
    public enum PSK: Hashable, Sendable {
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
    public var psk: PSK
    /// `opaque psk_nonce<V>` (RFC 9420 §8.4).
    public var pskNonce: [UInt8]

    /// Creates a PreSharedKeyID from its fields (RFC 9420 §8.4).
    public init(psk: PSK, pskNonce: [UInt8]) {
        self.psk = psk
        self.pskNonce = pskNonce
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
