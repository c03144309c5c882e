import CAllocationCounter
import Nabla
import Testing

// What a user of Nabla writes in a package of their own: ops and layers built on Nabla's public
// interface alone (no @testable import), which must differentiate and replay like Nabla's own.

/// Swish, y = x·σ(x), as a user's op: the forward pass over storage, the gradient beside it.
struct Swish<Scalar: TensorScalar>: TensorOperation {
    let count: Int

    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y) = (buffers.input(0), buffers.output)
        for i in 0..<count { y[i] = x[i] / (1 + .exp(-x[i])) }
    }

    /// dy/dx = σ(x) + y·(1 − σ(x)), written with Nabla's ops.
    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let s = sigmoid(call.inputs[0])
        return [g * (s + call.output * (1 - s))]
    }
}

/// A source of random numbers that ops share by reference, so that a replayed step draws afresh.
final class RandomStream: @unchecked Sendable {
    var generator: SeededGenerator
    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }
}

/// Keeps each element with probability `keep` and zeroes the rest, drawing a new mask at every
/// launch: the shape of dropout. The mask is saved for the gradient.
struct RandomMask<Scalar: TensorScalar>: TensorOperation {
    let count: Int
    let keep: Double
    let stream: RandomStream

    var savedCount: Int { count }

    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y, mask) = (buffers.input(0), buffers.output, buffers.saved)
        for i in 0..<count {
            mask[i] = stream.generator.nextUniform() < keep ? 1 : 0
            y[i] = x[i] * mask[i]
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        [g * call.saved.reshaped(to: g.shape)]
    }
}

/// Adds one to a one-element counter in place.
struct Increment<Scalar: TensorScalar>: TensorOperation {
    func forward(_ buffers: OperationBuffers<Scalar>) { buffers.updating(0)[0] += 1 }
}

/// A layer with a mode and state: in training it masks its input at random and counts its calls;
/// in inference it passes the input through, scaled by the keep probability.
struct CountingDropout: Layer {
    let keep: Double
    let stream: RandomStream
    @LayerState var calls = Tensor<Double>(zeros: [1])

    init(keep: Double, seed: UInt64) {
        (self.keep, stream) = (keep, RandomStream(seed: seed))
    }

    func callAsFunction(_ x: Tensor<Double>) -> Tensor<Double> {
        guard LayerMode.current == .training else { return x * keep }
        $calls.update(Increment())
        return RandomMask(count: x.count, keep: keep, stream: stream)([x], shape: x.shape)
    }
}

/// A small network with the user's op and layer between Nabla's.
func userNetwork(seed: UInt64) -> Sequential<Double> {
    var rng = SeededGenerator(seed: seed)
    return Sequential<Double> {
        Dense(inputSize: 4, outputSize: 6, using: &rng)
        SwishLayer()
        CountingDropout(keep: 0.7, seed: seed)
        Dense(inputSize: 6, outputSize: 3, using: &rng)
    }
}

struct SwishLayer: Layer {
    func callAsFunction(_ x: Tensor<Double>) -> Tensor<Double> { Swish(count: x.count)([x], shape: x.shape) }
}

@Suite struct UserOpTests {
    @Test func aUserOpPassesTheGradientCheck() {
        var rng = SeededGenerator(seed: 1)
        let x = Tensor<Double>(randomNormal: [3, 4], using: &rng)
        let report = checkGradients(at: [x]) { Swish(count: 12)([$0[0]], shape: [3, 4]) }
        #expect(report.passed, "\(report)")
    }

    @Test func aUserLayerPassesTheLayerGradientCheck() {
        var rng = SeededGenerator(seed: 2)
        let layer = Sequential<Double> { Dense(inputSize: 4, outputSize: 3, using: &rng); SwishLayer() }
        let report = checkGradients(of: layer, at: Tensor(randomNormal: [2, 4], using: &rng))
        #expect(report.passed, "\(report)")
    }

    /// User ops, a random mask drawn afresh each step, a mode and a state: the replayed steps
    /// give the eager steps' costs, parameters and states to the bit, and allocate nothing.
    @Test func aStepWithUserOpsRandomnessAndStateReplaysAsEager() {
        let (traced, eager) = (userNetwork(seed: 3), userNetwork(seed: 3))
        var rng = SeededGenerator(seed: 4)
        let x = Tensor<Double>(randomNormal: [5, 4], using: &rng), y = Tensor<Double>(randomNormal: [5, 3], using: &rng)
        let loss = { (model: Sequential<Double>, x: Tensor<Double>, y: Tensor<Double>) in QuadraticLoss()(model(x), y) }
        let stepper = TracedGradient(of: traced, loss)
        var (adam1, adam2) = (Adam<Double>(learningRate: 0.01), Adam<Double>(learningRate: 0.01))
        var eagerModel = eager
        var values: [Double] = []
        for step in 0..<5 {
            let before = nabla_thread_allocation_count()
            let value = stepper.step(x, y, optimizer: &adam1)
            #if !DEBUG  // a debug build allocates for closures the optimiser keeps on the stack
            if step >= 2 { #expect(nabla_thread_allocation_count() == before, "step \(step) allocated") }
            #endif
            let (reference, gradients) = withLayerMode(.training) { valueWithGradient(at: eager) { loss($0, x, y) } }
            adam2.update(&eagerModel, along: gradients)
            #expect(value == reference, "step \(step)")
            values.append(value.scalar)
        }
        #expect(stepper.eagerReason == nil, "\(stepper.eagerReason ?? "")")
        #expect(traced.parameterValues == eager.parameterValues)
        #expect(traced.states.map(\.state.wrappedValue) == eager.states.map(\.state.wrappedValue))
        #expect(traced.states.first?.state.wrappedValue == Tensor([5]), "the counter counts every replayed step")
        #expect(Set(values).count == values.count, "each step draws a new mask and trains")
        // In inference the layer is deterministic and changes no state.
        let calls = traced.states[0].state.wrappedValue
        #expect(traced(x) == traced(x))
        #expect(traced.states[0].state.wrappedValue == calls)
    }
}
