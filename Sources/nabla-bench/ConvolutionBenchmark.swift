import CAllocationCounter
import CNablaKernels
import Foundation
import Nabla
import NablaData

/// The chapter-6 figures: the book's convolutional network (conv 20 5×5 → max-pool 2 → conv 40
/// 5×5 → max-pool 2, ReLU → fully connected 100, ReLU → softmax 10), trained as the example
/// trains `chapter6-relu`, and each convolution's kernels against a naive loop.
enum ConvolutionBenchmark {
    /// Multiply-adds ×2 per training example: forward 3.27 MFLOP, weight gradients 3.27, input
    /// gradients 2.69 (none for the first layer).
    static let flopsPerExample = 9.22e6

    static func network() -> Sequential<Float> {
        var rng = SeededGenerator(seed: 1)
        return Sequential<Float> {
            Conv2D(inputChannels: 1, outputChannels: 20, kernelSize: 5, weightInitializer: .outputScaledNormal(poolArea: 4), using: &rng)
            MaxPool2D(kernelSize: 2)
            ReLU()
            Conv2D(inputChannels: 20, outputChannels: 40, kernelSize: 5, weightInitializer: .outputScaledNormal(poolArea: 4), using: &rng)
            MaxPool2D(kernelSize: 2)
            ReLU()
            Flatten()
            Dense(inputSize: 640, outputSize: 100, weightInitializer: .outputScaledNormal(), using: &rng)
            ReLU()
            Dense(inputSize: 100, outputSize: 10, weightInitializer: .zeros, biasInitializer: .zeros, using: &rng)
        }
    }

    static func run(mnist: MNIST, products: ProductSpeed, report: (String, Double, String, String) -> Void) throws {
        let training = mnist.training.dataset(as: Float.self, imageShape: .image, labels: .classIndices)
        let examples = Array(0..<mnist.training.count)

        /// Seconds per step at `batchSize` on `threads` threads (0: all cores), best of three
        /// rounds of `steps` steps, and the heap allocations of the last round's steps.
        func stepSeconds(batchSize: Int, threads: Int, steps: Int) -> (seconds: Double, allocations: Double) {
            nabla_set_threads(threads)
            defer { nabla_set_threads(0) }
            let model = network()
            var sgd = SGD<Float>(learningRate: 0.03, weightDecay: 0.1 * Float(batchSize) / 50_000, decays: { $0.hasSuffix("weight") })
            let stepper = TracedGradient(of: model) { model, x, y in SoftmaxCrossEntropyLoss()(model(x), y) }
            var (x, y) = (Tensor<Float>(zeros: [0]), Tensor<Float>(zeros: [0]))
            var next = 0
            func step() {
                let start = next % (examples.count / batchSize) * batchSize
                training.batch(examples[start ..< start + batchSize], inputs: &x, targets: &y)
                stepper.step(x, y, optimizer: &sgd)
                next += 1
            }
            for _ in 0..<20 { step() }
            var (best, allocations) = (Double.infinity, 0.0)
            for _ in 0..<3 {
                let (before, start) = (nabla_allocation_count(), DispatchTime.now().uptimeNanoseconds)
                for _ in 0..<steps { step() }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 / Double(steps))
                allocations = Double(nabla_allocation_count() - before) / Double(steps)
            }
            return (best, allocations)
        }

        // The floor: an epoch's arithmetic at the speed of a large matrix product on one core,
        // Nabla's or the reference BLAS's, whichever is faster, measured in the same run (the
        // machine's speed varies by the hour).
        let fastest = try products.report("sgemm", m: 1024, k: 1024, n: 1024, label: "sgemm [1024×1024]·[1024×1024], one thread", to: report)
        let floor = flopsPerExample * 50_000 / (fastest * 1e9)
        report("conv_floor_epoch_s", floor, "s", "  chapter-6 epoch (461 GFLOP) at that speed")

        let one = stepSeconds(batchSize: 10, threads: 1, steps: 300)
        report("conv_step_us", one.seconds * 1e6, "µs", "chapter-6 training step (batch 10, one thread)")
        report("conv_allocations_per_step", one.allocations, "", "  its heap allocations")
        report("conv_epoch_s", one.seconds * 5000, "s", "  × 5,000 steps: an epoch of 50,000 images")
        report("conv_epoch_over_floor", one.seconds * 5000 / floor, "×", "  the epoch over the floor")
        let all = stepSeconds(batchSize: 10, threads: 0, steps: 300)
        report("conv_epoch_s_all_cores", all.seconds * 5000, "s", "  the same on all cores")
        report("conv_speedup_all_cores", one.seconds / all.seconds, "×", "  speed-up from threads")
        report("conv_allocations_per_step_all_cores", all.allocations, "", "  its heap allocations")
        let hundred = stepSeconds(batchSize: 100, threads: 1, steps: 30)
        report("conv_step_us_batch100", hundred.seconds * 1e6, "µs", "chapter-6 training step (batch 100, one thread)")
        report("conv_gflops_batch100", flopsPerExample * 100 / hundred.seconds / 1e9, "GFLOP/s", "  effective over the whole step")

        let model = network()
        let test = mnist.test.dataset(as: Float.self, imageShape: .image, labels: .classIndices)
        let evaluate = Benchmark.time(1) { _ = model.evaluate(on: test, loss: SoftmaxCrossEntropyLoss()) }
        report("conv_evaluate_ms", evaluate * 1e3, "ms", "evaluate 10,000 test images (chapter-6 network)")

        // Each convolution's three kernels at mini-batch 10 on one thread, against the naive loop.
        nabla_set_threads(1)
        defer { nabla_set_threads(0) }
        var r = SeededGenerator(seed: 3)
        for (name, channels, size, filters) in [("conv1", 1, 28, 20), ("conv2", 20, 12, 40)] {
            let x = Tensor<Float>(randomNormal: [10, channels, size, size], using: &r)
            let w = Tensor<Float>(randomNormal: [filters, channels, 5, 5], using: &r)
            let outputSide = size - 4
            let g = Tensor<Float>(randomNormal: [10, filters, outputSide, outputSide], using: &r)
            let flops = 2.0 * Double(10 * filters * outputSide * outputSide * channels * 25)
            let forward = Benchmark.time(20) { _ = conv2d(x, weight: w) }
            let (_, weightPullback) = valueWithPullback(at: [w]) { conv2d(x, weight: $0[0]) }
            let weightGradient = Benchmark.time(20) { _ = weightPullback(g) }
            let (_, inputPullback) = valueWithPullback(at: [x]) { conv2d($0[0], weight: w) }
            let inputGradient = Benchmark.time(20) { _ = inputPullback(g) }
            let naive = Benchmark.time(1) { _ = naiveConvolution(x.scalars, w.scalars, channels: channels, size: size, filters: filters) }
            report("\(name)_forward_gflops", flops / forward / 1e9, "GFLOP/s", "\(name) forward [10×\(channels)×\(size)²] ∗ [\(filters)×\(channels)×5²]")
            report("\(name)_weight_gradient_gflops", flops / weightGradient / 1e9, "GFLOP/s", "  its weight gradient")
            report("\(name)_input_gradient_gflops", flops / inputGradient / 1e9, "GFLOP/s", "  its input gradient")
            report("\(name)_naive_gflops", flops / naive / 1e9, "GFLOP/s", "  naive loop, forward")
        }
    }

    /// The textbook six-deep loop of a valid, stride-1 convolution of 10 images, as the baseline.
    static func naiveConvolution(_ x: [Float], _ w: [Float], channels: Int, size: Int, filters: Int) -> [Float] {
        let side = size - 4
        var y = [Float](repeating: 0, count: 10 * filters * side * side)
        for n in 0..<10 { for o in 0..<filters { for i in 0..<side { for j in 0..<side {
            var sum: Float = 0
            for c in 0..<channels { for u in 0..<5 { for v in 0..<5 {
                sum += w[((o * channels + c) * 5 + u) * 5 + v] * x[((n * channels + c) * size + i + u) * size + j + v]
            } } }
            y[((n * filters + o) * side + i) * side + j] = sum
        } } } }
        return y
    }
}
