/// A copy-on-write array stored as fixed-size chunks that copies share until one of them
/// writes.
///
/// A ratchet tree is copied on every transition: staging a commit keeps the state before it
/// intact, and a group keeps the trees of past epochs for late messages. With one flat array,
/// every copy that is later written duplicates all 2N − 1 nodes and releases them again: O(N)
/// per commit, although a commit changes O(log N) nodes. Here a copy costs one reference per
/// chunk, and a write copies one chunk of ``chunkSize`` elements. So a commit costs about
/// N / 32 reference-count operations plus O(log N) chunk copies, and the trees of consecutive
/// epochs share every chunk the commit did not touch. Chunk identity also tells which parts
/// of two related arrays can differ (``sharesChunk(_:with:)``).
struct ChunkedArray<Element>: RandomAccessCollection, MutableCollection {
    /// Elements per chunk: a power of two, so an index splits with a shift and a mask. 64 keeps
    /// a chunk copy (a write after a copy) small next to one hash or signature.
    static var chunkShift: Int { 6 }
    static var chunkSize: Int { 1 << chunkShift }

    /// One chunk. Its storage is mutated in place only while the chunk is uniquely referenced
    /// (checked before every write), which is what makes sharing chunks between values safe.
    final class Chunk: @unchecked Sendable {
        var items: ContiguousArray<Element>
        init(_ items: ContiguousArray<Element>) { self.items = items }
    }

    private var chunks: ContiguousArray<Chunk> = []
    private(set) var count = 0

    init() {}

    init(repeating element: Element, count: Int) {
        appendRepeating(element, count: count)
    }

    var startIndex: Int { 0 }
    var endIndex: Int { count }

    subscript(position: Int) -> Element {
        get {
            precondition(position >= 0 && position < count, "ChunkedArray index out of range")
            return chunks[position >> Self.chunkShift].items[position & (Self.chunkSize - 1)]
        }
        set {
            precondition(position >= 0 && position < count, "ChunkedArray index out of range")
            let c = position >> Self.chunkShift
            if !isKnownUniquelyReferenced(&chunks[c]) { chunks[c] = Chunk(chunks[c].items) }
            chunks[c].items[position & (Self.chunkSize - 1)] = newValue
        }
    }

    /// Appends `count` copies of `element`.
    mutating func appendRepeating(_ element: Element, count added: Int) {
        var remaining = added
        while remaining > 0 {
            let used = count & (Self.chunkSize - 1)
            if used == 0 {
                let n = Swift.min(remaining, Self.chunkSize)
                var items = ContiguousArray<Element>()
                items.reserveCapacity(Self.chunkSize)
                items.append(contentsOf: repeatElement(element, count: n))
                chunks.append(Chunk(items))
                count += n
                remaining -= n
            } else {
                let n = Swift.min(remaining, Self.chunkSize - used)
                let c = chunks.count - 1
                if !isKnownUniquelyReferenced(&chunks[c]) { chunks[c] = Chunk(chunks[c].items) }
                chunks[c].items.append(contentsOf: repeatElement(element, count: n))
                count += n
                remaining -= n
            }
        }
    }

    /// Removes the last `k` elements.
    mutating func removeLast(_ k: Int) {
        precondition(k >= 0 && k <= count, "ChunkedArray.removeLast beyond its count")
        let newCount = count - k
        let keep = (newCount + Self.chunkSize - 1) >> Self.chunkShift
        chunks.removeLast(chunks.count - keep)
        let tail = newCount & (Self.chunkSize - 1)
        if tail != 0, let c = chunks.indices.last, chunks[c].items.count > tail {
            if !isKnownUniquelyReferenced(&chunks[c]) { chunks[c] = Chunk(chunks[c].items) }
            chunks[c].items.removeLast(chunks[c].items.count - tail)
        }
        count = newCount
    }

    /// Whether the chunk holding `position` is the same storage in `self` and `other`: then
    /// both hold the same elements in it (for arrays derived from one another).
    func sharesChunk(_ position: Int, with other: ChunkedArray) -> Bool {
        let c = position >> Self.chunkShift
        return c < chunks.count && c < other.chunks.count && chunks[c] === other.chunks[c]
    }
}

extension ChunkedArray: @unchecked Sendable where Element: Sendable {}
