import Foundation

extension Duration {
    /// The duration in seconds, as a `Double`.
    package var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}

/// The median of `values` (the mean of the two middle ones for an even count).
package func median(_ values: [Double]) -> Double {
    precondition(!values.isEmpty)
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// How many timed runs a cell gets.
///
/// The first run (a warm-up, not counted) gives the cost; runs are then repeated until about
/// `budget` seconds have passed, setup included, but never fewer than `minimumRuns` (three for
/// cells whose single run exceeds `budget`, so the slowest cells stay affordable) and never
/// more than `maximumRuns`.
package struct RepetitionPolicy: Sendable {
    /// Seconds a cell may take, setup included.
    package var budget: Double
    /// The fewest timed runs of an ordinary cell.
    package var minimumRuns: Int
    /// The most timed runs of any cell.
    package var maximumRuns: Int

    /// Creates a policy.
    package init(budget: Double = 1.5, minimumRuns: Int = 5, maximumRuns: Int = 2000) {
        self.budget = budget
        self.minimumRuns = minimumRuns
        self.maximumRuns = maximumRuns
    }
}

/// The result of timing one cell.
package struct CellTiming: Sendable {
    /// The median wall time of a run, in seconds.
    package var median: Double
    /// The number of timed runs.
    package var runs: Int
    /// This process's CPU time during the timed runs divided by their wall time: the cores the
    /// operation kept busy on average (2 = both cores of these machines, all the time).
    package var parallelism: Double
}

/// The median wall time of one operation over repeated runs, each run's untimed setup done by
/// `prepare` and only `run` inside the clock.
package func timeMedian(policy: RepetitionPolicy, prepare: () throws -> PreparedIteration) throws -> CellTiming {
    let clock = ContinuousClock()
    var cpu = 0.0, wall = 0.0

    func once() throws -> Double {
        let iteration = try prepare()
        let cpuStart = InterferenceProbe.ownCPUSeconds()
        let start = clock.now
        let result = try iteration.run()
        let elapsed = (clock.now - start).seconds
        cpu += InterferenceProbe.ownCPUSeconds() - cpuStart
        wall += elapsed
        withExtendedLifetime(result) {}
        return elapsed
    }

    let warm = try once()
    let minimum = warm > policy.budget ? 3 : policy.minimumRuns
    var samples: [Double] = []
    let loopStart = clock.now
    while samples.count < policy.maximumRuns {
        samples.append(try once())
        if samples.count >= minimum, (clock.now - loopStart).seconds >= policy.budget { break }
    }
    return CellTiming(median: median(samples), runs: samples.count, parallelism: wall > 0 ? cpu / wall : 0)
}

/// Samples of the cost of one call of `body`, each the mean over a batch of calls, so that the
/// clock's own overhead is negligible even for sub-microsecond primitives (a SHA-256 over a few
/// hundred bytes). Samples are taken for about `budget` seconds (at least 5).
package func timePrimitive(budget: Double, _ body: () throws -> Void) rethrows -> [Double] {
    let clock = ContinuousClock()
    // Size a batch to take about 200 µs.
    var batch = 1
    while true {
        let start = clock.now
        for _ in 0..<batch { try body() }
        let t = (clock.now - start).seconds
        if t >= 200e-6 || batch >= 1 << 20 { break }
        batch *= 2
    }
    var samples: [Double] = []
    let loopStart = clock.now
    while samples.count < 5 || (clock.now - loopStart).seconds < budget {
        let start = clock.now
        for _ in 0..<batch { try body() }
        samples.append((clock.now - start).seconds / Double(batch))
        if samples.count >= 10_000 { break }
    }
    return samples
}

/// Measures how much CPU others took while this process was being measured: busy time of the
/// whole machine (including the hypervisor's steal time) minus this process's own CPU time,
/// per second of wall time, in cores. On the shared 2-core machines these benchmarks run on, a
/// parallel operation timed while another process kept one core busy looks twice as slow; this
/// says when that happened.
package struct InterferenceProbe {
    private let busy: Double
    private let own: Double
    private let start: ContinuousClock.Instant

    /// Starts a measurement interval.
    package init() {
        busy = Self.machineBusySeconds()
        own = Self.ownCPUSeconds()
        start = ContinuousClock.now
    }

    /// Cores' worth of CPU taken by others since `init` (0 where /proc/stat is unavailable).
    package func othersCores() -> Double {
        let wall = (ContinuousClock.now - start).seconds
        guard wall > 0 else { return 0 }
        let others = (Self.machineBusySeconds() - busy) - (Self.ownCPUSeconds() - own)
        return max(0, others / wall)
    }

    /// Busy CPU seconds of the whole machine from /proc/stat: user, nice, system, irq, softirq
    /// and steal (USER_HZ = 100 ticks per second on Linux).
    static func machineBusySeconds() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return 0 }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 8 else { return 0 }
        let busyTicks = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
        return busyTicks / 100
    }

    /// This process's user and system CPU seconds, all threads.
    package static func ownCPUSeconds() -> Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// The process's peak resident set size so far, in bytes (Linux reports `ru_maxrss` in KiB,
/// Darwin in bytes).
package func peakRSSBytes() -> Int {
    var usage = rusage()
    #if os(Linux)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss) * 1024
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)
    #endif
}

/// The 1, 5 and 15 minute load averages: on a shared machine, a load above the core count
/// means the measured work did not get every core, and its figures are inflated.
package func loadAverage() -> String {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "n/a" }
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}
