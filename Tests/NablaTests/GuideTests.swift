import Foundation
import Nabla
import Testing

/// The custom layer of Docs/WritingALayer.md, as written there.
struct ScaledDense: Layer {
    @Parameter var weight: Tensor<Double>
    @Parameter var bias: Tensor<Double>
    @Parameter var gain: Tensor<Double>
    @Constant var floor = Tensor<Double>(0.01)   // fixed: not trained, not an error

    init(inputSize: Int, outputSize: Int, using rng: inout SeededGenerator) {
        weight = Initializer.scaledNormal.make([outputSize, inputSize], inputSize, outputSize, &rng)
        bias = Tensor(zeros: [outputSize])
        gain = Tensor(ones: [outputSize])
    }

    func callAsFunction(_ x: Tensor<Double>) -> Tensor<Double> {
        (matmul(x, weight, transposingB: true) + bias) * (gain + floor)
    }
}

/// Adds one to a one-element counter, in place (Docs/WritingALayer.md, "Modes and state").
struct Increment<Scalar: TensorScalar>: TensorOperation {
    func forward(_ buffers: OperationBuffers<Scalar>) { buffers.updating(0)[0] += 1 }
}

/// Passes its input through, counting the training steps it has seen.
struct StepCounter: Layer {
    @LayerState var steps = Tensor<Double>(zeros: [1])

    func callAsFunction(_ x: Tensor<Double>) -> Tensor<Double> {
        if LayerMode.current == .training { $steps.update(Increment()) }
        return x
    }
}

/// The guides' code, run: Docs/WritingALayer.md and Docs/GettingStarted.md.
@Suite struct GuideTests {
    /// A layer applied twice has one state, as it has one set of parameters, and still replays.
    @Test func aLayerAppliedTwiceHasOneState() {
        var rng = SeededGenerator(seed: 3)
        let counter = StepCounter()
        let model = Sequential<Double> { Dense(inputSize: 3, outputSize: 2, using: &rng); counter; counter }
        #expect(model.states.map(\.name) == ["1.steps"])
        let traced = TracedGradient(of: model) { model, x, y in QuadraticLoss()(model(x), y) }
        var sgd = SGD<Double>(learningRate: 0.1)
        let (x, y) = (Tensor<Double>(randomNormal: [4, 3], using: &rng), Tensor<Double>(zeros: [4, 2]))
        for _ in 0..<3 { traced.step(x, y, optimizer: &sgd) }
        #expect(traced.eagerReason == nil, "\(traced.eagerReason ?? "")")
        #expect(counter.steps == Tensor([6]), "two counts a step, replayed or not")
    }

    @Test func aLayerWithAModeAndState() throws {
        var rng = SeededGenerator(seed: 2)
        let model = Sequential<Double> { Dense(inputSize: 3, outputSize: 2, using: &rng); StepCounter() }
        let x = Tensor<Double>(randomNormal: [4, 3], using: &rng), y = Tensor<Double>(zeros: [4, 2])
        _ = model(x)
        #expect(model.states.map(\.name) == ["1.steps"] && model.states[0].state.wrappedValue == Tensor([0]),
                "inference changes no state")
        let traced = TracedGradient(of: model) { model, x, y in QuadraticLoss()(model(x), y) }
        var sgd = SGD<Double>(learningRate: 0.1)
        for _ in 0..<3 { traced.step(x, y, optimizer: &sgd) }
        #expect(model.states[0].state.wrappedValue == Tensor([3]), "each step, recorded or replayed, counts")
        // Checkpoints keep the state with the parameters.
        let path = NSTemporaryDirectory() + "step-counter-\(UInt64.random(in: 0 ... .max)).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.save(to: path)
        let restored = Sequential<Double> { Dense(inputSize: 3, outputSize: 2, using: &rng); StepCounter() }
        try restored.load(from: path)
        #expect(restored.states[0].state.wrappedValue == Tensor([3]))
        #expect(restored.parameterValues == model.parameterValues)
    }

    @Test func scaledDenseGradients() {
        var rng = SeededGenerator(seed: 1)
        let layer = ScaledDense(inputSize: 4, outputSize: 3, using: &rng)
        let x = Tensor<Double>(randomNormal: [5, 4], using: &rng)
        let report = checkGradients(of: layer, at: x)   // input, weight, bias and gain
        #expect(report.passed, "\(report)")
        #expect(report.comparisons == (5 * 4 + 3 * 4 + 3 + 3) * 15, "every element of each of the four, for 15 outputs")
        // The guide's claims about it.
        #expect(Sequential<Double> { layer }.parameters.map(\.name) == ["0.weight", "0.bias", "0.gain"])
        let (_, gradients) = valueWithGradient(at: layer) { $0(x).sum() }
        #expect(gradients.names == ["weight", "bias", "gain"])
        // In a traced step it replays, like any model built of Nabla's ops, with the same results.
        let y = Tensor<Double>(randomNormal: [5, 3], using: &rng)
        let lossAndGradient = TracedGradient(of: layer) { layer, x, y in QuadraticLoss()(layer(x), y) }
        let traced = lossAndGradient(x, y)
        let eager = valueWithGradient(at: layer) { QuadraticLoss()($0(x), y) }
        #expect(traced.value == eager.value && traced.gradients.tensors == eager.gradients.tensors)
        #expect(lossAndGradient.eagerReason == nil, "\(lossAndGradient.eagerReason ?? "nil")")
        let replayed = lossAndGradient(x, y)
        #expect(replayed.value == eager.value && replayed.gradients.tensors == eager.gradients.tensors)
    }

    @Test func gettingStarted() {
        let x = Tensor<Double>([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let b = Tensor<Double>([10, 20, 30])
        #expect((x + b).scalars == [11, 22, 33, 14, 25, 36])
        let (value, gradient) = valueWithGradient(at: x) { x in (x * x).sum() }
        #expect(value.scalar == 91 && gradient == x * 2)
    }
}

/// Docs/Chapter6.md's network, as written there: its shapes and parameter count.
@Suite struct ChapterGuideTests {
    @Test func chapterSixsNetworkHasTheBooksShapes() {
        var rng = SeededGenerator(seed: 1)
        let model = Sequential<Float> {
            Conv2D(inputChannels: 1, outputChannels: 20, kernelSize: 5,
                   weightInitializer: .outputScaledNormal(poolArea: 4), using: &rng)
            MaxPool2D(kernelSize: 2)
            ReLU()
            Conv2D(inputChannels: 20, outputChannels: 40, kernelSize: 5,
                   weightInitializer: .outputScaledNormal(poolArea: 4), using: &rng)
            MaxPool2D(kernelSize: 2)
            ReLU()
            Flatten()
            Dense(inputSize: 640, outputSize: 100, weightInitializer: .outputScaledNormal(), using: &rng)
            ReLU()
            Dense(inputSize: 100, outputSize: 10, weightInitializer: .zeros, biasInitializer: .zeros, using: &rng)
        }
        let summary = model.summary(inputShape: [1, 28, 28])
        for shape in ["[batch, 20, 24, 24]", "[batch, 20, 12, 12]", "[batch, 40, 8, 8]", "[batch, 40, 4, 4]", "[batch, 640]", "[batch, 10]"] {
            #expect(summary.contains(shape), "\(summary)")
        }
        // 20·25 + 20, 40·500 + 40, 640·100 + 100, 100·10 + 10.
        #expect(model.parameterCount == 85_670)
        // network3's initialization: conv weights with standard deviation √(4/(20·25)) ≈ 0.089.
        let w = model.parameterValues["0.weight"]!.scalars
        let deviation = (w.reduce(0) { $0 + $1 * $1 } / Float(w.count)).squareRoot()
        #expect(abs(deviation - 0.0894) < 0.01)
    }

    /// Docs/TrainingYourOwnModel.md's loop on the blobs, with early stopping.
    @Test func theTrainingGuidesLoopRuns() throws {
        var rng = SeededGenerator(seed: 3)
        let model = Sequential<Double> {
            Dense(inputSize: 2, outputSize: 8, weightInitializer: .scaledNormal, using: &rng)
            ReLU()
            Dense(inputSize: 8, outputSize: 3, using: &rng)
        }
        let (training, validation) = (blobs(count: 300, seed: 1), blobs(count: 100, seed: 2))
        let trainer = Trainer(model: model, loss: SoftmaxCrossEntropyLoss(), optimizer: SGD(learningRate: 0.1),
                              batchSize: 10, order: .shuffledEachEpoch(seed: 4))
        trainer.callbacks = [EarlyStopping(patience: 5, monitoring: "validation")]
        let history = try trainer.fit(training, epochs: 50, monitoring: [("validation", validation)])
        #expect(history.count < 50, "the blobs are learned in a few epochs; early stopping should end it")
        #expect(trainer.stopReason == "no improvement in validation accuracy for 5 epochs")
        #expect(history.last!.evaluations["validation"]!.accuracy > 0.95)
    }

    /// Docs/TrainingYourOwnModel.md's model of two inputs (``GatedModel`` is the guide's `Gated`)
    /// trained with a cost function: the validation cost falls, and nothing is classified.
    @Test func theTrainingGuidesTwoInputModelLearns() throws {
        let (training, validation) = (gatedExamples(count: 200, seed: 1), gatedExamples(count: 100, seed: 2))
        let trainer = Trainer(model: GatedModel(seed: 3), optimizer: Adam<Double>(learningRate: 0.01), batchSize: 8) { model, inputs, targets in
            SoftmaxCrossEntropyLoss()(model(inputs[0], mask: inputs[1]), targets[0])
        }
        let history = try trainer.fit(training, epochs: 20, monitoring: [("validation", validation)])
        let costs = history.map { $0.evaluations["validation"]!.cost }
        #expect(costs.last! < 0.75 * costs.first!, "validation costs \(costs)")
        #expect(history.allSatisfy { !$0.evaluations["validation"]!.classified })
    }
}

/// Docs/WritingAnOpWithSeveralInputs.md's op, as written there.
struct Lerp<Scalar: TensorScalar>: TensorOperation {
    let count: Int

    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (a, b, t, y) = (buffers.input(0), buffers.input(1), buffers.input(2), buffers.output)
        for i in 0..<count { y[i] = a[i] + t[i] * (b[i] - a[i]) }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let (a, b, t) = (call.inputs[0], call.inputs[1], call.inputs[2])
        return [call.needsGradient(0) ? g * (1 - t) : nil,     // ∂y/∂a = 1 − t
                call.needsGradient(1) ? g * t : nil,           // ∂y/∂b = t
                call.needsGradient(2) ? g * (b - a) : nil]     // ∂y/∂t = b − a
    }
}

func lerp<Scalar>(_ a: Tensor<Scalar>, _ b: Tensor<Scalar>, _ t: Tensor<Scalar>) -> Tensor<Scalar> {
    precondition(a.shape == b.shape && b.shape == t.shape, "lerp: shapes \(a.shape), \(b.shape) and \(t.shape) differ")
    return Lerp(count: a.count)([a, b, t], shape: a.shape)
}

/// Docs/WritingAnOpWithSeveralInputs.md's op that reads indices, as written there.
struct PickColumn<Scalar: TensorScalar>: TensorOperation {
    let rows, columns: Int
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, column, y) = (buffers.input(0), buffers.indices(1), buffers.output)
        for i in 0..<rows {
            guard column[i] >= 0 && Int(column[i]) < columns else { fatalError("PickColumn: index \(column[i]) is not in 0..<\(columns)") }
            y[i] = x[i * columns + Int(column[i])]
        }
    }
    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        // The same picks, read the other way: g[i] at column[i] of row i.
        let identity = Tensor<Scalar>((0..<(columns * columns)).map { $0 % (columns + 1) == 0 ? 1 : 0 }, shape: [columns, columns])
        let picked = identity.gathering(call.indices[0])   // [rows, columns]: row i one-hot at column[i]
        return [picked * g.reshaped(to: [rows, 1])]
    }
}

/// The guide's module with two inputs.
struct Cell: Module {
    typealias Scalar = Double
    var input: Dense<Double>
    var hidden: Dense<Double>

    func callAsFunction(_ x: Tensor<Double>, _ h: Tensor<Double>) -> Tensor<Double> {
        tanh(input(x) + hidden(h))
    }
}

@Suite struct SeveralInputsGuideTests {
    @Test func theGuidesOpIsCheckedTwice() {
        var rng = SeededGenerator(seed: 1)
        let (a, b, t) = (Tensor<Double>(randomNormal: [3, 4], using: &rng), Tensor<Double>(randomNormal: [3, 4], using: &rng),
                         Tensor<Double>(randomNormal: [3, 4], using: &rng))
        #expect(checkGradients(at: [a, b, t]) { lerp($0[0], $0[1], $0[2]) }.passed)
        #expect(checkSecondOrderGradients(at: [a, b, t]) { lerp($0[0], $0[1], $0[2]) }.passed)
        #expect(lerp(Tensor<Double>([0, 10]), Tensor([10, 20]), Tensor([0.5, 0.25])).scalars == [5, 12.5])
    }

    @Test func theGuidesIndexOpPicksAndIsChecked() {
        let x = Tensor<Double>([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let y = PickColumn<Double>(rows: 2, columns: 3)([x], indices: [IndexTensor([2, 0])], shape: [2])
        #expect(y.scalars == [3, 4])
        let columns = IndexTensor([1, 2, 2, 0])
        let pick = { (x: Tensor<Double>) in PickColumn<Double>(rows: 4, columns: 3)([x], indices: [columns], shape: [4]) }
        #expect(checkGradients(at: [random([4, 3], seed: 6)]) { pick($0[0]) * $0[0].sum() }.passed)
        #expect(gradient(at: x) { PickColumn<Double>(rows: 2, columns: 3)([$0], indices: [IndexTensor([2, 0])], shape: [2]).sum() }.scalars
                == [0, 0, 1, 1, 0, 0])
    }

    @Test func theGuidesCellTrainsThroughAStepWithSeveralTensors() {
        var rng = SeededGenerator(seed: 2)
        let cell = Cell(input: Dense(inputSize: 3, outputSize: 4, using: &rng), hidden: Dense(inputSize: 4, outputSize: 4, using: &rng))
        #expect(cell.parameters.map(\.name) == ["input.weight", "input.bias", "hidden.weight", "hidden.bias"])
        let (x, h, weights) = (random([2, 3], seed: 3), random([2, 4], seed: 4), random([2, 4], seed: 5))
        let step = TracedGradient(of: cell) { cell, t in (cell(t[0], t[1]) * t[2]).sum() }
        var adam = Adam<Double>(learningRate: 0.05)
        let tensors = [x, h, weights]
        let losses = (0..<20).map { _ in step.step(tensors, optimizer: &adam).scalar }
        #expect(losses.last! < losses.first! && step.eagerReason == nil)
    }
}

/// Docs/FromTheBookToAGPT.md's code, as written there, and its training loop run for a few steps.
@Suite struct FromTheBookToAGPTGuideTests {
    @Test func theGuidesPiecesHaveTheirShapesAndTheModelLearns() {
        var rng = SeededGenerator(seed: 1)
        let embed = Embedding<Float>(count: 65, dimension: 32, using: &rng)
        let ids = IndexTensor([18, 47, 56, 57], shape: [1, 4])
        #expect(embed(ids).shape == [1, 4, 32])

        let x = Tensor<Float>(randomNormal: [2, 8, 32], using: &rng)
        let (q, k, v) = (x, x, x)
        var scores = matmul(q, k, transposingB: true) * (1 / Float(32).squareRoot())
        scores = scores.filled(where: Tensor.causalMask(size: 8), with: -.infinity)
        let weights = softmax(scores)
        let mixed = matmul(weights, v)
        #expect(mixed.shape == [2, 8, 32])
        // Position 0 sees only itself; nothing is attended to after a position.
        #expect(weights.scalars[0] == 1 && weights.scalars[1...7].allSatisfy { $0 == 0 })
        #expect(mixed.rows(0..<1).scalars[0..<32] == x.rows(0..<1).scalars[0..<32])

        let qkv = Tensor<Float>(randomNormal: [2, 8, 3 * 32], using: &rng)
        let attended = scaledDotProductAttention(queryKeyValue: qkv, heads: 4)
        #expect(attended.shape == [2, 8, 32])
        // The first position sees only itself: its output is its own value, head by head.
        #expect(attended.scalars[0..<32] == qkv.scalars[64..<96])

        let block = TransformerBlock<Float>(width: 32, heads: 4, using: &rng)
        #expect(block(x).shape == x.shape)

        let gpt = GPT<Float>(GPTConfiguration(vocabularySize: 65, contextLength: 8, layers: 2, heads: 4, width: 32),
                             using: &rng)
        let step = TracedGradient(of: gpt, withIndices: { model, _, ids in SoftmaxCrossEntropyLoss()(model(ids[0]), ids[1]) })
        step.clipping = .globalNorm(1)
        var adamW = AdamW<Float>(beta2: 0.99, weightDecay: 0.1, decays: AdamW<Float>.decaysMatrices)
        let schedule = WarmupCosineSchedule(peak: 1e-3, floor: 1e-4, warmupIterations: 100, decayIterations: 2000)
        // A text of one repeated phrase: after a few hundred steps the model predicts it.
        let text = Array(repeating: Array("to be or not ".unicodeScalars.map { Int($0.value) % 65 }), count: 40).flatMap { $0 }
        var (inputs, targets) = (IndexTensor(shape: [4, 8]), IndexTensor(shape: [4, 8]))
        var losses: [Float] = []
        for iteration in 0..<300 {
            let starts = (0..<4).map { _ in rng.nextInt(below: text.count - 8) }
            inputs = IndexTensor(starts.flatMap { text[$0 ..< $0 + 8] }, shape: [4, 8])
            targets = IndexTensor(starts.flatMap { text[$0 + 1 ..< $0 + 9] }, shape: [4, 8])
            adamW.learningRate = Float(schedule(iteration))
            losses.append(step.step(indices: inputs, targets, optimizer: &adamW).scalar)
        }
        #expect(step.eagerReason == nil)
        #expect(losses[0] > 4 && losses.suffix(10).allSatisfy { $0 < 1 }, "\(losses.prefix(3)) … \(losses.suffix(3))")
    }
}
