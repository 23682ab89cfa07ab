import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import SENStore

/// The one timer behind every unit of database work's deadline (`Database.withDeadline`; its behaviour as callers see
/// it is in `DeadlineTests`): what is due expires, what was removed does not, an earlier deadline added after a later
/// one is not kept waiting for it, and nothing is left behind.
@Suite struct DeadlinesTests {
    final class Fired: Sendable {
        let names = Mutex<[String]>([])
        func note(_ name: String) -> @Sendable () -> Void { { self.names.withLock { $0.append(name) } } }
        var all: [String] { names.withLock { $0 } }
    }

    /// Waits (up to 30 s: a loaded machine can hold a timer up) until `done`.
    func wait(_ done: () -> Bool) async throws {
        let start = ContinuousClock.now
        while !done() && ContinuousClock.now - start < .seconds(30) { try await Task.sleep(for: .milliseconds(10)) }
    }

    @Test func dueDeadlinesExpireAndRemovedOnesDoNot() async throws {
        let deadlines = Deadlines(loop: MultiThreadedEventLoopGroup.singleton.next())
        let fired = Fired()
        let now = NIODeadline.now()
        // Later first, then earlier ones: the timer moves to the earliest.
        let late = deadlines.add(at: now + .seconds(600), fired.note("late"))
        _ = deadlines.add(at: now + .milliseconds(300), fired.note("second"))
        _ = deadlines.add(at: now + .milliseconds(100), fired.note("first"))
        let removed = deadlines.add(at: now + .milliseconds(400), fired.note("removed"))
        deadlines.remove(removed)
        #expect(deadlines.count == 3)
        try await wait { fired.all.count == 2 }
        // Past the removed one's time.
        try await wait { NIODeadline.now() > now + .milliseconds(500) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(fired.all == ["first", "second"], "in order, each once, and not the removed one")
        #expect(NIODeadline.now() < now + .seconds(600) && deadlines.count == 1)
        deadlines.remove(late)
        #expect(deadlines.count == 0)
        // With nothing left the timer is not set; a new deadline sets it again.
        _ = deadlines.add(at: .now() + .milliseconds(20), fired.note("again"))
        try await wait { fired.all.count == 3 }
        #expect(fired.all.last == "again" && deadlines.count == 0)
    }

    /// Many at once from many tasks, as requests add them: each due one expires once, each removed one never.
    @Test func concurrentDeadlinesEachExpireOnceOrNever() async throws {
        let deadlines = Deadlines(loop: MultiThreadedEventLoopGroup.singleton.next())
        let fired = Fired()
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    // The removed ones are a minute off, so that a task held up between adding and removing cannot
                    // see its deadline pass.
                    let removed = i.isMultiple(of: 2)
                    let id = deadlines.add(at: .now() + (removed ? .seconds(60) : .milliseconds(Int64(20 + i % 7 * 10))), fired.note("\(i)"))
                    if removed { deadlines.remove(id) }
                }
            }
        }
        try await wait { fired.all.count >= 100 && deadlines.count == 0 }
        try await Task.sleep(for: .milliseconds(200))
        #expect(fired.all.sorted() == (0..<200).filter { !$0.isMultiple(of: 2) }.map(String.init).sorted())
        #expect(deadlines.count == 0)
    }
}
