import CAllocationCounter
import BookBackprop
import Nabla
import NablaData
import Testing

/// The traced, replayed gradient against its reference, the eager `valueWithGradient(at:in:)`.
@Suite struct TracedGradientTests {
    /// Expects the traced result to be exactly the eager one: the same kernels run in the same order.
    func expectSame<S>(
        _ traced: (value: Tensor<S>, gradients: Gradients<S>), _ eager: (value: Tensor<S>, gradients: Gradients<S>),
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(traced.value == eager.value, sourceLocation: sourceLocation)
        #expect(traced.gradients.names == eager.gradients.names, sourceLocation: sourceLocation)
        for (name, (t, e)) in zip(eager.gradients.names, zip(traced.gradients.tensors, eager.gradients.tensors)) {
            #expect(t == e, "\(name) differs", sourceLocation: sourceLocation)
        }
    }

    func batch<S: TensorScalar>(_: S.Type, step: Int, size: Int = 10) -> (Tensor<S>, Tensor<S>) {
        let indices = Array(step * size ..< (step + 1) * size)
        return (realMNIST.training.images(at: indices), realMNIST.training.oneHotLabels(at: indices))
    }

    @Test(.needsMNIST) func bookNetworkMatchesEagerWhileTraining() {
        // Two identical networks, one trained through the trace and one eagerly: each step's
        // value and gradients must agree, which checks that replays read the updated parameters.
        var traced = bookNetwork(Double.self, seed: 1), eager = bookNetwork(Double.self, seed: 1)
        let lossAndGradient = TracedGradient(of: traced) { model, x, y in QuadraticLoss()(model(x), y) }
        var (sgd1, sgd2) = (SGD<Double>(learningRate: 3), SGD<Double>(learningRate: 3))
        for step in 0..<20 {
            let (x, y) = batch(Double.self, step: step)
            let t = lossAndGradient(x, y)
            let e = valueWithGradient(at: eager) { QuadraticLoss()($0(x), y) }
            expectSame(t, e)
            sgd1.update(&traced, along: t.gradients)
            sgd2.update(&eager, along: e.gradients)
        }
        #expect(lossAndGradient.eagerReason == nil)
        #expect(traced.parameterValues == eager.parameterValues)
    }

    @Test(.needsMNIST) func floatBookNetworkMatchesHandWrittenBackprop() {
        let model = bookNetwork(Float.self, seed: 2)
        let p = model.parameters.map { $0.parameter.wrappedValue.scalars }
        let reference = BookNetwork<Float>(sizes: [784, 30, 10], weights: [p[0], p[2]], biases: [p[1], p[3]])
        let lossAndGradient = TracedGradient(of: model) { model, x, y in QuadraticLoss()(model(x), y) }
        for step in 0..<3 {  // the first call traces, the others replay
            let (x, y) = batch(Float.self, step: step)
            let gradients = lossAndGradient(x, y).gradients
            let hand = reference.gradients(inputs: x.scalars, targets: y.scalars, batchSize: 10)
            expectClose(gradients["0.weight"]!.scalars, hand.weights[0], tolerance: 1e-5)
            expectClose(gradients["0.bias"]!.scalars, hand.biases[0], tolerance: 1e-5)
            expectClose(gradients["2.weight"]!.scalars, hand.weights[1], tolerance: 1e-5)
            expectClose(gradients["2.bias"]!.scalars, hand.biases[1], tolerance: 1e-5)
        }
    }

    /// A deep network's step: what lives only inside it — each layer's gradients, the backward
    /// pass's temporaries — shares memory where lives do not overlap, and the replayed steps still
    /// compute what eager steps do, to the bit. A constant made inside the step (the zeros each
    /// sequence starts from) keeps its values.
    @Test func valuesThatDoNotLiveAtOnceShareMemory() {
        let network = { () -> Sequential<Double> in
            var rng = SeededGenerator(seed: 4)
            return Sequential(layers: (0..<8).map { _ in Dense<Double>(inputSize: 32, outputSize: 32, weightInitializer: .scaledNormal, using: &rng) })
        }
        let (traced, eager) = (network(), network())
        let loss = { (model: Sequential<Double>, x: Tensor<Double>, y: Tensor<Double>) in
            var h = Tensor<Double>(zeros: [16, 32])
            for t in 0 ..< 3 { h = tanh(model(x.rows(t ..< t + 1).squeezingShape(at: 0) + h)) }
            return QuadraticLoss()(h, y)
        }
        let stepper = TracedGradient(of: traced, loss)
        let (x, y) = (random([3, 16, 32], seed: 5), random([16, 32], seed: 6))
        var (first, second) = (SGD<Double>(learningRate: 0.05, momentum: 0.9), SGD<Double>(learningRate: 0.05, momentum: 0.9))
        var reference = eager
        for _ in 0..<3 {
            let value = stepper.step(x, y, optimizer: &first)
            let (expected, gradients) = withLayerMode(.training) { valueWithGradient(at: reference) { loss($0, x, y) } }
            second.update(&reference, along: gradients)
            #expect(value == expected)
        }
        #expect(traced.parameterValues == reference.parameterValues)
        let memory = stepper.bufferMemory
        #expect(memory.bytes > 0 && Double(memory.bytes) < 0.6 * Double(memory.withoutSharing), "\(memory)")
    }

    @Test func everyPrimitiveReplaysAndFanOutAddsUp() {
        // One Dense layer applied twice (its parameters used twice), tanh and ReLU, and the
        // hidden value read by two ops: gradients from several paths must add up.
        let model = sharedLayerNetwork(seed: 3)
        let lossAndGradient = TracedGradient(of: model) { model, x, y in
            let hidden = model(x)
            return QuadraticLoss()(sigmoid(hidden), tanh(hidden))  // `hidden` feeds two ops
        }
        for seed in 10..<13 as Range<UInt64> {
            let x = random([5, 4], seed: seed), y = random([5, 6], seed: seed + 100)
            let traced = lossAndGradient(x, y)
            let eager = valueWithGradient(at: model) { model in
                let hidden = model(x)
                return QuadraticLoss()(sigmoid(hidden), tanh(hidden))
            }
            expectSame(traced, eager)
        }
        #expect(lossAndGradient.eagerReason == nil)
    }

    /// Matrix products with every combination of stored-transposed operands.
    struct Products: Layer {
        @Parameter var w = random([4, 4], seed: 20)
        @Parameter var v = random([3, 4], seed: 21)

        func callAsFunction(_ x: Tensor<Double>) -> Tensor<Double> {
            let h = sigmoid(matmul(x, w))                                         // [5, 4]
            let u = tanh(matmul(w, v, transposingB: true))                        // [4, 3]
            let t = sigmoid(matmul(w, h, transposingA: true, transposingB: true)) // [4, 5]
            return matmul(t, u, transposingA: true)                               // [5, 3]
        }
    }

    @Test func matrixProductsReplayInEveryLayout() {
        let model = Products()
        let lossAndGradient = TracedGradient(of: model) { model, x, y in QuadraticLoss()(model(x), y) }
        for seed in 30..<33 as Range<UInt64> {
            let x = random([5, 4], seed: seed), y = random([5, 3], seed: seed + 10)
            expectSame(lossAndGradient(x, y), valueWithGradient(at: model) { QuadraticLoss()($0(x), y) })
        }
        #expect(lossAndGradient.eagerReason == nil)
        let (x, y) = (random([5, 4], seed: 40), random([5, 3], seed: 41))
        let report = checkGradients(at: [model.w, model.v], names: ["w", "v"]) { p in
            let h = sigmoid(matmul(x, p[0]))
            let u = tanh(matmul(p[0], p[1], transposingB: true))
            let t = sigmoid(matmul(p[0], h, transposingA: true, transposingB: true))
            return QuadraticLoss()(matmul(t, u, transposingA: true), y)
        }
        #expect(report.passed, "\(report)")
    }

    @Test(.needsMNIST) func crossEntropyNetworkReplays() {
        // The chapter-3 network: the last layer's logits go to the cross-entropy cost.
        var rng = SeededGenerator(seed: 9)
        let model = Sequential<Double> {
            Dense(inputSize: 784, outputSize: 30, weightInitializer: .scaledNormal, using: &rng)
            Sigmoid()
            Dense(inputSize: 30, outputSize: 10, weightInitializer: .scaledNormal, using: &rng)
        }
        let lossAndGradient = TracedGradient(of: model) { model, x, y in SigmoidCrossEntropyLoss()(model(x), y) }
        for step in 0..<3 {
            let (x, y) = batch(Double.self, step: step)
            expectSame(lossAndGradient(x, y), valueWithGradient(at: model) { SigmoidCrossEntropyLoss()($0(x), y) })
        }
        #expect(lossAndGradient.eagerReason == nil)
    }

    @Test(.needsMNIST) func aSmallerBatchIsTracedAgainAndBothReplay() {
        let model = bookNetwork(Double.self, seed: 4)
        let lossAndGradient = TracedGradient(of: model) { model, x, y in QuadraticLoss()(model(x), y) }
        for (step, size) in [(0, 10), (1, 7), (2, 10), (3, 7)] {
            let (x, y) = batch(Double.self, step: step, size: size)
            expectSame(lossAndGradient(x, y), valueWithGradient(at: model) { QuadraticLoss()($0(x), y) })
        }
    }

    @Test(.needsMNIST) func gradientsKeptByTheCallerAreNotOverwritten() {
        let model = bookNetwork(Float.self, seed: 5)
        let lossAndGradient = TracedGradient(of: model) { model, x, y in QuadraticLoss()(model(x), y) }
        let (x0, y0) = batch(Float.self, step: 0), (x1, y1) = batch(Float.self, step: 1)
        _ = lossAndGradient(x0, y0)  // trace
        let first = lossAndGradient(x0, y0)
        let firstCopy = first.gradients.tensors.map(independentCopy)
        let second = lossAndGradient(x1, y1)
        #expect(first.gradients.tensors == firstCopy)
        #expect(second.gradients.tensors != firstCopy)
        #expect(first.value != second.value)
    }

    @Test func compositeOpsReplayWithTheSameResults() {
        var rng = SeededGenerator(seed: 6)
        let model = Sequential<Double> {
            Dense(inputSize: 4, outputSize: 3, using: &rng)
            Softmax()  // composed of exp, max, sum and division, with a detached maximum
        }
        let lossAndGradient = TracedGradient(of: model) { model, x, y in QuadraticLoss()(model(x), y) }
        let x = random([2, 4], seed: 7), y = random([2, 3], seed: 8)
        for _ in 0..<2 {
            expectSame(lossAndGradient(x, y), valueWithGradient(at: model) { QuadraticLoss()($0(x), y) })
        }
        #expect(lossAndGradient.eagerReason == nil, "\(lossAndGradient.eagerReason ?? "")")
    }

    @Test(.needsMNIST) func aCapturedTensorGivenANewValueIsNeverFrozenIntoTheReplay() {
        // The target here is captured, not passed. When it gets a new value, the recorded step
        // no longer computes what the function does, so it is recorded again. (The program
        // notices because the old value is let go of; see TracedGradient's documentation.)
        let model = bookNetwork(Double.self, seed: 7)
        let (x, y) = batch(Double.self, step: 0)
        var fixed = batch(Double.self, step: 2).1
        let lossAndGradient = TracedGradient(of: model) { model, x, _ in QuadraticLoss()(model(x), fixed) }
        _ = lossAndGradient(x, y)
        fixed = batch(Double.self, step: 1).1
        expectSame(lossAndGradient(x, y), valueWithGradient(at: model) { QuadraticLoss()($0(x), fixed) })
        expectSame(lossAndGradient(x, y), valueWithGradient(at: model) { QuadraticLoss()($0(x), fixed) })
        #expect(lossAndGradient.eagerReason == nil, "\(lossAndGradient.eagerReason ?? "nil")")
    }

    @Test(.needsMNIST) func parametersTheLossDoesNotUseGetZeros() {
        // The function's path depends on the batch's shape (which a trace may do): one row uses
        // the whole network; more rows use the first layer only. The second plan must zero the
        // last layer's gradients, which the first plan wrote into the same storage.
        let model = bookNetwork(Double.self, seed: 8)
        let lossAndGradient = TracedGradient(of: model) { model, x, y in
            guard x.shape[0] > 1 else { return QuadraticLoss()(model(x), y) }
            let (w, b) = (model.parameters[0].parameter.wrappedValue, model.parameters[1].parameter.wrappedValue)
            let z = Tensor.affine(x, weight: w, bias: b)
            return QuadraticLoss()(sigmoid(z), tanh(z))
        }
        let (x1, y1) = batch(Double.self, step: 0, size: 1), (x2, y2) = batch(Double.self, step: 1, size: 2)
        for _ in 0..<2 {
            let whole = lossAndGradient(x1, y1).gradients
            #expect(whole["2.weight"] != Tensor(zeros: [10, 30]))
            let firstLayer = lossAndGradient(x2, y2).gradients
            #expect(firstLayer["2.weight"] == Tensor(zeros: [10, 30]))
            #expect(firstLayer["2.bias"] == Tensor(zeros: [10]))
            #expect(firstLayer["0.weight"] != Tensor(zeros: [30, 784]))
        }
        #expect(lossAndGradient.eagerReason == nil)
    }

    @Test func reshapedParametersAndManyShapesAreTracedAfresh() {
        var rng = SeededGenerator(seed: 10)
        let layer = Dense<Double>(inputSize: 4, outputSize: 3, using: &rng)
        let lossAndGradient = TracedGradient(of: layer) { layer, x, y in QuadraticLoss()(sigmoid(layer(x)), y) }
        let eager = { (x: Tensor<Double>, y: Tensor<Double>) in
            valueWithGradient(at: layer) { QuadraticLoss()(sigmoid($0(x)), y) }
        }
        // More batch sizes than plans are kept: the oldest is dropped and traced again later.
        for rows in Array(1...(TracedGradient<Double>.maximumPlans + 2)) + [1, 2] {
            let x = random([rows, 4], seed: UInt64(rows)), y = random([rows, 3], seed: UInt64(rows) + 50)
            expectSame(lossAndGradient(x, y), eager(x, y))
        }
        // Parameters replaced by ones of another shape (a wider layer): every plan is stale.
        layer.$weight.wrappedValue = random([5, 4], seed: 60)
        layer.bias = random([5], seed: 61)
        let x = random([2, 4], seed: 62), y = random([2, 5], seed: 63)
        expectSame(lossAndGradient(x, y), eager(x, y))
        #expect(lossAndGradient.eagerReason == nil)
    }

    /// A gradient no launch writes (zeros, for a parameter the loss does not use) is returned
    /// with its values even when the caller keeps every earlier result, so that the buffers are
    /// replaced at each call, into memory just freed by tensors of another value.
    @Test func gradientsThatNoLaunchWritesKeepTheirValuesWhenKept() {
        let model = bookNetwork(Double.self, seed: 12)
        let lossAndGradient = TracedGradient(of: model) { model, x, y in
            let (w, b) = (model.parameters[0].parameter.wrappedValue, model.parameters[1].parameter.wrappedValue)
            return QuadraticLoss()(sigmoid(Tensor.affine(x, weight: w, bias: b)), y)
        }
        let (x, y) = (random([3, 784], seed: 13), random([3, 30], seed: 14))
        var kept: [Gradients<Double>] = []
        for _ in 0..<6 {
            for _ in 0..<8 { _ = Tensor<Double>(repeating: 7, shape: [10, 30]); _ = Tensor<Double>(repeating: 7, shape: [10]) }
            kept.append(lossAndGradient(x, y).gradients)
            #expect(kept.last!["2.weight"] == Tensor(zeros: [10, 30]) && kept.last!["2.bias"] == Tensor(zeros: [10]))
        }
        #expect(lossAndGradient.eagerReason == nil)
    }

    @Test func evaluationsReplayInInferenceModeAsEagerAndAllocateNothing() {
        // A GPT with dropout, so that inference mode shows: each replayed evaluation is the
        // eager one in inference mode to the bit, follows the parameters a step has just
        // updated, and allocates nothing; another shape is recorded apart; a value kept by the
        // caller is not overwritten.
        var rng = SeededGenerator(seed: 4)
        let model = GPT<Float>(GPTConfiguration(vocabularySize: 7, contextLength: 4, layers: 2, heads: 2, width: 8, dropout: 0.5),
                               using: &rng)
        let loss = { (model: GPT<Float>, ids: [IndexTensor]) in SoftmaxCrossEntropyLoss<Float>()(model(ids[0]), ids[1]) }
        let traced = TracedGradient(of: model, withIndices: { model, _, ids in loss(model, ids) })
        var optimizer = AdamW<Float>(learningRate: 0.05)
        var (x, y) = (IndexTensor(shape: [3, 4]), IndexTensor(shape: [3, 4]))
        var kept: [(Tensor<Float>, Float)] = []
        for call in 0..<6 {
            for i in 0..<12 {
                x.withUnsafeMutableBufferPointer { $0[i] = Int32(rng.next() % 7) }
                y.withUnsafeMutableBufferPointer { $0[i] = Int32(rng.next() % 7) }
            }
            if call % 2 == 1 { traced.step(indices: x, y, optimizer: &optimizer) }
            let before = nabla_thread_allocation_count()
            let value = traced.evaluate(indices: x, y)
            if call >= 3 && isOptimizedBuild {
                #expect(nabla_thread_allocation_count() == before, "a replayed evaluation allocated (call \(call))")
            }
            let eager = withLayerMode(.inference) { loss(model, [x, y]) }
            #expect(sameBits([value.scalar], [eager.scalar]), "call \(call): \(value.scalar) replayed, \(eager.scalar) eager")
            if call == 5 { kept.append((value, value.scalar)) }
        }
        x.withUnsafeMutableBufferPointer { $0[0] = ($0[0] + 1) % 7 }
        #expect(traced.evaluate(indices: x, y) == withLayerMode(.inference) { loss(model, [x, y]) })
        #expect(kept.allSatisfy { $0.0.scalar == $0.1 }, "a kept value was overwritten")
        let short = [IndexTensor([1, 2, 3], shape: [1, 3]), IndexTensor([2, 3, 4], shape: [1, 3])]
        #expect(traced.evaluate(indices: short) == withLayerMode(.inference) { loss(model, short) })
        #expect(traced.eagerReason == nil, "\(traced.eagerReason ?? "")")
    }
}
