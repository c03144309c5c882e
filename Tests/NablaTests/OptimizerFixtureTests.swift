import CAllocationCounter
import Foundation
import Nabla
import Testing

/// `Tests/Fixtures/optimizer_fixtures.json`, written by `make_optimizer_fixtures.py` with PyTorch.
struct OptimizerFixtures: Decodable {
    struct Values: Decodable {
        let shape: [Int]
        let values: [Double]
    }
    struct Clipping: Decodable {
        let norm: Double?
        let gradients: [[Double]]
    }
    struct Schedule: Decodable {
        let iterations: [Int]
        let rates: [Double]
    }
    let start: [String: Values]
    let gradients: [[String: [Double]]]
    let rates: [Double]
    let optimizers: [String: [[String: [Double]]]]
    let clipping: [String: Clipping]
    let schedule: Schedule

    static let shared: OptimizerFixtures = decodedFixture("optimizer_fixtures.json")

    func tensor(_ name: String) -> Tensor<Double> { Tensor(start[name]!.values, shape: start[name]!.shape) }

    /// The fixture's gradients at `step`, in the model's order.
    func gradients(at step: Int) -> Gradients<Double> {
        Gradients(names: ["weight", "bias"], tensors: ["weight", "bias"].map { Tensor(gradients[step][$0]!, shape: start[$0]!.shape) })
    }
}

/// The fixture's two parameters.
struct WeightAndBias: Module {
    typealias Scalar = Double
    @Parameter var weight: Tensor<Double>
    @Parameter var bias: Tensor<Double>
}

@Suite struct OptimizerFixtureTests {
    let fixtures = OptimizerFixtures.shared

    func expectClose(_ actual: [Double], _ expected: [Double], _ what: String) {
        #expect(actual.count == expected.count)
        if let i = actual.indices.first(where: { abs(actual[$0] - expected[$0]) > 1e-12 + 1e-10 * abs(expected[$0]) }) {
            Issue.record("\(what): element \(i) is \(actual[i]), PyTorch \(expected[i])")
        }
    }

    @Test(arguments: ["AdamW", "AdamW, decay on matrices only", "RMSprop", "RMSprop, centered, momentum and weight decay"])
    func sixStepsMatchPyTorch(_ name: String) {
        var optimizer: any Optimizer<Double> = switch name {
        case "AdamW": AdamW(beta2: 0.99, weightDecay: 0.1)
        case "AdamW, decay on matrices only": AdamW(beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1, decays: AdamW<Double>.decaysMatrices)
        case "RMSprop": RMSprop()
        default: RMSprop(alpha: 0.9, epsilon: 1e-6, weightDecay: 0.05, momentum: 0.8, centered: true)
        }
        var model = WeightAndBias(weight: fixtures.tensor("weight"), bias: fixtures.tensor("bias"))
        for (step, expected) in fixtures.optimizers[name]!.enumerated() {
            optimizer.learningRate = fixtures.rates[step]
            optimizer.update(&model, along: fixtures.gradients(at: step))
            expectClose(model.weight.scalars, expected["weight"]!, "\(name), step \(step), weight")
            expectClose(model.bias.scalars, expected["bias"]!, "\(name), step \(step), bias")
        }
    }

    @Test func clippingMatchesPyTorch() {
        let gradients = fixtures.gradients(at: 2)
        for (name, clipping) in [("norm 1", GradientClipping<Double>.globalNorm(1)), ("norm 100", .globalNorm(100)), ("value 0.5", .value(0.5))] {
            let expected = fixtures.clipping[name]!
            if let norm = expected.norm { expectClose([gradients.globalNorm.scalar], [norm], "\(name): the norm") }
            for (clipped, values) in zip(gradients.clipped(clipping).tensors, expected.gradients) {
                expectClose(clipped.scalars, values, name)
            }
        }
    }

    @Test func theScheduleIsNanoGPTs() {
        let schedule = WarmupCosineSchedule(peak: 1e-3, floor: 1e-4, warmupIterations: 100, decayIterations: 2000)
        expectClose(fixtures.schedule.iterations.map { schedule($0) }, fixtures.schedule.rates, "get_lr")
    }

    /// The tensor-math optimizers inside a replayed step: the eager update to the bit, clipped,
    /// with the learning rate changed every step, and no allocation once replaying.
    @Test(arguments: [0, 1])
    func tensorMathOptimizersReplayAsEager(_ which: Int) {
        let traced = sharedLayerNetwork(seed: 21)
        var eager = sharedLayerNetwork(seed: 21)
        let (x, w) = (random([3, 4], seed: 22), random([3, 6], seed: 23))
        let loss = { (model: Sequential<Double>, x: Tensor<Double>, w: Tensor<Double>) in (model(x) * w).sum() }
        let stepper = TracedGradient(of: traced, loss)
        stepper.clipping = .globalNorm(0.5)
        let make: () -> any Optimizer<Double> = {
            which == 0 ? AdamW(weightDecay: 0.1, decays: AdamW<Double>.decaysMatrices) : RMSprop(momentum: 0.5, centered: true)
        }
        var (optimizer1, optimizer2) = (make(), make())
        let schedule = WarmupCosineSchedule(peak: 0.01, floor: 0.001, warmupIterations: 2, decayIterations: 5)
        for step in 0..<6 {
            (optimizer1.learningRate, optimizer2.learningRate) = (schedule(step), schedule(step))
            let before = nabla_thread_allocation_count()
            let value = stepper.step(x, w, optimizer: &optimizer1)
            if step == 5 && isOptimizedBuild { #expect(nabla_thread_allocation_count() == before, "a replayed step allocated") }
            let (reference, gradients) = valueWithGradient(at: eager) { loss($0, x, w) }
            optimizer2.update(&eager, along: gradients.clipped(.globalNorm(0.5)))
            #expect(value == reference, "step \(step)")
        }
        #expect(stepper.eagerReason == nil, "\(stepper.eagerReason ?? "")")
        #expect(traced.parameterValues == eager.parameterValues)
    }
}
