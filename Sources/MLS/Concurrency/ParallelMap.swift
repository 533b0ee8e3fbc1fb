import Dispatch
import Foundation
import Synchronization

/// How much hardware parallelism MLSKit's data-parallel helpers may use (for example when
/// sealing a Welcome's GroupSecrets to many new members, RFC 9420 §12.4.3.1).
@_spi(Engine) public enum Parallelism {
    /// The number of processors this process may use now (at least 1).
    ///
    /// Read again at most once a second, so a process whose CPU allowance changes (containers,
    /// `taskset`) soon fans out to what it has. Not on every call: Foundation reads the cgroup
    /// files each time, tens of microseconds that showed in every commit's profile.
    public static var cores: Int {
        // A cap of 1 answers without looking at the clock, so single-threaded runs do exactly
        // the same work every time (the instruction-count gate relies on it).
        if let cap = operatorCap, cap == 1 { return 1 }
        let now = ContinuousClock.now
        return cached.withLock { entry in
            if let e = entry, now - e.read < .seconds(1) { return e.cores }
            let cores = min(max(1, ProcessInfo.processInfo.activeProcessorCount), operatorCap ?? .max)
            entry = (cores, now)
            return cores
        }
    }

    /// The operator's cap from the environment variable `MLSKIT_MAX_CORES`, read once: 1 runs
    /// every fan-out on the calling thread, for a server that runs many groups on its own
    /// threads, and for runs that must not depend on thread timing.
    static let operatorCap: Int? = ProcessInfo.processInfo.environment["MLSKIT_MAX_CORES"].flatMap(Int.init).map { max(1, $0) }

    private static let cached = Mutex<(cores: Int, read: ContinuousClock.Instant)?>(nil)
}

/// A pointer that may be captured by the concurrently running chunks of ``parallelMap(_:minimumBatch:_:)``.
///
/// `@unchecked Sendable` is sound here because every chunk writes only the slots of its own
/// contiguous, disjoint index range, no slot is ever read until `concurrentPerform` has returned
/// (which happens-after every chunk finished), and the memory outlives the concurrent section.
private struct DisjointSlots<Element>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Element>
}

/// `items.map(transform)`, computed on all cores.
///
/// Public key operations dominate some MLS operations that are independent per item: sealing
/// a Welcome's GroupSecrets to thousands of new members (RFC 9420 §12.4.3.1) is the motivating
/// case. The result is identical to a sequential `map`, element for element and in input order:
///
/// - The items are split into contiguous chunks (up to 32 per core, so that when one core
///   finishes early the other has at most a small chunk left, but never more than
///   `items.count / minimumBatch`, so each chunk amortises its dispatch). Each chunk writes its results into its own slots of one preallocated buffer.
/// - With fewer than `minimumBatch` items, or a single core, it is just a sequential `map`.
/// - If any `transform` throws, the error thrown is the one of the lowest-index failing item, as
///   a sequential map would throw. Each chunk stops at its first failure; chunks after it may have
///   run (so `transform` must not rely on later items being skipped), but their results are
///   discarded.
///
/// `transform` is `@Sendable` because it runs on several threads at once.
@_spi(Engine) public func parallelMap<T: Sendable, R: Sendable, E: Error>(
    _ items: [T], minimumBatch: Int = 16, _ transform: @Sendable (T) throws(E) -> R
) throws(E) -> [R] {
    let count = items.count
    let batch = max(1, minimumBatch)
    let chunkCount = min(Parallelism.cores * 32, count / batch)
    if count < batch || Parallelism.cores == 1 || chunkCount <= 1 {
        return try items.map(transform)
    }

    // Per chunk: how many leading results it initialised, and the error that stopped it, if any.
    let outcomes = UnsafeMutableBufferPointer<(initialized: Int, error: E?)>.allocate(capacity: chunkCount)
    outcomes.initialize(repeating: (0, nil))
    defer {
        outcomes.deinitialize()
        outcomes.deallocate()
    }

    var firstError: E?
    let results = [R](unsafeUninitializedCapacity: count) { buffer, initializedCount in
        let slots = DisjointSlots(base: buffer.baseAddress!)
        let reports = DisjointSlots(base: outcomes.baseAddress!)
        DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
            // Integer bounds that partition 0..<count exactly, chunk sizes differing by at most 1.
            let lower = chunk * count / chunkCount
            let upper = (chunk + 1) * count / chunkCount
            var done = 0
            var failure: E?
            for index in lower..<upper {
                do throws(E) {
                    (slots.base + index).initialize(to: try transform(items[index]))
                    done += 1
                } catch {
                    failure = error
                    break
                }
            }
            reports.base[chunk] = (done, failure)
        }

        // Chunks are contiguous and in index order, and each processes its range in order, so the
        // first chunk that reports an error holds the lowest failing index overall.
        firstError = outcomes.lazy.compactMap(\.error).first
        if firstError != nil {
            // Leave the buffer fully uninitialised, as the initializer requires when it yields 0.
            for chunk in 0..<chunkCount {
                let lower = chunk * count / chunkCount
                (slots.base + lower).deinitialize(count: outcomes[chunk].initialized)
            }
            initializedCount = 0
        } else {
            initializedCount = count
        }
    }
    if let firstError { throw firstError }
    return results
}
