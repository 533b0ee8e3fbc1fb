@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

extension StorageBatch {
    /// SHA-256 over a canonical encoding of the batch's puts (every list sorted by key), so two
    /// backends holding the same rows give the same digest whatever order they list them in.
    /// Used with ``StorageBackend/contents()`` to compare whole stores, as the crash test does.
    public func canonicalDigest() -> [UInt8] {
        func less(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.lexicographicallyPrecedes(b) }
        var w = TLSWriter(capacity: 1 << 16)
        w.writeVector { w in
            for g in groups.sorted(by: { less($0.groupID, $1.groupID) }) {
                w.writeOpaque(g.groupID)
                w.writeUInt64(g.epoch)
                w.writeOpaque(g.record)
                w.writeOpaque(g.stamp.bytes)
                w.writeVector { w in
                    for n in g.upsertNodes.sorted(by: { $0.index < $1.index }) {
                        w.writeUInt32(n.index)
                        w.writeOpaque(n.blob)
                    }
                }
            }
        }
        for list in [putKeyPackages.map { ($0.ref, $0.blob) }, putPSKs.map { ($0.id, $0.blob) }] {
            w.writeVector { w in
                for (k, v) in list.sorted(by: { less($0.0, $1.0) }) {
                    w.writeOpaque(k)
                    w.writeOpaque(v)
                }
            }
        }
        w.writeVector { w in
            for v in putValues.sorted(by: { ($0.namespace, Hex.encode($0.key)) < ($1.namespace, Hex.encode($1.key)) }) {
                w.writeOpaque(Array(v.namespace.utf8))
                w.writeOpaque(v.key)
                w.writeOpaque(v.blob)
            }
        }
        return CipherSuite(id: 1)!.digest(w.takeBytes())
    }
}
