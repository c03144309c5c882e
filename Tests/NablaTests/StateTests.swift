import Foundation
import Nabla
import Testing

/// What a model and an optimizer keep between steps, and what differentiating them must not touch.
@Suite struct StateTests {
    func temporaryPath(_ name: String) -> String {
        NSTemporaryDirectory() + "\(name)-\(UInt64.random(in: 0 ... .max)).safetensors"
    }

    /// Training resumed from a checkpoint of the model and of Adam's state takes the same steps,
    /// to the bit, as training that never stopped.
    @Test func adamResumesFromItsSavedState() throws {
        let data = (0..<6).map { (random([4, 784], seed: UInt64($0)), random([4, 10], seed: UInt64($0) + 50)) }
        let loss = { (model: Sequential<Double>, x: Tensor<Double>, y: Tensor<Double>) in QuadraticLoss()(model(x), y) }
        let unbroken = bookNetwork(Double.self, seed: 3)
        var adam = Adam<Double>(learningRate: 0.01)
        let stepper = TracedGradient(of: unbroken, loss)
        for (x, y) in data { stepper.step(x, y, optimizer: &adam) }

        let first = bookNetwork(Double.self, seed: 3)
        var firstAdam = Adam<Double>(learningRate: 0.01)
        let firstStepper = TracedGradient(of: first, loss)
        for (x, y) in data.prefix(3) { firstStepper.step(x, y, optimizer: &firstAdam) }
        let (modelPath, statePath) = (temporaryPath("model"), temporaryPath("adam"))
        defer { for path in [modelPath, statePath] { try? FileManager.default.removeItem(atPath: path) } }
        try first.save(to: modelPath)
        try firstAdam.saveState(to: statePath)

        let resumed = bookNetwork(Double.self, seed: 99)
        try resumed.load(from: modelPath)
        var resumedAdam = Adam<Double>(learningRate: 0.5)  // the learning rate comes back too
        try resumedAdam.loadState(from: statePath)
        #expect(resumedAdam.learningRate == 0.01)
        let resumedStepper = TracedGradient(of: resumed, loss)
        for (x, y) in data.suffix(3) { resumedStepper.step(x, y, optimizer: &resumedAdam) }
        #expect(resumed.parameterValues == unbroken.parameterValues)
    }

    @Test func anOptimizerRefusesAnotherOptimizersState() throws {
        let path = temporaryPath("sgd")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SGD<Float>(learningRate: 1, momentum: 0.9).saveState(to: path)
        var adam = Adam<Float>()
        #expect { try adam.loadState(from: path) } throws: { "\($0)".contains("holds the state of SGD, not of Adam") }
    }

    @Test func stateForAnotherModelIsRefusedNamingTheParameter() throws {
        let path = temporaryPath("momentum")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let wide = bookNetwork(Double.self, seed: 5, hidden: 40)
        var sgd = SGD<Double>(learningRate: 0.1, momentum: 0.9)
        let (_, gradients) = valueWithGradient(at: wide) { QuadraticLoss()($0(random([2, 784], seed: 6)), random([2, 10], seed: 7)) }
        var model = wide
        sgd.update(&model, along: gradients)
        try sgd.saveState(to: path)
        var fresh = SGD<Double>(learningRate: 0.1, momentum: 0.9)
        try fresh.loadState(from: path, for: wide)
        #expect(fresh.state.count == 4)
        var other = SGD<Double>(learningRate: 0.1, momentum: 0.9)
        #expect {
            try other.loadState(from: path, for: bookNetwork(Double.self, seed: 5, hidden: 30))
        } throws: { "\($0)".contains("holds a state of shapes [[40], [1]] for 0.bias, whose shape [30] needs [[30], [1]]") }
        #expect(other.state.isEmpty)
    }

    /// A schedule lowers the learning rate between replayed steps, and the replay follows it.
    @Test func aReplayedStepReadsTheCurrentLearningRate() {
        let (x, y) = (random([3, 784], seed: 1), random([3, 10], seed: 2))
        let loss = { (model: Sequential<Double>, x: Tensor<Double>, y: Tensor<Double>) in QuadraticLoss()(model(x), y) }
        let (replayed, eager) = (bookNetwork(Double.self, seed: 4), bookNetwork(Double.self, seed: 4))
        var eagerModel = eager
        var (sgd1, sgd2) = (SGD<Double>(learningRate: 1), SGD<Double>(learningRate: 1))
        let stepper = TracedGradient(of: replayed, loss)
        for rate in [1.0, 0.5, 0.25, 0] {
            sgd1.learningRate = rate
            sgd2.learningRate = rate
            stepper.step(x, y, optimizer: &sgd1)
            sgd2.update(&eagerModel, along: valueWithGradient(at: eager) { loss($0, x, y) }.gradients)
            #expect(replayed.parameterValues == eager.parameterValues, "η = \(rate)")
        }
    }

    /// While one thread differentiates a model, another reads its parameters as they are: the
    /// tracked values stand in on the differentiating thread only.
    @Test func differentiatingChangesNothingOtherThreadsSee() {
        let model = bookNetwork(Double.self, seed: 5)
        let weight = model.parameters[0].parameter
        let x = random([2, 784], seed: 6)
        let elsewhere = TrackedOnAnotherThread(weight)
        _ = valueWithGradient(at: model) { model in
            #expect(weight.wrappedValue.isTracked, "this thread reads the stand-in")
            elsewhere.look()
            return model(x).sum()
        }
        #expect(elsewhere.tracked == false)
        #expect(!weight.wrappedValue.isTracked)
    }

    @Test func layersRunInInferenceUnlessTold() {
        #expect(LayerMode.current == .inference)
        withLayerMode(.training) {
            #expect(LayerMode.current == .training)
            withLayerMode(.inference) { #expect(LayerMode.current == .inference) }
            #expect(LayerMode.current == .training)
        }
        #expect(LayerMode.current == .inference)
    }
}

/// Reads a parameter on a thread of its own, and says whether it was tracked there.
final class TrackedOnAnotherThread: @unchecked Sendable {
    let parameter: Parameter<Double>
    var tracked: Bool?
    init(_ parameter: Parameter<Double>) { self.parameter = parameter }

    func look() {
        let done = DispatchSemaphore(value: 0)
        Thread { [self] in
            tracked = parameter.wrappedValue.isTracked
            done.signal()
        }.start()
        done.wait()
    }
}
