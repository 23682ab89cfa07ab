import Dispatch

/// Work split in two and run at once: on the calling thread and one of Dispatch's. Only for computations of national
/// size (a funnel of 25,000 schools), where each half takes milliseconds; a trust's hundred schools stay on one
/// thread, where starting a second would cost more than it saves (Docs/performance.md).
enum Parallel {
    /// A computation of at least this many items is split in two.
    static let splitFrom = 4_000

    /// Calls `work(0)` and `work(1)` at once and returns when both have finished. The two calls must write to
    /// different memory (each half its own variables, or its own elements of a buffer): that is what makes handing
    /// `work` to a second thread safe, which the compiler cannot check here.
    static func halves(_ work: (_ half: Int) -> Void) {
        withoutActuallyEscaping(work) { work in
            let shared = Unchecked(work: work)
            DispatchQueue.concurrentPerform(iterations: 2) { shared.work($0) }
        }
    }

    private struct Unchecked: @unchecked Sendable {
        let work: (Int) -> Void
    }
}
