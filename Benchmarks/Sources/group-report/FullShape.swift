// The only file of group-report that uses the engine SPI: it builds the "full" tree shape
// through the engine's fixture, which no public API can do in reasonable time (see
// GroupReport's doc comment). The operations measured run on the public API.
@_spi(Engine) import MLS

/// A (leaf 0) and B (leaf n − 1) of an n-member group with a full tree: every member has
/// committed once.
func fullShapeGroup(_ n: Int, suite: CipherSuite) throws -> (MLSGroup, MLSGroup) {
    var fixture = try TreeFixture(suite: suite, groupID: Array("group-report full".utf8))
    try fixture.build(.full(n))
    var configuration = GroupConfiguration()
    configuration.ratchetTreeInWelcome = false
    let groups = try fixture.groups(at: [LeafIndex(0), LeafIndex(UInt32(n - 1))], configuration: configuration)
    return (groups[0], groups[1])
}
