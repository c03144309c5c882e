import CAllocationCounter
import Nabla
import Testing

/// Parameters kept in a plain struct, not a layer.
struct WeightPair {
    @Parameter var first = Tensor<Double>(ones: [2])
    @Parameter var second = Tensor<Double>(ones: [3])
}

/// A class whose instance refers to itself: reflection must end.
final class Looped {
    @Parameter var value = Tensor<Double>(ones: [1])
    var next: Looped?
}

/// A module that keeps parameters in every place reflection looks.
struct Everywhere: Module {
    typealias Scalar = Double
    var pair = WeightPair()
    var byName: [String: Dense<Double>]
    var twoLayers: (Dense<Double>, encoder: Dense<Double>)
    var looped = Looped()
    let plainNumbers = [1.0, 2.0, 3.0]

    init() {
        var rng = SeededGenerator(seed: 1)
        byName = ["zeta": Dense(inputSize: 1, outputSize: 1, using: &rng), "alpha": Dense(inputSize: 2, outputSize: 1, using: &rng)]
        twoLayers = (Dense(inputSize: 3, outputSize: 1, using: &rng), Dense(inputSize: 4, outputSize: 1, using: &rng))
        looped.next = looped
    }
}

/// A recurrent cell with two inputs, h' = tanh(Wx·x + Wh·h), applied over a sequence: a module
/// with several tensors in.
struct RecurrentCell: Module {
    typealias Scalar = Double
    var input: Dense<Double>
    var hidden: Dense<Double>

    init(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        input = Dense(inputSize: 3, outputSize: 4, weightInitializer: .scaledNormal, using: &rng)
        hidden = Dense(inputSize: 4, outputSize: 4, weightInitializer: .scaledNormal, using: &rng)
    }

    func callAsFunction(_ x: Tensor<Double>, _ h: Tensor<Double>) -> Tensor<Double> { tanh(input(x) + hidden(h)) }

    /// The loss of the cell run over `sequence` [T, B, 3] from `h` [B, 4], masked by `mask` [T, B, 1].
    static func loss(_ cell: RecurrentCell, _ t: [Tensor<Double>]) -> Tensor<Double> {
        var h = t[1]
        for (step, x) in t[0].split(sizes: Array(repeating: 1, count: t[0].shape[0])).enumerated() {
            h = cell(x.squeezingShape(at: 0), h) * t[2].slice(alongAxis: 0, step ..< step + 1).squeezingShape(at: 0)
        }
        return (h * t[3]).sum()
    }
}

@Suite struct ModuleTests {
    @Test func parametersAreFoundWhereverTheyAreKept() {
        let names = Everywhere().parameters.map(\.name)
        #expect(names == ["pair.first", "pair.second", "byName.alpha.weight", "byName.alpha.bias",
                          "byName.zeta.weight", "byName.zeta.bias", "twoLayers.0.weight", "twoLayers.0.bias",
                          "twoLayers.encoder.weight", "twoLayers.encoder.bias", "looped.value"])
        // Dictionaries in key order: the same names, in the same order, however they hash.
        #expect((0..<5).allSatisfy { _ in Everywhere().parameters.map(\.name) == names })
    }

    @Test func aParameterOfTheOtherScalarTypeIsAnError() async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            struct Mixed: Module {
                typealias Scalar = Float
                @Parameter var weight = Tensor<Float>(ones: [2])
                @Parameter var scale = Tensor<Double>(ones: [1])
            }
            _ = Mixed().parameters
        }
        #expect(String(decoding: result!.standardErrorContent, as: UTF8.self)
            .contains("Mixed.scale is a Parameter<Double> in a model of Float: it would never be trained or saved"))
        let unmarked = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            struct Holder { var table = Tensor<Double>(ones: [2]) }
            struct Outer: Module { typealias Scalar = Double; var holder = Holder() }
            _ = Outer().parameters
        }
        #expect(String(decoding: unmarked!.standardErrorContent, as: UTF8.self)
            .contains("Holder.table is a Tensor that is not marked"))
    }

    /// A module with two inputs, stepped through a trace with four tensors (a sequence, a starting
    /// state, a mask, the loss's weights): the eager step's values and parameters to the bit, and
    /// no allocation once replaying.
    @Test func aStepWithSeveralInputsReplaysAsEager() {
        let traced = RecurrentCell(seed: 3)
        var eager = RecurrentCell(seed: 3)
        var tensors = [random([5, 2, 3], seed: 4), random([2, 4], seed: 5),
                       Tensor([1, 1, 1, 0, 1, 1, 1, 1, 0, 1], shape: [5, 2, 1]), random([2, 4], seed: 6)]
        let stepper = TracedGradient(of: traced, RecurrentCell.loss)
        var (adam1, adam2) = (Adam<Double>(learningRate: 0.01), Adam<Double>(learningRate: 0.01))
        for step in 0..<5 {
            tensors[0] = random([5, 2, 3], seed: UInt64(10 + step))
            let before = nabla_thread_allocation_count()
            let value = stepper.step(tensors, optimizer: &adam1)
            if step == 4 && isOptimizedBuild {
                #expect(nabla_thread_allocation_count() == before, "a replayed step allocated")
            }
            let (reference, gradients) = withLayerMode(.training) { valueWithGradient(at: eager) { RecurrentCell.loss($0, tensors) } }
            adam2.update(&eager, along: gradients)
            #expect(value == reference)
        }
        #expect(stepper.eagerReason == nil, "\(stepper.eagerReason ?? "")")
        #expect(traced.parameterValues == eager.parameterValues)
    }

    /// Every setting of SGD and Adam changed between steps — a new optimizer carrying the old
    /// one's state, as a user changing one setting would write — gives the eager step's values.
    @Test(arguments: 0..<9)
    func changingAnOptimizerSettingBetweenStepsIsNotReplayedStale(_ change: Int) {
        let make: (Int) -> any Optimizer<Double> = { phase in
            let later = phase > 0
            switch change {
            case 0: return SGD(learningRate: 0.1, momentum: later ? 0.2 : 0.9)
            case 1: return SGD(learningRate: 0.1, momentum: 0.9, dampening: later ? 0.5 : 0)
            case 2: return SGD(learningRate: 0.1, momentum: 0.9, nesterov: later)
            case 3: return SGD(learningRate: 0.1, momentum: 0.9, weightDecay: later ? 0.3 : 0.01)
            case 4: return SGD(learningRate: 0.1, weightDecay: 0.2, decays: { later ? $0.hasSuffix("bias") : $0.hasSuffix("weight") })
            case 5: return Adam(learningRate: 0.01, beta1: later ? 0.5 : 0.9)
            case 6: return Adam(learningRate: 0.01, beta2: later ? 0.9 : 0.999)
            case 7: return Adam(learningRate: 0.01, epsilon: later ? 0.1 : 1e-8)
            default: return Adam(learningRate: 0.01, weightDecay: later ? 0.5 : 0)
            }
        }
        let traced = sharedLayerNetwork(seed: 7)
        var eager = sharedLayerNetwork(seed: 7)
        let (x, w) = (random([3, 4], seed: 8), random([3, 6], seed: 9))
        let loss = { (model: Sequential<Double>, x: Tensor<Double>, w: Tensor<Double>) in (model(x) * w).sum() }
        let stepper = TracedGradient(of: traced, loss)
        var (optimizer1, optimizer2) = (make(0), make(0))
        for step in 0..<6 {
            if step == 3 {
                var (new1, new2) = (make(1), make(1))
                (new1.state, new2.state) = (optimizer1.state, optimizer2.state)
                (optimizer1, optimizer2) = (new1, new2)
            }
            let value = stepper.step(x, w, optimizer: &optimizer1)
            let (reference, gradients) = withLayerMode(.training) { valueWithGradient(at: eager) { loss($0, x, w) } }
            optimizer2.update(&eager, along: gradients)
            #expect(value == reference, "step \(step)")
        }
        #expect(traced.parameterValues == eager.parameterValues)
    }

    /// Clipping inside the replayed step is the eager clipping to the bit; changing it records
    /// the step again.
    @Test func clippedStepsReplayAsEager() {
        let traced = sharedLayerNetwork(seed: 11)
        var eager = sharedLayerNetwork(seed: 11)
        let (x, w) = (random([3, 4], seed: 12), random([3, 6], seed: 13, scale: 10))
        let loss = { (model: Sequential<Double>, x: Tensor<Double>, w: Tensor<Double>) in (model(x) * w).sum() }
        let stepper = TracedGradient(of: traced, loss)
        var (sgd1, sgd2) = (SGD<Double>(learningRate: 0.05), SGD<Double>(learningRate: 0.05))
        for step in 0..<8 {
            let clipping: GradientClipping<Double> = step < 4 ? .globalNorm(1) : .value(0.05)
            stepper.clipping = clipping
            let before = nabla_thread_allocation_count()
            let value = stepper.step(x, w, optimizer: &sgd1)
            if step == 3 && isOptimizedBuild { #expect(nabla_thread_allocation_count() == before, "a replayed step allocated") }
            let (reference, gradients) = valueWithGradient(at: eager) { loss($0, x, w) }
            let clipped = gradients.clipped(clipping)
            if step == 0 { #expect(abs(clipped.globalNorm.scalar - 1) < 1e-6 && gradients.globalNorm.scalar > 2) }
            sgd2.update(&eager, along: clipped)
            #expect(value == reference, "step \(step)")
        }
        #expect(traced.parameterValues == eager.parameterValues)
    }

    @Test func clippingByValueAndByNorm() {
        let g = Gradients(names: ["a", "b"], tensors: [Tensor<Double>([3, -4]), Tensor<Double>([0, 12])])
        #expect(g.globalNorm.scalar == 13)
        let byNorm = g.clipped(.globalNorm(6.5))
        let scale = 6.5 / (13 + 1e-6)
        #expect(byNorm.tensors[0].scalars == [3 * scale, -4 * scale] && byNorm.tensors[1].scalars == [0, 12 * scale])
        #expect(g.clipped(.globalNorm(100)).tensors == g.tensors)   // below the limit: unchanged
        #expect(g.clipped(.value(3.5)).tensors.map(\.scalars) == [[3, -3.5], [0, 3.5]])
    }
}

@Suite struct TrainerClippingTests {
    /// A trainer's clipping reaches its steps: with the global norm held to 10⁻⁹, an epoch of
    /// SGD at η 1 moves no parameter by more than the steps' norms add up to.
    @Test func aTrainersClippingLimitsEveryStep() throws {
        let data = TensorDataset(inputs: random([40, 4], seed: 30), targets: random([40, 6], seed: 31))
        for clipped in [false, true] {
            let model = sharedLayerNetwork(seed: 32)
            let before = model.parameterValues
            let trainer = Trainer(model: model, loss: QuadraticLoss(), optimizer: SGD<Double>(learningRate: 1), batchSize: 10)
            if clipped { trainer.clipping = .globalNorm(1e-9) }
            try trainer.fit(data, epochs: 1)
            let moved = before.map { name, value in
                zip(value.scalars, model.parameterValues[name]!.scalars).map { Swift.abs($0 - $1) }.max()!
            }.max()!
            #expect(clipped ? moved <= 4e-9 : moved > 1e-3, "largest change \(moved)")
        }
    }
}
