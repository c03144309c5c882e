import CAllocationCounter
import CNablaKernels
import Foundation
import Nabla

/// The transformer figures: nanoGPT's CPU configuration (4 layers × 4 heads × 128, context 64,
/// batch 12, vocabulary 65) trained as `Examples/charlm` trains it — forward, backward, clipping
/// to norm 1, AdamW with weight decay on matrices — on random token ids (the speed does not
/// depend on the text).
enum GPTBenchmark {
    static let configuration = GPTConfiguration(vocabularySize: 65, contextLength: 64, layers: 4, heads: 4, width: 128)
    static let batchSize = 12

    static func run(report: (String, Double, String, String) -> Void) {
        let tokens = Double(batchSize * configuration.contextLength)
        func iteration(threads: Int, steps: Int) -> (seconds: Double, allocations: Double) {
            nabla_set_threads(threads)
            defer { nabla_set_threads(0) }
            var rng = SeededGenerator(seed: 1)
            let model = GPT<Float>(configuration, using: &rng)
            var optimizer = AdamW<Float>(learningRate: 1e-3, beta2: 0.99, weightDecay: 0.1, decays: AdamW<Float>.decaysMatrices)
            let step = TracedGradient(of: model) { model, x, y in SoftmaxCrossEntropyLoss()(model(x), y) }
            step.clipping = .globalNorm(1)
            let shape = [batchSize, configuration.contextLength]
            var (x, y) = (Tensor<Float>(zeros: shape), Tensor<Float>(zeros: shape))
            func fill() {
                x.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = Float(rng.next() % 65) } }
                y.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = Float(rng.next() % 65) } }
            }
            for _ in 0..<5 { fill(); _ = step.step(x, y, optimizer: &optimizer) }
            var (best, allocations) = (Double.infinity, 0.0)
            for _ in 0..<3 {
                let (before, start) = (nabla_allocation_count(), DispatchTime.now().uptimeNanoseconds)
                for _ in 0..<steps { fill(); _ = step.step(x, y, optimizer: &optimizer) }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 / Double(steps))
                allocations = Double(nabla_allocation_count() - before) / Double(steps)
            }
            if let reason = step.eagerReason { FileHandle.standardError.write(Data("note: GPT steps ran eagerly: \(reason)\n".utf8)) }
            return (best, allocations)
        }
        let one = iteration(threads: 1, steps: 10)
        report("gpt_iteration_ms", one.seconds * 1e3, "ms", "GPT iteration (shakespeare-cpu), one thread")
        report("gpt_allocations_per_iteration", one.allocations, "", "  its heap allocations (replayed)")
        report("gpt_tokens_per_s", tokens / one.seconds, "tokens/s", "  training tokens per second")
        let all = iteration(threads: 0, steps: 10)
        report("gpt_iteration_ms_all_cores", all.seconds * 1e3, "ms", "GPT iteration, all cores")
        report("gpt_allocations_per_iteration_all_cores", all.allocations, "", "  its heap allocations (replayed)")
    }
}
