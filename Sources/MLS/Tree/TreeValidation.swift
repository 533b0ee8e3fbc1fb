@_spi(Engine) import MLSCodec
@_spi(Engine) import MLSCrypto

extension RatchetTree {
    /// Validates a tree received when joining (RFC 9420 §12.4.3.1) in one linear pass plus a
    /// parallel fan-out: the tree hash against the GroupContext, the unmerged-leaves rules,
    /// parent-hash validity of every non-blank parent, and every leaf (§7.3) — content checks,
    /// credential-type compatibility, and signatures, the signatures verified on all cores.
    /// Key uniqueness was already enforced when the tree was built.
    public mutating func validate(groupContext: GroupContext, validator: LeafNodeValidator) throws {
        guard groupContext.treeHash == treeHash() else { throw TreeError.treeHashMismatch }
        try verifyUnmergedLeaves()
        try verifyParentHashes()
        var members: [(LeafIndex, LeafNode)] = []
        members.reserveCapacity(Int(leafCount))
        for i in stride(from: 0, to: slots.count, by: 2) {
            if case let .leaf(l) = slots[i] { members.append((LeafIndex(UInt32(i / 2)), l)) }
        }
        // Per-leaf checks and signatures in one fan-out; the first failing leaf (by index) is reported.
        let results = parallelMap(members, minimumBatch: 8) { member -> LeafNodeValidationError? in
            if let e = validator.checkContent(member.1, expectedSource: nil) { return e }
            return validator.verifySignature(member.1, at: member.0) ? nil : .invalidSignature
        }
        if let bad = results.firstIndex(where: { $0 != nil }), let e = results[bad] { throw TreeError.invalidLeafNode(members[bad].0, e) }
        guard credentialTypesCompatible() else {
            throw TreeError.invalidLeafNode(members.first?.0 ?? LeafIndex(0), .credentialTypeNotSupportedByGroup)
        }
    }
}
