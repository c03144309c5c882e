import CAllocationCounter
import Foundation
import Nabla
import Testing

/// Index tensors: whole numbers as `Int32`s, inputs of ops and of recorded steps.
@Suite struct IndexTensorTests {
    @Test func holdsIndicesWithValueSemantics() {
        let ids = IndexTensor([5, 0, 12, 7, 3, 3], shape: [2, 3])
        #expect(ids.shape == [2, 3] && ids.count == 6 && ids.rank == 2)
        #expect(ids.scalars == [5, 0, 12, 7, 3, 3] && ids[1, 0] == 7)
        #expect(ids.reshaped(to: [3, 2])[2, 1] == 3 && ids.rows(1..<2).scalars == [7, 3, 3])
        #expect(ids == IndexTensor([5, 0, 12, 7, 3, 3], shape: [2, 3]) && ids != IndexTensor([5, 0, 12, 7, 3, 3], shape: [3, 2]))
        #expect(ids.description == "IndexTensor [2, 3]\n[[5, 0, 12],\n [7, 3, 3]]")
        #expect(IndexTensor([4]).description == "IndexTensor [1]\n[4]")
        #expect(IndexTensor(converting: Tensor<Float>([2, 0, 65535])).scalars == [2, 0, 65535])
        #expect(Tensor<Double>(converting: ids).scalars == [5, 0, 12, 7, 3, 3])

        // Filled in place, as a step's batch is; a copy keeps what it had.
        var batch = ids
        batch.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = Int32(i) } }
        #expect(batch.scalars == [0, 1, 2, 3, 4, 5] && ids.scalars == [5, 0, 12, 7, 3, 3])
        var zeros = IndexTensor(shape: [2, 2])
        #expect(zeros.scalars == [0, 0, 0, 0])
        zeros.withUnsafeMutableBufferPointer { $0[3] = 9 }
        #expect(zeros.scalars == [0, 0, 0, 9])
    }

    @Test func indexTensorsPickWhatScalarIndicesPick() {
        // The same lookup and loss whether the ids are Int32s or whole-number scalars: values and
        // gradients to the bit.
        let table = random([5, 5], seed: 3), logits = random([2, 3, 5], seed: 4)
        let ids = [4, 0, 4, 2, 1, 3]
        let (integers, scalars) = (IndexTensor(ids, shape: [2, 3]), Tensor<Double>(indices: ids, shape: [2, 3]))
        #expect(table.gathering(integers) == table.gathering(scalars))
        #expect(table.gathering(integers, alongAxis: 1) == table.gathering(scalars, alongAxis: 1))
        #expect(gradient(at: table) { ($0.gathering(integers) * $0.gathering(integers)).sum() }
                == gradient(at: table) { ($0.gathering(scalars) * $0.gathering(scalars)).sum() })
        let loss = SoftmaxCrossEntropyLoss<Double>()
        #expect(loss(logits, integers) == loss(logits, scalars))
        #expect(gradient(at: logits) { loss($0, integers) } == gradient(at: logits) { loss($0, scalars) })
        // Against the formula: the mean of logSumExp(z) − z[label] over the six positions.
        let rows = logits.reshaped(to: [6, 5]).scalars
        var expected = 0.0
        for r in 0..<6 {
            let z: [Double] = Array(rows[(r * 5)..<(r * 5 + 5)])
            let logSumExp: Double = Foundation.log(z.map { Foundation.exp($0) }.reduce(0, +))
            expected += (logSumExp - z[ids[r]]) / 6
        }
        #expect(Swift.abs(loss(logits, integers).scalar - expected) < 1e-12)
    }

    /// A small GPT on Float ids, both in IndexTensors: the recorded step against the eager one.
    private func gpt(seed: UInt64) -> GPT<Float> {
        var rng = SeededGenerator(seed: seed)
        return GPT(GPTConfiguration(vocabularySize: 7, contextLength: 4, layers: 2, heads: 2, width: 8), using: &rng)
    }

    @Test func aStepOnIndexInputsReplaysAsEagerAndAllocatesNothing() {
        let traced = gpt(seed: 5)
        var eager = gpt(seed: 5)
        let loss = { (model: GPT<Float>, ids: [IndexTensor]) in SoftmaxCrossEntropyLoss<Float>()(model(ids[0]), ids[1]) }
        let stepper = TracedGradient(of: traced, withIndices: { model, _, ids in loss(model, ids) })
        var (optimizer1, optimizer2) = (AdamW<Float>(weightDecay: 0.1), AdamW<Float>(weightDecay: 0.1))
        var rng = SeededGenerator(seed: 9)
        var batch = [IndexTensor(shape: [3, 4]), IndexTensor(shape: [3, 4])]   // inputs, targets
        for step in 0..<5 {
            // Refilled in place on most steps, new tensors on one: the replay follows either.
            if step == 3 { batch = [IndexTensor(shape: [3, 4]), IndexTensor(shape: [3, 4])] }
            for field in 0..<2 {
                batch[field].withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = Int32(rng.next() % 7) } }
            }
            let before = nabla_thread_allocation_count()
            let value = stepper.step([], indices: batch, optimizer: &optimizer1)
            if step >= 2 && isOptimizedBuild {
                #expect(nabla_thread_allocation_count() == before, "a replayed step allocated (step \(step))")
            }
            let (reference, gradients) = withLayerMode(.training) { valueWithGradient(at: eager) { loss($0, batch) } }
            optimizer2.update(&eager, along: gradients)
            #expect(value == reference, "step \(step)")
        }
        #expect(stepper.eagerReason == nil, "\(stepper.eagerReason ?? "")")
        #expect(traced.parameterValues == eager.parameterValues)
        // And the model reads Int32 ids as it reads the same ids held as scalars.
        #expect(traced(batch[0]) == traced(Tensor(converting: batch[0])))
    }

    @Test func viewsOfIndicesReplayInADoubleStep() {
        // Views at an offset — rows of an input, rows of a constant made in the step — in a
        // step over Doubles, whose elements are twice an index's size: replayed as eager.
        var rng = SeededGenerator(seed: 8)
        let traced = Embedding<Double>(count: 6, dimension: 3, using: &rng)
        var eager = Embedding<Double>(weight: traced.weight)
        let loss = { (model: Embedding<Double>, ids: IndexTensor) -> Tensor<Double> in
            let constant = IndexTensor([5, 4, 3, 2]).rows(1..<3)
            return (model(ids.rows(1..<3)) * model(constant).reshaped(to: [2, 1, 3])).sum()
        }
        let stepper = TracedGradient(of: traced, withIndices: { model, _, ids in loss(model, ids[0]) })
        var (optimizer1, optimizer2) = (SGD<Double>(learningRate: 0.1), SGD<Double>(learningRate: 0.1))
        for step in 0..<4 {
            let ids = IndexTensor((0..<8).map { ($0 * 5 + step) % 6 }, shape: [4, 2])
            let value = stepper.step([], indices: [ids], optimizer: &optimizer1)
            let (reference, gradients) = valueWithGradient(at: eager) { loss($0, ids) }
            optimizer2.update(&eager, along: gradients)
            #expect(value == reference, "step \(step)")
        }
        #expect(stepper.eagerReason == nil, "\(stepper.eagerReason ?? "")")
        #expect(traced.weight == eager.weight)
    }

    @Test func readingIndexInputsOnTheCPUMakesTheStepEager() {
        let model = gpt(seed: 6)
        let stepper = TracedGradient(of: model, withIndices: { model, _, ids in
            let last = ids[1].scalars.last!   // a CPU read of an input: a replay would keep it
            return SoftmaxCrossEntropyLoss<Float>()(model(ids[0]), ids[1]) * Tensor(Float(last + 1))
        })
        let (x, y) = (IndexTensor([1, 2, 3, 4], shape: [1, 4]), IndexTensor([2, 3, 4, 5], shape: [1, 4]))
        let first = stepper([], indices: [x, y])
        #expect(stepper.eagerReason?.contains("scalars") == true, "\(stepper.eagerReason ?? "nil")")
        let other = IndexTensor([2, 3, 4, 0], shape: [1, 4])
        let (value, _) = stepper([], indices: [x, other])
        let expected = valueWithGradient(at: model) { SoftmaxCrossEntropyLoss<Float>()($0(x), other) * Tensor(Float(1)) }.0
        #expect(value == expected && first.value != value)
    }

    @Test func aCapturedIndexTensorGivenANewValueIsRecordedAgain() {
        // The labels are captured, not passed: when they get a new value, the step is recorded
        // again rather than replayed with the old ones (as for a captured tensor).
        let model = gpt(seed: 7)
        let x = IndexTensor([1, 2, 3, 4], shape: [1, 4])
        var labels = IndexTensor([2, 3, 4, 5], shape: [1, 4])
        let stepper = TracedGradient(of: model, withIndices: { model, _, ids in SoftmaxCrossEntropyLoss<Float>()(model(ids[0]), labels) })
        _ = stepper([], indices: [x])
        labels = IndexTensor([6, 0, 1, 2], shape: [1, 4])
        for _ in 0..<2 {
            let (value, gradients) = stepper([], indices: [x])
            let reference = valueWithGradient(at: model) { SoftmaxCrossEntropyLoss<Float>()($0(x), labels) }
            #expect(value == reference.0 && gradients.tensors == reference.1.tensors)
        }
        #expect(stepper.eagerReason == nil, "\(stepper.eagerReason ?? "")")
    }
}
