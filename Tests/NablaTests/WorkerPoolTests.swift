import CNablaKernels
import Foundation
import Testing

/// The worker pool's parallel-for: every share runs exactly once, and all have run when the call
/// returns, however the caller and the workers meet — workers still polling after the previous
/// call, workers asleep after a pause, shares so short that the caller runs them all.
@Suite(.serialized) struct WorkerPoolTests {
    /// What one share of a test call does: counts itself in `runs`, after `work` idle iterations.
    struct Call {
        var runs: UnsafeMutablePointer<Int>
        var work: Int
    }

    /// Makes `calls` parallel-fors of 2 to 61 shares each and returns the first one in which some
    /// share did not run exactly once before the call returned, if any.
    static func firstMiscountedCall(_ calls: Int, pauseEvery: Int = .max) -> Int? {
        let runs = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        defer { runs.deallocate() }
        for call in 0..<calls {
            if call > 0 && call % pauseEvery == 0 { Thread.sleep(forTimeInterval: 0.003) }  // longer than the pool polls
            runs.initialize(repeating: 0, count: 64)
            let shares = 2 + call % 60
            var job = Call(runs: runs, work: call % 3 == 0 ? 0 : 200 * (call % 7))
            nabla_parallel_for(shares, { context, share in
                let job = context!.assumingMemoryBound(to: Call.self).pointee
                var spin = 0
                for i in 0..<job.work { spin &+= i }
                job.runs[share] += 1 + (spin == -1 ? 1 : 0)  // keeps the loop
            }, &job)
            guard (0..<64).allSatisfy({ runs[$0] == ($0 < shares ? 1 : 0) }) else { return call }
        }
        return nil
    }

    @Test func everyShareRunsOnceBackToBack() {
        #expect(Self.firstMiscountedCall(3000) == nil)
    }

    @Test func everyShareRunsOnceWhenWorkersHaveGoneToSleep() {
        #expect(Self.firstMiscountedCall(40, pauseEvery: 4) == nil)
    }

    @Test func concurrentCallersEachGetEveryShare() {
        // One caller holds the pool; the other runs its shares itself. Both must be complete.
        let failures = UnsafeMutableBufferPointer<Int?>.allocate(capacity: 2)
        defer { failures.deallocate() }
        failures.initialize(repeating: nil)
        nonisolated(unsafe) let slots = failures  // each caller writes only its own slot
        DispatchQueue.concurrentPerform(iterations: 2) { slots[$0] = Self.firstMiscountedCall(1000) }
        #expect(Array(failures) == [nil, nil])
    }
}
