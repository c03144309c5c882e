import CAllocationCounter
import Nabla
import Testing

/// A model of two inputs: features [B, 3] and a mask [B, 4] that gates its hidden units.
struct GatedModel: Module {
    typealias Scalar = Double
    var hidden: Dense<Double>
    var output: Dense<Double>

    init(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        hidden = Dense(inputSize: 3, outputSize: 4, weightInitializer: .scaledNormal, using: &rng)
        output = Dense(inputSize: 4, outputSize: 2, weightInitializer: .scaledNormal, using: &rng)
    }

    func callAsFunction(_ x: Tensor<Double>, mask: Tensor<Double>) -> Tensor<Double> { output(tanh(hidden(x)) * mask) }

    /// Softmax cross-entropy of the two-input model against class indices, plus a quadratic
    /// term against a second target: two inputs, two targets.
    static func cost(_ model: GatedModel, _ inputs: [Tensor<Double>], _ targets: [Tensor<Double>]) -> Tensor<Double> {
        let outputs = model(inputs[0], mask: inputs[1])
        return SoftmaxCrossEntropyLoss()(outputs, targets[0]) + QuadraticLoss()(outputs, targets[1]) * 0.1
    }
}

/// `count` examples of features, masks, class indices and regression targets.
func gatedExamples(count: Int, seed: UInt64) -> TensorTupleDataset<Double> {
    var rng = SeededGenerator(seed: seed)
    let features = Tensor<Double>(randomNormal: [count, 3], using: &rng)
    let masks = Tensor<Double>((0..<count * 4).map { _ in Double(Int.random(in: 0...1, using: &rng)) }, shape: [count, 4])
    let classes = Tensor<Double>(features.scalars.enumerated().filter { $0.offset % 3 == 0 }.map { $0.element > 0 ? 1 : 0 })
    let values = Tensor<Double>(randomNormal: [count, 2], using: &rng)
    return TensorTupleDataset(inputs: [features, masks], targets: [classes, values])
}

@Suite struct MultiTensorTrainingTests {
    @Test func aTensorTupleDatasetBatchesEveryFieldInPlace() {
        let data = TensorTupleDataset(inputs: [Tensor<Double>((0..<8).map(Double.init), shape: [4, 2]), Tensor([10, 11, 12, 13])],
                                      targets: [Tensor<Double>((0..<12).map { Double($0) / 2 }, shape: [4, 3])])
        #expect(data.count == 4 && data.fieldCounts == (2, 1))
        var (inputs, targets) = ([Tensor<Double>](), [Tensor<Double>]())
        data.batch([3, 1], inputs: &inputs, targets: &targets)
        #expect(inputs.map(\.shape) == [[2, 2], [2]] && targets.map(\.shape) == [[2, 3]])
        #expect(inputs[0].scalars == [6, 7, 2, 3] && inputs[1].scalars == [13, 11] && targets[0].scalars == [4.5, 5, 5.5, 1.5, 2, 2.5])
        let storage = inputs.map { $0.withUnsafeBufferPointer { $0.baseAddress } }
        data.batch([0, 2], inputs: &inputs, targets: &targets)
        #expect(inputs.map { $0.withUnsafeBufferPointer { $0.baseAddress } } == storage, "refilled where it was")
        #expect(inputs[1].scalars == [10, 12])
    }

    /// A ``Dataset`` of one input and one target is a ``MultiTensorDataset`` of one field each.
    @Test func aDatasetIsOneFieldOfEach() {
        let data = blobs(count: 5, seed: 1)
        var (inputs, targets) = ([Tensor<Double>](), [Tensor<Double>]())
        data.batch([4, 0], inputs: &inputs, targets: &targets)
        var (x, y) = (Tensor<Double>(zeros: [0]), Tensor<Double>(zeros: [0]))
        data.batch([4, 0], inputs: &x, targets: &y)
        #expect(data.fieldCounts == (1, 1) && inputs == [x] && targets == [y])
    }

    /// The trainer's replayed steps on two inputs and two targets against a hand-written eager
    /// loop over the same batches: the same costs and parameters, to the bit; its evaluations
    /// are the mean cost, and classify nothing.
    @Test func aTrainerOfACostFunctionMatchesAHandWrittenLoop() throws {
        let (training, validation) = (gatedExamples(count: 40, seed: 1), gatedExamples(count: 15, seed: 2))
        let model = GatedModel(seed: 3)
        var reference = GatedModel(seed: 3)
        let trainer = Trainer(model: model, optimizer: Adam<Double>(learningRate: 0.01), batchSize: 8, order: .fixed, cost: GatedModel.cost)
        let history = try trainer.fit(training, epochs: 3, monitoring: [("validation", validation)])

        var optimizer = Adam<Double>(learningRate: 0.01)
        var (inputs, targets) = ([Tensor<Double>](), [Tensor<Double>]())
        for epoch in 0..<3 {
            var total = 0.0
            for start in stride(from: 0, to: 40, by: 8) {
                training.batch(Array(start ..< start + 8)[...], inputs: &inputs, targets: &targets)
                let (cost, gradients) = withLayerMode(.training) {
                    valueWithGradient(at: reference) { GatedModel.cost($0, inputs, targets) }
                }
                optimizer.update(&reference, along: gradients)
                total += Double(cost.scalar) * 8
            }
            #expect(history[epoch].trainingCost == total / 40)
            let evaluation = history[epoch].evaluations["validation"]!
            #expect(!evaluation.classified && evaluation.count == 15)
            if epoch == 2 {
                var (x, y) = ([Tensor<Double>](), [Tensor<Double>]())
                validation.batch(Array(0..<15)[...], inputs: &x, targets: &y)
                let direct = withLayerMode(.inference) { GatedModel.cost(reference, x, y) }
                #expect(abs(evaluation.cost - Double(direct.scalar)) < 1e-12)
            }
        }
        #expect(model.parameterValues == reference.parameterValues)
    }

    /// A trainer of a cost over index fields — a small GPT on blocks of ids and their next ids,
    /// weighted by a tensor field — against a hand-written eager loop: the same costs and
    /// parameters, to the bit, and steps that allocate nothing once recorded.
    @Test func aTrainerOnIndexFieldsMatchesAHandWrittenLoop() throws {
        func gpt() -> GPT<Float> {
            var rng = SeededGenerator(seed: 4)
            return GPT(GPTConfiguration(vocabularySize: 9, contextLength: 5, layers: 1, heads: 2, width: 8), using: &rng)
        }
        var rng = SeededGenerator(seed: 5)
        let text = (0..<60).map { _ in rng.nextInt(below: 9) }
        let ids = IndexTensor((0..<12).flatMap { text[($0 * 4) ..< ($0 * 4 + 5)] }, shape: [12, 5])
        let next = IndexTensor((0..<12).flatMap { text[($0 * 4 + 1) ..< ($0 * 4 + 6)] }, shape: [12, 5])
        let weights = Tensor<Float>((0..<12).map { Float($0 % 3 + 1) }, shape: [12])
        let data = TensorTupleDataset(inputs: [weights], indexInputs: [ids], indexTargets: [next])
        #expect(data.count == 12 && data.fieldCounts == (1, 0) && data.indexFieldCounts == (1, 1))
        let cost = { (model: GPT<Float>, batch: DatasetBatch<Float>) in
            SoftmaxCrossEntropyLoss<Float>()(model(batch.indexInputs[0]), batch.indexTargets[0]) * batch.inputs[0].mean()
        }
        let model = gpt()
        var reference = gpt()
        let trainer = Trainer(model: model, optimizer: AdamW<Float>(learningRate: 0.01, weightDecay: 0.1), batchSize: 3, order: .fixed, cost: cost)
        var counts: [Int] = []
        counts.reserveCapacity(8)
        trainer.progress = { _, _ in counts.append(nabla_thread_allocation_count()) }
        let history = try trainer.fit(data, epochs: 2, monitoring: [("training", data)])

        var optimizer = AdamW<Float>(learningRate: 0.01, weightDecay: 0.1)
        var batch = DatasetBatch<Float>()
        for epoch in 0..<2 {
            var total = 0.0
            for start in stride(from: 0, to: 12, by: 3) {
                data.batch(Array(start ..< start + 3)[...], into: &batch)
                #expect(batch.indexInputs[0].shape == [3, 5] && batch.count == 3)
                let (value, gradients) = withLayerMode(.training) { valueWithGradient(at: reference) { cost($0, batch) } }
                optimizer.update(&reference, along: gradients)
                total += Double(value.scalar) * 3
            }
            #expect(history[epoch].trainingCost == total / 12)
        }
        #expect(model.parameterValues == reference.parameterValues)
        let direct = withLayerMode(.inference) { cost(reference, DatasetBatch(inputs: [weights], indexInputs: [ids], indexTargets: [next])) }
        #expect(abs(history[1].evaluations["training"]!.cost - Double(direct.scalar)) < 1e-5)
        if isOptimizedBuild {
            #expect(counts.count == 8)
            // Four steps an epoch, the first recorded; the evaluation between epochs allocates.
            #expect(Set(counts[1...3]).count == 1 && Set(counts[4...7]).count == 1, "allocations after each step: \(counts)")
        }
    }

    /// Once a step has been recorded, a trainer's steps allocate nothing, whether it was made
    /// with a layer and a loss or with a cost function of several fields.
    @Test func aTrainersReplayedStepsAllocateNothing() throws {
        guard isOptimizedBuild else { return }
        var counts: [Int] = []
        counts.reserveCapacity(10)
        let layer = Trainer(model: blobNetwork(seed: 1), loss: SoftmaxCrossEntropyLoss(), optimizer: SGD(learningRate: 0.1),
                            batchSize: 10, order: .fixed)
        layer.progress = { _, _ in counts.append(nabla_thread_allocation_count()) }
        try layer.fit(blobs(count: 60, seed: 2), epochs: 1)
        #expect(counts.count == 6)
        #expect(zip(counts.dropFirst(2), counts.dropFirst(3)).allSatisfy { $0 == $1 }, "allocations after each step: \(counts)")
        counts.removeAll(keepingCapacity: true)
        let cost = Trainer(model: GatedModel(seed: 1), optimizer: Adam<Double>(learningRate: 0.01), batchSize: 8, order: .fixed,
                           cost: GatedModel.cost)
        cost.progress = { _, _ in counts.append(nabla_thread_allocation_count()) }
        try cost.fit(gatedExamples(count: 48, seed: 2), epochs: 1)
        #expect(counts.count == 6)
        #expect(zip(counts.dropFirst(2), counts.dropFirst(3)).allSatisfy { $0 == $1 }, "allocations after each step: \(counts)")
    }

    @Test func mismatchedFieldsAreRefusedNamingThem() async throws {
        let layerError = try #require(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let trainer = Trainer(model: blobNetwork(seed: 1), loss: SoftmaxCrossEntropyLoss(), optimizer: SGD(learningRate: 0.1))
            _ = try? trainer.fit(gatedExamples(count: 8, seed: 1), epochs: 1)
        })
        #expect(String(decoding: layerError.standardErrorContent, as: UTF8.self).contains(
            "fit: the training set's examples have 2 inputs and 2 targets; a trainer of a layer and a loss takes one tensor of each"))
        let shapeError = try #require(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = TensorTupleDataset(inputs: [Tensor<Double>(zeros: [4, 2])], targets: [Tensor<Double>(zeros: [3])])
        })
        #expect(String(decoding: shapeError.standardErrorContent, as: UTF8.self).contains(
            "TensorTupleDataset: target 0 has shape [3]; every field's first dimension must be the number of examples, 4"))
        let accuracyError = try #require(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let trainer = Trainer(model: GatedModel(seed: 1), optimizer: SGD<Double>(learningRate: 0.1), cost: GatedModel.cost)
            trainer.callbacks = [EarlyStopping(patience: 2, monitoring: "validation")]
            _ = try? trainer.fit(gatedExamples(count: 8, seed: 1), epochs: 1, monitoring: [("validation", gatedExamples(count: 4, seed: 2))])
        })
        #expect(String(decoding: accuracyError.standardErrorContent, as: UTF8.self).contains(
            "'validation' was evaluated by its cost alone (a trainer made with a cost function classifies nothing): there is no accuracy to monitor"))
    }
}
