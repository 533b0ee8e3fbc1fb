@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

/// One member's private TreeKEM state (RFC 9420 §7.4): the HPKE private keys of its leaf and of
/// the parent nodes on its direct path that it knows.
///
/// Keys are held in `SecretBytes` and replaced or deleted as soon as the nodes they belong to
/// change, so an old node key is gone once a commit has replaced it (§7.5, forward secrecy).
@_spi(Engine) public struct TreeKEMPrivateKey: Sendable {
    /// The suite the keys belong to.
    public let suite: CipherSuite
    /// The member's leaf.
    public var leafIndex: LeafIndex
    /// HPKE private keys by node index.
    var keys: [UInt32: SecretBytes]

    /// State that knows only the leaf's private key, as after joining without a path secret.
    public init(suite: CipherSuite, leafIndex: LeafIndex, leafPrivateKey: SecretBytes) {
        self.suite = suite
        self.leafIndex = leafIndex
        keys = [leafIndex.nodeIndex.rawValue: leafPrivateKey]
    }

    /// The private key held for `node`, if any.
    public func privateKey(for node: NodeIndex) -> SecretBytes? { keys[node.rawValue] }

    /// The nodes whose private keys are held, in index order.
    public var nodesWithKeys: [NodeIndex] { keys.keys.sorted().map { NodeIndex($0) } }

    /// `(node_priv, node_pub)` from a path secret: `DeriveKeyPair(DeriveSecret(path_secret, "node"))` (§7.4).
    static func nodeKeyPair(_ suite: CipherSuite, pathSecret: SecretBytes) throws -> (privateKey: SecretBytes, publicKey: [UInt8]) {
        try suite.hpke.deriveKeyPair(ikm: suite.deriveSecret(secret: pathSecret, label: "node"))
    }

    /// `path_secret[n+1] = DeriveSecret(path_secret[n], "path")` (§7.4).
    static func nextPathSecret(_ suite: CipherSuite, _ pathSecret: SecretBytes) throws -> SecretBytes {
        try suite.deriveSecret(secret: pathSecret, label: "path")
    }

    /// Installs `pathSecret` at `path[start]` and the secrets derived from it at the later
    /// entries of `path` (a filtered direct path, leaf to root), checking each derived public key
    /// against `publicKeys` (§7.5, §12.4.3.1). Returns `path_secret[n+1]`, the commit secret.
    /// Nothing is changed if a key does not match.
    mutating func implant(pathSecret: SecretBytes, path: [NodeIndex], from start: Int, publicKeys: (NodeIndex) -> [UInt8]?) throws -> SecretBytes {
        var secrets: [SecretBytes] = []
        var s = pathSecret
        for _ in start..<path.count {
            secrets.append(s)
            s = try Self.nextPathSecret(suite, s)
        }
        let suite = self.suite
        let pairs = try parallelMap(secrets, minimumBatch: 2) { try Self.nodeKeyPair(suite, pathSecret: $0) }
        for (k, pair) in pairs.enumerated() {
            let node = path[start + k]
            guard let expected = publicKeys(node), constantTimeEqual(expected, pair.publicKey) else { throw TreeError.keyMismatch(node: node.rawValue) }
        }
        for (k, pair) in pairs.enumerated() { keys[path[start + k].rawValue] = pair.privateKey }
        return s
    }

    /// Sets the private key of one node from its path secret, checking it against `tree` (the
    /// form the treekem vectors and a Welcome's `path_secret` use, §12.4.3.1).
    public mutating func setPathSecret(_ pathSecret: SecretBytes, at node: NodeIndex, in tree: RatchetTree) throws {
        let pair = try Self.nodeKeyPair(suite, pathSecret: pathSecret)
        guard let expected = tree.encryptionKey(at: node), constantTimeEqual(expected, pair.publicKey) else { throw TreeError.keyMismatch(node: node.rawValue) }
        keys[node.rawValue] = pair.privateKey
    }

    /// Installs a known private key for `node`, checking it against the tree's public key.
    public mutating func setPrivateKey(_ key: SecretBytes, at node: NodeIndex, in tree: RatchetTree) throws {
        guard let expected = tree.encryptionKey(at: node), let pub = try? suite.hpke.publicKey(for: key),
              constantTimeEqual(expected, pub) else { throw TreeError.keyMismatch(node: node.rawValue) }
        keys[node.rawValue] = key
    }

    /// Joins with a Welcome's `path_secret` (§12.4.3.1): installs it at the lowest common
    /// ancestor of this member and the committer, then derives upward along the committer's
    /// filtered direct path, checking every public key. Returns nothing; the commit secret is
    /// not needed by a joiner.
    public mutating func implantWelcomePathSecret(_ pathSecret: SecretBytes, committer: LeafIndex, in tree: RatchetTree) throws {
        let ancestor = TreeMath.commonAncestor(leafIndex.nodeIndex, committer.nodeIndex)
        let path = tree.filteredDirectPath(committer).map(\.node)
        guard let start = path.firstIndex(of: ancestor) else { throw TreeError.keyMismatch(node: ancestor.rawValue) }
        _ = try implant(pathSecret: pathSecret, path: path, from: start, publicKeys: { tree.encryptionKey(at: $0) })
    }

    /// Whether every private key held matches the public key at its node in `tree`.
    public func isConsistent(with tree: RatchetTree) -> Bool {
        keys.allSatisfy { node, key in
            guard let pub = tree.encryptionKey(at: NodeIndex(node)), let mine = try? suite.hpke.publicKey(for: key) else { return false }
            return constantTimeEqual(pub, mine)
        }
    }

    /// Forgets the keys of nodes that a commit blanked or replaced.
    mutating func forget(_ nodes: [NodeIndex]) {
        for n in nodes { keys[n.rawValue] = nil }
    }
}
