import CAllocationCounter
import CNablaKernels
import Foundation
import Nabla
import NablaData

/// The chapter-1 figures: the book's 784-30-10 network's training step (replayed, with the
/// update as its own pass, eager; with momentum, Adam and a softmax output), its heap
/// allocations, batch-1000 steps on one thread and all cores, evaluation, and the matrix
/// products at the book's shapes against a naive loop.
enum BookNetworkBenchmark {
    static func run(mnist: MNIST, report: (String, Double, String, String) -> Void) {
        var rng = SeededGenerator(seed: 1)
        var model = Sequential<Float> {
            Dense(inputSize: 784, outputSize: 30, using: &rng)
            Sigmoid()
            Dense(inputSize: 30, outputSize: 10, using: &rng)
            Sigmoid()
        }
        var sgd = SGD<Float>(learningRate: 3)
        let order = rng.permutation(of: mnist.training.count)
        let stepsPerEpoch = mnist.training.count / 10
        let lossAndGradient = TracedGradient(of: model) { model, x, y in QuadraticLoss()(model(x), y) }
        var x = Tensor<Float>(zeros: [10, 784]), y = Tensor<Float>(zeros: [10, 10])
        // Step `s`'s mini-batch of `size`, going round the shuffled epoch.
        func batch(_ s: Int, size: Int = 10) -> ArraySlice<Int> {
            let start = s % (mnist.training.count / size) * size
            return order[start ..< start + size]
        }
        // Writes step `s`'s images and one-hot labels into reused tensors, as the example does.
        func load(_ s: Int, into x: inout Tensor<Float>, _ y: inout Tensor<Float>) {
            let batch = batch(s, size: x.shape[0])
            mnist.training.images(at: batch, into: &x)
            mnist.training.oneHotLabels(at: batch, into: &y)
        }
        // The example's training step: a batch loaded, then one traced step (the gradient, with
        // SGD's update applied in the reverse pass).
        func step(_ s: Int) {
            load(s, into: &x, &y)
            lossAndGradient.step(x, y, optimizer: &sgd)
        }
        // The same, with the gradients returned and the update made as a separate pass.
        func gradientThenUpdateStep(_ s: Int) {
            load(s, into: &x, &y)
            let (_, gradients) = lossAndGradient(x, y)
            sgd.update(&model, along: gradients)
        }
        // The same step through the eager API: the reference the traced step is tested against.
        func eagerStep(_ s: Int) {
            let batch = batch(s)
            let x: Tensor<Float> = mnist.training.images(at: batch)
            let y: Tensor<Float> = mnist.training.oneHotLabels(at: batch)
            let (_, gradients) = valueWithGradient(at: model) { QuadraticLoss()($0(x), y) }
            sgd.update(&model, along: gradients)
        }
        if let reason = lossAndGradient.eagerReason { print("note: the traced step runs eagerly: \(reason)") }

        // Training: warm up (caches, the trace), then time whole epochs' worth of steps.
        func epochSeconds(_ step: (Int) -> Void) -> Double {
            var best = Double.infinity
            for _ in 0..<3 {
                let start = DispatchTime.now().uptimeNanoseconds
                for s in 0..<stepsPerEpoch { step(s) }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
            }
            return best
        }
        func allocations(_ steps: Int, _ step: (Int) -> Void) -> Double {
            let before = nabla_allocation_count()
            for s in 0..<steps { step(s) }
            return Double(nabla_allocation_count() - before) / Double(steps)
        }
        for s in 0..<500 { step(s); gradientThenUpdateStep(s); eagerStep(s) }
        let allocationsPerStep = allocations(1000, step)
        let separateAllocationsPerStep = allocations(1000, gradientThenUpdateStep)
        let eagerAllocationsPerStep = allocations(1000, eagerStep)
        let best = epochSeconds(step)
        let separateBest = epochSeconds(gradientThenUpdateStep)
        let eagerBest = epochSeconds(eagerStep)
        report("step_us", best / Double(stepsPerEpoch) * 1e6, "µs", "training step (784-30-10, batch 10, Float)")
        report("epoch_s", best, "s", "training epoch (50,000 images), best of 3")
        report("allocations_per_step", allocationsPerStep, "", "heap allocations per training step")
        report("separate_update_step_us", separateBest / Double(stepsPerEpoch) * 1e6, "µs",
               "  gradient, then update as its own pass")
        report("separate_update_allocations_per_step", separateAllocationsPerStep, "", "  its heap allocations")
        report("eager_step_us", eagerBest / Double(stepsPerEpoch) * 1e6, "µs", "  eager step (valueWithGradient, reference)")
        report("eager_allocations_per_step", eagerAllocationsPerStep, "", "  eager step's heap allocations")
        // The same network and batches with stateful optimizers, and a softmax output with the
        // negative log-likelihood: replayed steps like the first, on copies of the model.
        func replayedStep<Opt: Optimizer<Float>>(
            _ optimizer: Opt, softmax: Bool = false
        ) -> (microseconds: Double, allocations: Double) {
            var rng = SeededGenerator(seed: 1)
            let model = Sequential<Float> {
                Dense(inputSize: 784, outputSize: 30, using: &rng)
                Sigmoid()
                Dense(inputSize: 30, outputSize: 10, using: &rng)
                if !softmax { Sigmoid() }
            }
            var optimizer = optimizer
            let traced = TracedGradient(of: model) { model, x, y in
                softmax ? SoftmaxCrossEntropyLoss()(model(x), y) : QuadraticLoss()(model(x), y)
            }
            if let reason = traced.eagerReason { print("note: a traced step runs eagerly: \(reason)") }
            let step = { (s: Int) in
                load(s, into: &x, &y)
                traced.step(x, y, optimizer: &optimizer)
            }
            for s in 0..<500 { step(s) }
            return (epochSeconds(step) / Double(stepsPerEpoch) * 1e6, allocations(1000, step))
        }
        for (key, label, optimizer) in [("momentum", "momentum 0.9", SGD<Float>(learningRate: 0.1, momentum: 0.9)) as (String, String, any Optimizer<Float>),
                                        ("adam", "Adam", Adam<Float>(learningRate: 0.001))] {
            let (microseconds, allocations) = replayedStep(optimizer)
            report("step_us_\(key)", microseconds, "µs", "  replayed step with \(label)")
            report("allocations_per_step_\(key)", allocations, "", "  its heap allocations")
        }
        let softmax = replayedStep(SGD<Float>(learningRate: 0.1), softmax: true)
        report("step_us_softmax_nll", softmax.microseconds, "µs", "  replayed step, softmax output and NLL cost")
        report("allocations_per_step_softmax_nll", softmax.allocations, "", "  its heap allocations")

        x = mnist.training.images(at: batch(0))
        _ = model(x)
        let forwardBefore = nabla_allocation_count()
        for _ in 0..<100 { _ = model(x) }
        report("allocations_forward", Double(nabla_allocation_count() - forwardBefore) / 100, "",
               "evaluation forward pass's heap allocations")

        // Mini-batches of 1,000: one thread against all cores.
        let largeBatchGradient = TracedGradient(of: model) { model, x, y in QuadraticLoss()(model(x), y) }
        var largeX = Tensor<Float>(zeros: [1000, 784]), largeY = Tensor<Float>(zeros: [1000, 10])
        func largeBatchStep(_ s: Int) {
            load(s, into: &largeX, &largeY)
            largeBatchGradient.step(largeX, largeY, optimizer: &sgd)
        }
        // Interleaved, best of each over many short rounds: on a shared machine, timing one
        // setting after the other mostly measures the machine's drift, and the second core is
        // now and then lent elsewhere for a while. Each timing takes the next batches of the epoch.
        var largeBatch = [Double.infinity, Double.infinity], products = [Double.infinity, Double.infinity]
        var batchInMemory = [Double.infinity, Double.infinity]
        var nextLargeBatch = 0
        var r = SeededGenerator(seed: 2)
        let a = Tensor<Float>(randomNormal: [1000, 784], using: &r), w = Tensor<Float>(randomNormal: [30, 784], using: &r)
        let g = Tensor<Float>(randomNormal: [1000, 30], using: &r)
        for _ in 0..<25 {
            for (slot, threads) in [1, 0].enumerated() {
                nabla_set_threads(threads)
                // Long enough for the pool's workers to stop polling and sleep: one thread is
                // then timed alone, with no core spinning beside it.
                if threads == 1 { usleep(2000) }
                // One step untimed, so that what is timed is training's steady state: on all
                // cores, the first step after a pause also pays for waking the sleeping workers.
                largeBatchStep(nextLargeBatch)
                nextLargeBatch += 1
                largeBatch[slot] = min(largeBatch[slot], Benchmark.time(4) { largeBatchStep(nextLargeBatch); nextLargeBatch += 1 })
                // The same step on the last batch again: what remains without reading the images.
                batchInMemory[slot] = min(batchInMemory[slot], Benchmark.time(4) {
                    largeBatchGradient.step(largeX, largeY, optimizer: &sgd)
                })
                products[slot] = min(products[slot], Benchmark.time(4) {
                    _ = matmul(a, w, transposingB: true)
                    _ = matmul(g, a, transposingA: true)
                })
            }
        }
        nabla_set_threads(0)
        report("batch1000_step_ms_1thread", largeBatch[0] * 1e3, "ms", "training step, batch 1000, one thread")
        report("batch1000_step_ms", largeBatch[1] * 1e3, "ms", "training step, batch 1000, all cores")
        report("batch1000_speedup", largeBatch[0] / largeBatch[1], "×", "  speed-up from threads")
        report("batch1000_in_memory_speedup", batchInMemory[0] / batchInMemory[1], "×",
               "  of the step on a batch already converted")
        report("batch1000_products_speedup", products[0] / products[1], "×",
               "  of its two large products alone")

        // Evaluation of the 10,000 test images, 1,000 at a time, as the example evaluates.
        var evalBest = Double.infinity
        var correct = 0
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            correct = mnist.test.correctCount(of: model)
            evalBest = min(evalBest, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        report("evaluate_ms", evalBest * 1e3, "ms", "evaluate 10,000 test images (\(correct) correct)")

        // Matrix products at the book's shapes, and at the forward product of chapter 1's second
        // network (100 hidden neurons): kernel against a naive triple loop.
        let shapes: [(String, Int, Int, Int, Bool, Bool)] = [
            ("forward x·W1ᵀ [10×784]·[30×784]ᵀ", 10, 30, 784, false, true),
            ("100-wide x·W1ᵀ [10×784]·[100×784]ᵀ", 10, 100, 784, false, true),
            ("gradient dZ1ᵀ·x [10×30]ᵀ·[10×784]", 30, 784, 10, true, false),
            ("forward a1·W2ᵀ [10×30]·[10×30]ᵀ", 10, 10, 30, false, true),
            ("gradient dZ2·W2 [10×10]·[10×30]", 10, 30, 10, false, false),
            ("evaluate X·W1ᵀ [10000×784]·[30×784]ᵀ", 10_000, 30, 784, false, true),
        ]
        for (name, m, n, k, ta, tb) in shapes {
            var r = SeededGenerator(seed: 2)
            let a = Tensor<Float>(randomNormal: ta ? [k, m] : [m, k], using: &r)
            let b = Tensor<Float>(randomNormal: tb ? [n, k] : [k, n], using: &r)
            let flops = 2.0 * Double(m * n * k)
            let repeats = max(3, Int(2e8 / flops))
            let kernel = Benchmark.time(repeats) { _ = matmul(a, b, transposingA: ta, transposingB: tb) }
            let naive = Benchmark.time(max(1, repeats / 20)) { _ = naiveProduct(a.scalars, b.scalars, m, n, k, ta, tb) }
            let key = name.split(separator: " ").prefix(2).joined(separator: "_")
            report("gemm_\(key)_gflops", flops / kernel / 1e9, "GFLOP/s", "matmul \(name)")
            report("naive_\(key)_gflops", flops / naive / 1e9, "GFLOP/s", "  naive loop, same shape")
        }
    }

    /// The textbook triple loop, as the baseline.
    static func naiveProduct(_ a: [Float], _ b: [Float], _ m: Int, _ n: Int, _ k: Int, _ ta: Bool, _ tb: Bool) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var sum: Float = 0
            for p in 0..<k { sum += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]) }
            c[i * n + j] = sum
        } }
        return c
    }
}
