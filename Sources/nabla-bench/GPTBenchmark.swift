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

    static func run(products: ProductSpeed, report: (String, Double, String, String) -> Void) throws {
        let tokens = Double(batchSize * configuration.contextLength)
        func iteration(threads: Int, steps: Int) -> (seconds: Double, allocations: Double, memory: (bytes: Int, withoutSharing: Int)) {
            nabla_set_threads(threads)
            defer { nabla_set_threads(0) }
            var rng = SeededGenerator(seed: 1)
            let model = GPT<Float>(configuration, using: &rng)
            var optimizer = AdamW<Float>(learningRate: 1e-3, beta2: 0.99, weightDecay: 0.1, decays: AdamW<Float>.decaysMatrices)
            let step = TracedGradient(of: model, withIndices: { model, _, ids in SoftmaxCrossEntropyLoss()(model(ids[0]), ids[1]) })
            step.clipping = .globalNorm(1)
            let shape = [batchSize, configuration.contextLength]
            var (x, y) = (IndexTensor(shape: shape), IndexTensor(shape: shape))
            func fill() {
                x.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = Int32(rng.next() % 65) } }
                y.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = Int32(rng.next() % 65) } }
            }
            for _ in 0..<5 { fill(); _ = step.step(indices: x, y, optimizer: &optimizer) }
            var (best, allocations) = (Double.infinity, 0.0)
            for _ in 0..<3 {
                let (before, start) = (nabla_allocation_count(), DispatchTime.now().uptimeNanoseconds)
                for _ in 0..<steps { fill(); _ = step.step(indices: x, y, optimizer: &optimizer) }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 / Double(steps))
                allocations = Double(nabla_allocation_count() - before) / Double(steps)
            }
            if let reason = step.eagerReason { FileHandle.standardError.write(Data("note: GPT steps ran eagerly: \(reason)\n".utf8)) }
            return (best, allocations, step.bufferMemory)
        }
        // The floor first, in the same run: the iteration's matrix products at the speed of the
        // fastest product measured on one core, Nabla's or the reference BLAS's — a large one, or
        // one of the transformer's own shapes, which fit the caches better here.
        let rows = batchSize * configuration.contextLength, width = configuration.width
        var fastest = try products.report("gpt_sgemm_1024", m: 1024, k: 1024, n: 1024,
                                      label: "sgemm [1024×1024]·[1024×1024], one thread", to: report)
        for (key, k, n) in [("qkv", width, 3 * width), ("expand", width, 4 * width), ("project", 4 * width, width)] {
            fastest = max(fastest, try products.report("gpt_product_\(key)", m: rows, k: k, n: n, transposingB: true,
                                                   label: "  [\(rows)×\(k)]·[\(k)×\(n)] (\(key))", to: report))
        }
        let (context, headWidth) = (configuration.contextLength, width / configuration.heads)
        fastest = max(fastest, try products.report("gpt_product_attention", m: context, k: headWidth, n: context, transposingB: true,
                                               label: "  [\(context)×\(headWidth)]·[\(headWidth)×\(context)] (a head's scores)", to: report))
        let floor = iterationFLOPs / (fastest * 1e9)
        report("gpt_floor_ms", floor * 1e3, "ms", String(format: "floor: %.2f GFLOP at the fastest of these", iterationFLOPs / 1e9))

        let one = iteration(threads: 1, steps: 10)
        report("gpt_iteration_ms", one.seconds * 1e3, "ms", "GPT iteration (shakespeare-cpu), one thread")
        report("gpt_iteration_over_floor", one.seconds / floor, "×", "  over the floor")
        report("gpt_allocations_per_iteration", one.allocations, "", "  its heap allocations (replayed)")
        report("gpt_tokens_per_s", tokens / one.seconds, "tokens/s", "  training tokens per second")
        report("gpt_step_buffers_mb", Double(one.memory.bytes) / 1048576, "MB", "  memory its recorded step keeps")
        report("gpt_step_buffers_unshared_mb", Double(one.memory.withoutSharing) / 1048576, "MB", "    if none shared memory")
        let all = iteration(threads: 0, steps: 10)
        report("gpt_iteration_ms_all_cores", all.seconds * 1e3, "ms", "GPT iteration, all cores")
        report("gpt_all_cores_speedup", one.seconds / all.seconds, "×", "  over one thread")
        report("gpt_allocations_per_iteration_all_cores", all.allocations, "", "  its heap allocations (replayed)")

        nabla_set_threads(1)
        defer { nabla_set_threads(0) }
        kernelFigures(report: report)
    }

    /// The matrix products of one training iteration: per token and block, 24·width² for the
    /// four projections and 4·context·width for attention's two products (the full T×T square,
    /// as computed), and 2·width·vocabulary for the head; the backward pass twice the forward.
    static var iterationFLOPs: Double {
        let c = configuration
        let (width, context) = (Double(c.width), Double(c.contextLength))
        let perToken = Double(c.layers) * (24 * width * width + 4 * context * width) + 2 * width * Double(c.vocabularySize)
        return 3 * perToken * Double(batchSize * c.contextLength)
    }

    /// Attention and layer norm alone on the configuration's activations ([12, 64, 128]), one
    /// thread: a forward pass eagerly, and forward and backward replayed (as training does), the
    /// input's gradient included. Then sampling's cost per character: one forward pass over a
    /// full window, which each character past the first 64 needs (nanoGPT's positions are
    /// absolute, so a window that moves changes every key and value), its last block for the last
    /// position only; and an evaluation batch's.
    static func kernelFigures(report: (String, Double, String, String) -> Void) {
        var rng = SeededGenerator(seed: 2)
        let shape = [batchSize, configuration.contextLength, configuration.width]
        let (rows, width, context) = (Double(shape[0] * shape[1]), Double(shape[2]), Double(shape[1]))
        let attention = MultiHeadAttention<Float>(width: shape[2], heads: configuration.heads, using: &rng)
        let input = Tensor<Float>(randomNormal: shape, using: &rng), weights = Tensor<Float>(randomNormal: shape, using: &rng)
        let attentionFLOPs = rows * (8 * width * width + 4 * context * width)
        let forward = withLayerMode(.inference) { Benchmark.time(20) { _ = attention(input) } }
        report("gpt_attention_forward_gflops", attentionFLOPs / forward / 1e9, "GFLOP/s", "attention forward [12×64×128], eager")
        let attentionStep = TracedGradient(of: Probe(layer: attention, input: input)) { probe, y in (probe.layer(probe.input) * y[0]).sum() }
        let both = Benchmark.time(20) { _ = attentionStep([weights]) }
        report("gpt_attention_backward_gflops", 2 * attentionFLOPs / (both - forward) / 1e9, "GFLOP/s", "  its backward (replayed step minus forward)")

        // The heads alone: the fused op against the composite it replaced (heads copied out, the
        // scores' product, the scaled causal softmax, the values' product, the heads put back),
        // forward and backward replayed, and the memory each recorded step keeps.
        let packed = Tensor<Float>(randomNormal: [shape[0], shape[1], 3 * shape[2]], using: &rng)
        let heads = configuration.heads
        let fused = TracedGradient(of: InputProbe(input: packed)) { probe, y in
            (scaledDotProductAttention(queryKeyValue: probe.input, heads: heads) * y[0]).sum()
        }
        let composite = TracedGradient(of: InputProbe(input: packed)) { probe, y in
            (compositeAttention(probe.input, heads: heads) * y[0]).sum()
        }
        let headFLOPs = rows * 4 * context * width  // the two products over the full square, forward
        let (fusedSeconds, compositeSeconds) = (Benchmark.time(20) { _ = fused([weights]) }, Benchmark.time(20) { _ = composite([weights]) })
        let fusedMemory = fused.bufferMemory.bytes  // the step's, before an evaluation is recorded too
        let fusedForward = Benchmark.time(20) { _ = fused.evaluate([weights]) }
        report("gpt_attention_heads_gflops", 3 * headFLOPs / fusedSeconds / 1e9, "GFLOP/s",
               "attention's heads [12×64×3·128] → [12×64×128], fused, forward and backward replayed")
        report("gpt_attention_heads_us", fusedSeconds * 1e6, "µs", "  its time")
        report("gpt_attention_heads_forward_gflops", headFLOPs / fusedForward / 1e9, "GFLOP/s", "  forward alone (replayed evaluation)")
        report("gpt_attention_heads_backward_gflops", 2 * headFLOPs / (fusedSeconds - fusedForward) / 1e9, "GFLOP/s",
               "  backward (the step minus the forward)")
        report("gpt_attention_heads_composite_us", compositeSeconds * 1e6, "µs", "  composed of matmul and softmax instead")
        report("gpt_attention_heads_mb", Double(fusedMemory) / 1048576, "MB", "  memory its recorded step keeps")
        report("gpt_attention_heads_composite_mb", Double(composite.bufferMemory.bytes) / 1048576, "MB", "  the composite's")

        let norm = LayerNorm<Float>(size: shape[2])
        let normStep = TracedGradient(of: Probe(layer: norm, input: input)) { probe, y in (probe.layer(probe.input) * y[0]).sum() }
        let normSeconds = Benchmark.time(50) { _ = normStep([weights]) }
        report("gpt_layer_norm_us", normSeconds * 1e6, "µs", "layer norm [12×64×128], forward and backward")

        var sampleRNG = SeededGenerator(seed: 3)
        let model = GPT<Float>(configuration, using: &sampleRNG)
        let window = IndexTensor((0..<configuration.contextLength).map { $0 % configuration.vocabularySize },
                                 shape: [1, configuration.contextLength])
        let replayed = TracedGradient(of: model, withIndices: { model, _, ids in model.nextTokenLogits(ids[0]) })
        let wholeWindow = TracedGradient(of: model, withIndices: { model, _, ids in model(ids[0]) })
        let perCharacter = Benchmark.time(50) { _ = replayed.evaluate(indices: [window]) }
        let perCharacterEagerly = withLayerMode(.inference) { Benchmark.time(50) { _ = model.nextTokenLogits(window) } }
        let perCharacterWholeWindow = Benchmark.time(50) { _ = wholeWindow.evaluate(indices: [window]) }
        report("gpt_sample_chars_per_s", 1 / perCharacter, "chars/s",
               "sampling: a 64-character window's next-token logits, replayed, one thread")
        report("gpt_sample_chars_per_s_eager", 1 / perCharacterEagerly, "chars/s", "  run eagerly")
        report("gpt_sample_chars_per_s_all_positions", 1 / perCharacterWholeWindow, "chars/s",
               "  the logits at every position instead, replayed")
        nabla_set_threads(0)
        let perCharacterAllCores = Benchmark.time(50) { _ = replayed.evaluate(indices: [window]) }
        nabla_set_threads(1)
        report("gpt_sample_chars_per_s_all_cores", 1 / perCharacterAllCores, "chars/s", "  next-token logits, replayed, all cores")

        // An evaluation batch (nanoGPT's estimate_loss runs 200 a split), replayed and eagerly.
        let loss = TracedGradient(of: model, withIndices: { model, _, ids in SoftmaxCrossEntropyLoss()(model(ids[0]), ids[1]) })
        let batch = (0..<2).map { _ in
            IndexTensor((0..<batchSize * configuration.contextLength).map { _ in Int(sampleRNG.next() % 65) },
                        shape: [batchSize, configuration.contextLength])
        }
        report("gpt_evaluation_batch_ms", Benchmark.time(10) { _ = loss.evaluate(indices: batch[0], batch[1]) } * 1e3, "ms",
               "evaluation: a batch's loss in inference mode, replayed, one thread")
        report("gpt_evaluation_batch_ms_eager", withLayerMode(.inference) {
            Benchmark.time(10) { _ = SoftmaxCrossEntropyLoss()(model(batch[0]), batch[1]) }
        } * 1e3, "ms", "  run eagerly")
    }

    /// Attention composed of matmul and softmax, as MultiHeadAttention computes it under a mask.
    static func compositeAttention(_ qkv: Tensor<Float>, heads: Int) -> Tensor<Float> {
        let (batch, time, width) = (qkv.shape[0], qkv.shape[1], qkv.shape[2] / 3)
        let split = qkv.reshaped(to: [batch, time, 3, heads, width / heads]).permuted([2, 0, 3, 1, 4])
        let (q, k, v) = (split.rows(0..<1).squeezingShape(at: 0), split.rows(1..<2).squeezingShape(at: 0),
                         split.rows(2..<3).squeezingShape(at: 0))
        let weights = softmax(matmul(q, k, transposingB: true), scaledBy: 1 / Float(width / heads).squareRoot(), causal: true)
        return matmul(weights, v).transposed(1, 2).reshaped(to: [batch, time, width])
    }

    /// A layer and its input as parameters, so that a replayed step computes the input's gradient
    /// as well as the layer's.
    struct Probe<Wrapped: Layer>: Module where Wrapped.Scalar == Float {
        typealias Scalar = Float
        var layer: Wrapped
        @Parameter var input: Tensor<Float>
    }

    /// An input as a parameter, so that a replayed step computes its gradient.
    struct InputProbe: Module {
        typealias Scalar = Float
        @Parameter var input: Tensor<Float>
    }
}
