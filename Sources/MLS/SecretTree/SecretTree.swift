@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// Which of a leaf's two hash ratchets a key comes from (RFC 9420 §9.1).
@_spi(Engine) public enum RatchetType: UInt8, Sendable, Hashable {
    /// Keys for Proposal and Commit messages sent as PrivateMessage.
    case handshake = 0
    /// Keys for application messages.
    case application = 1

    var label: String {
        switch self {
        case .handshake: "handshake"
        case .application: "application"
        }
    }
}

/// An AEAD key and nonce for one generation of a hash ratchet (RFC 9420 §9.1).
@_spi(Engine) public struct RatchetKey: Sendable {
    /// The generation the key belongs to.
    public let generation: UInt32
    /// `ratchet_key_[i]_[j]`.
    public let key: SecretBytes
    /// `ratchet_nonce_[i]_[j]`.
    public let nonce: SecretBytes
}

/// Why the secret tree could not produce a key. Engine SPI: the group reports it as the
/// ``FramingError`` generation cases (or `unknownSender` for a leaf outside the tree).
@_spi(Engine) public enum SecretTreeError: Error, Equatable, Sendable {
    /// The leaf index is outside the tree.
    case leafOutOfRange(UInt32)
    /// The key for this generation was already used and deleted (replay, or a message older than
    /// the retained window) (RFC 9420 §9.2).
    case generationConsumed(UInt32)
    /// The requested generation is further ahead than the configured forward window (§9.2).
    case generationTooFarAhead(requested: UInt32, current: UInt32, limit: UInt32)
    /// The ratchet has reached the end of the 32-bit generation space.
    case generationExhausted
}

/// The secret tree of one epoch (RFC 9420 §9) with the deletion schedule of §9.2.
///
/// Node secrets are derived on demand from the root and each parent secret is deleted as soon
/// as both children exist; every ratchet secret is replaced when it advances; every key handed
/// out is removed. A key can therefore be obtained once, which is what makes replays fail and
/// gives forward secrecy within the epoch.
@_spi(Engine) public struct SecretTree: Sendable {
    /// The suite whose KDF and AEAD sizes are used.
    public let suite: CipherSuite
    /// Number of leaves in the group's tree.
    public let leafCount: UInt32
    /// How many generations a receiver may skip ahead in one step (§9.2; default 1000).
    public var maxForwardDistance: UInt32

    /// Secrets of tree nodes not yet expanded into their children, keyed by node index.
    private var nodeSecrets: [UInt32: SecretBytes]
    /// Per leaf and ratchet type, the current ratchet state.
    private var ratchets: [RatchetID: Ratchet] = [:]

    private struct RatchetID: Hashable {
        var leaf: UInt32
        var type: RatchetType
    }

    private struct Ratchet {
        /// The generation whose secret `secret` is.
        var generation: UInt32
        /// `ratchet_secret_[i]_[generation]`, or nil once the 32-bit space is exhausted.
        var secret: SecretBytes?
        /// Keys for skipped generations, kept until used or until the window passes them.
        var skipped: [UInt32: RatchetKey] = [:]
    }

    /// Creates the tree for an epoch from its `encryption_secret` (§9).
    public init(suite: CipherSuite, encryptionSecret: SecretBytes, leafCount: UInt32, maxForwardDistance: UInt32 = 1000) {
        self.suite = suite
        self.leafCount = leafCount
        self.maxForwardDistance = maxForwardDistance
        nodeSecrets = [TreeMath.root(leafCount).rawValue: encryptionSecret]
    }

    /// Derives (and caches) the secret of leaf node `leaf`, deleting parents on the way down.
    private mutating func leafSecret(_ leaf: UInt32) throws -> SecretBytes {
        let target = LeafIndex(leaf).nodeIndex
        if let s = nodeSecrets[target.rawValue] { return s }
        // Walk down from the nearest ancestor whose secret is still held.
        var path: [NodeIndex] = []
        var n = target
        while nodeSecrets[n.rawValue] == nil {
            guard let p = TreeMath.parent(n, leafCount: leafCount) else { throw SecretTreeError.generationConsumed(0) }
            path.append(p)
            n = p
        }
        for node in path.reversed() {
            guard let secret = nodeSecrets.removeValue(forKey: node.rawValue),
                  let l = TreeMath.left(node), let r = TreeMath.right(node) else { continue }
            nodeSecrets[l.rawValue] = try suite.expandWithLabel(secret: secret, label: "tree", context: Array("left".utf8), length: suite.kdfLength)
            nodeSecrets[r.rawValue] = try suite.expandWithLabel(secret: secret, label: "tree", context: Array("right".utf8), length: suite.kdfLength)
        }
        guard let s = nodeSecrets[target.rawValue] else { throw SecretTreeError.generationConsumed(0) }
        return s
    }

    /// Starts both ratchets of a leaf, deleting the leaf's node secret (§9.2).
    private mutating func ratchet(_ leaf: UInt32, _ type: RatchetType) throws -> Ratchet {
        guard leaf < leafCount else { throw SecretTreeError.leafOutOfRange(leaf) }
        if let r = ratchets[RatchetID(leaf: leaf, type: type)] { return r }
        let secret = try leafSecret(leaf)
        for t in [RatchetType.handshake, .application] {
            let initial = try suite.expandWithLabel(secret: secret, label: t.label, context: [], length: suite.kdfLength)
            ratchets[RatchetID(leaf: leaf, type: t)] = Ratchet(generation: 0, secret: initial)
        }
        nodeSecrets[LeafIndex(leaf).nodeIndex.rawValue] = nil
        return ratchets[RatchetID(leaf: leaf, type: type)]!
    }

    private func keyAndNonce(_ secret: SecretBytes, generation: UInt32) throws -> RatchetKey {
        RatchetKey(
            generation: generation,
            key: try suite.deriveTreeSecret(secret: secret, label: "key", generation: generation, length: suite.aead.keyLength),
            nonce: try suite.deriveTreeSecret(secret: secret, label: "nonce", generation: generation, length: suite.aead.nonceLength))
    }

    private func advance(_ secret: SecretBytes, from generation: UInt32) throws -> SecretBytes {
        try suite.deriveTreeSecret(secret: secret, label: "secret", generation: generation, length: suite.kdfLength)
    }

    /// The key for the next generation of a leaf's ratchet, as a sender uses it. The key is
    /// removed from the tree.
    public mutating func nextKey(leaf: LeafIndex, type: RatchetType) throws -> RatchetKey {
        var r = try ratchet(leaf.rawValue, type)
        guard let secret = r.secret else { throw SecretTreeError.generationExhausted }
        let key = try keyAndNonce(secret, generation: r.generation)
        if r.generation == UInt32.max {
            r.secret = nil
        } else {
            r.secret = try advance(secret, from: r.generation)
            r.generation += 1
        }
        ratchets[RatchetID(leaf: leaf.rawValue, type: type)] = r
        return key
    }

    /// The key for `generation` of a leaf's ratchet, as a receiver needs it (§9.2). Keys of
    /// skipped generations are kept (within ``maxForwardDistance``) for messages that arrive out
    /// of order; each key can be obtained only once.
    ///
    /// A lookup that throws consumes no key.
    public mutating func key(leaf: LeafIndex, type: RatchetType, generation: UInt32) throws -> RatchetKey {
        let id = RatchetID(leaf: leaf.rawValue, type: type)
        var r = try ratchet(leaf.rawValue, type)
        if generation < r.generation || r.secret == nil {
            guard let k = r.skipped.removeValue(forKey: generation) else { throw SecretTreeError.generationConsumed(generation) }
            ratchets[id] = r
            return k
        }
        let distance = generation - r.generation
        guard distance <= maxForwardDistance else {
            throw SecretTreeError.generationTooFarAhead(requested: generation, current: r.generation, limit: maxForwardDistance)
        }
        guard var secret = r.secret else { throw SecretTreeError.generationExhausted }
        var g = r.generation
        while g < generation {
            r.skipped[g] = try keyAndNonce(secret, generation: g)
            secret = try advance(secret, from: g)
            g += 1
        }
        let key = try keyAndNonce(secret, generation: g)
        if g == UInt32.max {
            r.secret = nil
            r.generation = g
        } else {
            r.secret = try advance(secret, from: g)
            r.generation = g + 1
        }
        // Keys that fell out of the window are deleted rather than kept forever.
        if r.generation > maxForwardDistance {
            let floor = r.generation - maxForwardDistance
            r.skipped = r.skipped.filter { $0.key >= floor }
        }
        ratchets[id] = r
        return key
    }

    /// `sender_data_key` and `sender_data_nonce` for a PrivateMessage ciphertext (§6.3.2).
    public static func senderDataKey(suite: CipherSuite, senderDataSecret: SecretBytes, ciphertext: [UInt8]) throws -> (key: SecretBytes, nonce: SecretBytes) {
        let sample = Array(ciphertext.prefix(suite.kdfLength))
        return (
            try suite.expandWithLabel(secret: senderDataSecret, label: "key", context: sample, length: suite.aead.keyLength),
            try suite.expandWithLabel(secret: senderDataSecret, label: "nonce", context: sample, length: suite.aead.nonceLength))
    }
}

// MARK: Persistence

extension SecretTree {
    /// Writes the tree's remaining secrets in a deterministic order (node secrets by index,
    /// ratchets by leaf and type, skipped keys by generation): only what §9.2 has not yet
    /// deleted is ever written. See Docs/Storage.md.
    func encodeState(to w: inout TLSWriter) {
        w.writeUInt32(leafCount)
        w.writeVector { w in
            for (node, secret) in nodeSecrets.sorted(by: { $0.key < $1.key }) {
                w.writeUInt32(node)
                secret.withUnsafeBytes { w.writeOpaque($0) }
            }
        }
        w.writeVector { w in
            let ordered = ratchets.sorted { ($0.key.leaf, $0.key.type.rawValue) < ($1.key.leaf, $1.key.type.rawValue) }
            for (id, r) in ordered {
                w.writeUInt32(id.leaf)
                w.writeUInt8(id.type.rawValue)
                w.writeUInt32(r.generation)
                w.writeUInt8(r.secret == nil ? 0 : 1)
                r.secret?.withUnsafeBytes { w.writeOpaque($0) }
                w.writeVector { w in
                    for (g, k) in r.skipped.sorted(by: { $0.key < $1.key }) {
                        w.writeUInt32(g)
                        k.key.withUnsafeBytes { w.writeOpaque($0) }
                        k.nonce.withUnsafeBytes { w.writeOpaque($0) }
                    }
                }
            }
        }
    }

    /// Reads what ``encodeState(to:)`` wrote, refusing indices outside the tree and secrets of
    /// the wrong length.
    init(decodingStateFrom r: inout TLSReader, suite: CipherSuite, maxForwardDistance: UInt32) throws {
        let leafCount = try r.readUInt32()
        guard leafCount > 0, leafCount & (leafCount - 1) == 0, leafCount <= 1 << 31 else { throw TLSDecodingError.invalidValue(type: "SecretTree", detail: "secret tree leaf count") }
        self.suite = suite
        self.leafCount = leafCount
        self.maxForwardDistance = maxForwardDistance
        let width = TreeMath.nodeWidth(leafCount)
        func secret(_ r: inout TLSReader, _ length: Int) throws -> SecretBytes {
            var raw = try r.readOpaque()
            guard raw.count == length else { throw TLSDecodingError.invalidValue(type: "SecretTree", detail: "secret length") }
            return SecretBytes(zeroizing: &raw)
        }
        var nodes = try r.readVectorReader()
        var nodeSecrets: [UInt32: SecretBytes] = [:]
        while !nodes.isAtEnd {
            let index = try nodes.readUInt32()
            guard index < width, nodeSecrets[index] == nil else { throw TLSDecodingError.invalidValue(type: "SecretTree", detail: "secret tree node") }
            nodeSecrets[index] = try secret(&nodes, suite.kdfLength)
        }
        self.nodeSecrets = nodeSecrets
        var list = try r.readVectorReader()
        while !list.isAtEnd {
            let leaf = try list.readUInt32()
            guard leaf < leafCount, let type = RatchetType(rawValue: try list.readUInt8()) else { throw TLSDecodingError.invalidValue(type: "SecretTree", detail: "ratchet id") }
            let id = RatchetID(leaf: leaf, type: type)
            guard ratchets[id] == nil else { throw TLSDecodingError.invalidValue(type: "SecretTree", detail: "duplicate ratchet") }
            var ratchet = Ratchet(generation: try list.readUInt32(), secret: nil)
            if try list.readPresence("ratchet secret") { ratchet.secret = try secret(&list, suite.kdfLength) }
            var skipped = try list.readVectorReader()
            while !skipped.isAtEnd {
                let g = try skipped.readUInt32()
                guard ratchet.skipped[g] == nil else { throw TLSDecodingError.invalidValue(type: "SecretTree", detail: "duplicate skipped key") }
                ratchet.skipped[g] = RatchetKey(generation: g, key: try secret(&skipped, suite.aead.keyLength),
                                                nonce: try secret(&skipped, suite.aead.nonceLength))
            }
            ratchets[id] = ratchet
        }
    }
}
