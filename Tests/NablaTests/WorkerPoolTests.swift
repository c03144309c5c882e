import CAllocationCounter
import CNablaKernels
import Foundation
import Nabla
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

    /// A replayed step whose loops run on the pool allocates nothing: the loop bodies handed to
    /// the workers capture nothing (a closure that captured would put its captures on the heap at
    /// every call). A GPT's [8, 16, 128] activations and [8, 16, 512] expansion are past the
    /// size at which elementwise ops, layer norm and GELU split over the threads.
    @Test func aReplayedStepOnThePoolAllocatesNothing() {
        nabla_set_threads(2)
        defer { nabla_set_threads(0) }
        var rng = SeededGenerator(seed: 3)
        let model = GPT<Float>(GPTConfiguration(vocabularySize: 11, contextLength: 16, layers: 1, heads: 2, width: 128), using: &rng)
        let step = TracedGradient(of: model, withIndices: { model, _, ids in SoftmaxCrossEntropyLoss()(model(ids[0]), ids[1]) })
        step.clipping = .globalNorm(1)
        var optimizer = AdamW<Float>(weightDecay: 0.1)
        let (x, y) = (IndexTensor((0..<128).map { $0 % 11 }, shape: [8, 16]), IndexTensor((0..<128).map { $0 * 7 % 11 }, shape: [8, 16]))
        for attempt in 0..<5 {
            let before = nabla_thread_allocation_count()
            _ = step.step(indices: x, y, optimizer: &optimizer)
            if attempt >= 2 && isOptimizedBuild {
                #expect(nabla_thread_allocation_count() == before, "a replayed step on two threads allocated (step \(attempt))")
            }
        }
        #expect(step.eagerReason == nil, "\(step.eagerReason ?? "")")
    }
}
