import Foundation
@_spi(Engine) import MLS

/// `tree-math.json`: array-based tree arithmetic (RFC 9420 Appendix C).
enum TreeMathVectors {
    struct Case: Codable {
        var n_leaves: UInt32
        var n_nodes: UInt32
        var root: UInt32
        var left: [UInt32?]
        var right: [UInt32?]
        var parent: [UInt32?]
        var sibling: [UInt32?]
    }

    static let kind = VectorFileKind(name: "tree-math", verify: verify, generate: generate)

    static func compute(leaves n: UInt32) -> Case {
        let width = TreeMath.nodeWidth(n)
        let nodes = (0..<width).map(NodeIndex.init(rawValue:))
        return Case(
            n_leaves: n, n_nodes: width, root: TreeMath.root(n).rawValue,
            left: nodes.map { TreeMath.left($0)?.rawValue },
            right: nodes.map { TreeMath.right($0)?.rawValue },
            parent: nodes.map { TreeMath.parent($0, leafCount: n)?.rawValue },
            sibling: nodes.map { TreeMath.sibling($0, leafCount: n)?.rawValue })
    }

    static func verify(_ data: Data) throws -> VectorTally {
        var tally = VectorTally()
        for c in try OfficialVectors.cases(Case.self, from: data) {
            tally.run("n_leaves \(c.n_leaves)") {
                let mine = compute(leaves: c.n_leaves)
                try check("n_nodes", mine.n_nodes, c.n_nodes)
                try check("root", mine.root, c.root)
                try check("left", mine.left, c.left)
                try check("right", mine.right, c.right)
                try check("parent", mine.parent, c.parent)
                try check("sibling", mine.sibling, c.sibling)
            }
        }
        return tally
    }

    static func generate() throws -> Data {
        try OfficialVectors.encode((0..<10).map { compute(leaves: 1 << $0) })
    }
}
