import FuzzSupport
@_spi(Engine) import MLS
@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

// The persisted group state MLSStore reads back (MLSGroup(restoringRecord:nodes:), and
// GroupStateSnapshot.decodeNode for each stored node blob). Input layout:
//   opaque record<V>; then until the end: uint32 node_index, opaque node_blob<V>
// On success the restored group is snapshotted again; that snapshot must restore to a group
// whose snapshot is byte-identical (trap otherwise).
// Seeds come from real groups: `FuzzGroupState -seeds DIR` writes some (see Scripts/fuzz.sh).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    var r = TLSReader(bytes)
    guard let record = try? r.readOpaque() else { return 0 }
    var nodes: [UInt32: Node] = [:]
    while !r.isAtEnd {
        guard let index = try? r.readUInt32(), let blob = try? r.readOpaque() else { return 0 }
        guard let node = try? GroupStateSnapshot.decodeNode(blob) else { continue }
        guard GroupStateSnapshot.encodeNode(node) == blob else {
            fatalError("GroupStateSnapshot.decodeNode accepted a non-canonical node blob \(hexPrefix(blob))")
        }
        nodes[index] = node
    }
    guard let group = try? MLSGroup(restoringRecord: SecretBytes(record), nodes: nodes, configuration: fuzzConfiguration()) else { return 0 }
    StateCheck.roundtrip(group, what: "restored group")
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>) -> CInt {
    SeedWriter.handle { dir in
        var n = 0
        for group in Scenarios.sampleGroups() {
            let snap = group.snapshot()
            var w = TLSWriter()
            w.writeOpaque(snap.record.unsafeCopiedBytes())
            for (index, node) in snap.tree.nodes {
                guard let node else { continue }
                w.writeUInt32(index)
                w.writeOpaque(GroupStateSnapshot.encodeNode(node))
            }
            SeedWriter.write(w.bytes, to: dir, name: "state-\(n)")
            n += 1
        }
    }
    return 0
}

@_cdecl("FuzzGroupState_main")
public func FuzzGroupStateMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
