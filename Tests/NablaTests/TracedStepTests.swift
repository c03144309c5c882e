import CNablaKernels
import Nabla
import NablaData
import Testing

/// `TracedGradient.step(_:_:optimizer:)` against its definition: the traced gradient, then
/// `optimizer.update(&model, along:)`. Plain SGD's update runs inside the reverse pass, yet the
/// two must agree to the bit, step after step.
@Suite struct TracedStepTests {
    /// Trains two copies of a model side by side, one through `step` and one through the gradient
    /// and a separate update, and expects the same values at every step and the same parameters
    /// at the end. Returns the stepped copy's tracer, to ask whether it replayed.
    @discardableResult
    func expectStepIsGradientThenUpdate<Model: Layer, O: Optimizer<Model.Scalar>>(
        _ makeModel: () -> Model, optimizer makeOptimizer: () -> O,
        batches: [(Tensor<Model.Scalar>, Tensor<Model.Scalar>)],
        _ function: @escaping (Model, Tensor<Model.Scalar>, Tensor<Model.Scalar>) -> Tensor<Model.Scalar>,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> TracedGradient<Model.Scalar> {
        var (stepped, separate) = (makeModel(), makeModel())
        var (optimizer1, optimizer2) = (makeOptimizer(), makeOptimizer())
        let stepper = TracedGradient(of: stepped, function), differentiator = TracedGradient(of: separate, function)
        for (x, y) in batches {
            let value = stepper.step(x, y, optimizer: &optimizer1)
            let (reference, gradients) = differentiator(x, y)
            optimizer2.update(&separate, along: gradients)
            #expect(value == reference, sourceLocation: sourceLocation)
        }
        #expect(stepped.parameterValues == separate.parameterValues, sourceLocation: sourceLocation)
        #expect(stepped.parameterValues != makeModel().parameterValues, "training changed nothing",
                sourceLocation: sourceLocation)
        return stepper
    }

    func batches<S: TensorScalar>(_: S.Type, sizes: [Int]) -> [(Tensor<S>, Tensor<S>)] {
        var start = 0
        return sizes.map { size in
            defer { start += size }
            let indices = Array(start ..< start + size)
            return (realMNIST.training.images(at: indices), realMNIST.training.oneHotLabels(at: indices))
        }
    }

    @Test(.needsMNIST) func theBooksStepInFloatUpdatesInsideTheReversePass() {
        let stepper = expectStepIsGradientThenUpdate(
            { bookNetwork(Float.self, seed: 1) }, optimizer: { SGD<Float>(learningRate: 3) },
            batches: batches(Float.self, sizes: [10, 10, 10, 7, 10, 7, 10, 10])) { model, x, y in
                QuadraticLoss()(model(x), y)
            }
        #expect(stepper.eagerReason == nil)
    }

    @Test(.needsMNIST) func theStepIsTheSameOnThePortablePath() {
        // Without fused multiply-adds, −rate·∂ is rounded before it meets W: in both forms alike.
        nabla_limit_kernels(NABLA_ISA_PORTABLE)  // on this thread only
        defer { nabla_limit_kernels(-1) }
        #expect(nabla_kernel_isa() == 0)
        expectStepIsGradientThenUpdate(
            { bookNetwork(Float.self, seed: 11) }, optimizer: { SGD<Float>(learningRate: 3) },
            batches: batches(Float.self, sizes: [10, 10, 7])) { model, x, y in QuadraticLoss()(model(x), y) }
    }

    @Test(.needsMNIST) func weightDecayTakesTheStepThroughTheGradient() {
        let stepper = expectStepIsGradientThenUpdate(
            { bookNetwork(Double.self, seed: 2) }, optimizer: { SGD<Double>(learningRate: 0.5, weightDecay: 0.01) },
            batches: batches(Double.self, sizes: [10, 10, 10])) { model, x, y in
                SigmoidCrossEntropyLoss()(model(x), y)
            }
        #expect(stepper.eagerReason == nil)
    }

    @Test func aParameterReadTwiceIsSteppedAfterItsGradientIsWhole() {
        // The shared layer's parameters are read by two ops, so neither may update them early.
        let data = (10..<13 as Range<UInt64>).map { (random([5, 4], seed: $0), random([5, 6], seed: $0 + 100)) }
        let stepper = expectStepIsGradientThenUpdate({ sharedLayerNetwork(seed: 3) },
                                                     optimizer: { SGD<Double>(learningRate: 0.7) },
                                                     batches: data) { model, x, y in QuadraticLoss()(model(x), y) }
        #expect(stepper.eagerReason == nil)
    }

    @Test func aProductsOtherGradientReadsTheParameterBeforeItsStep() {
        // In matmul(w, v), ∂w reads v: v's step must wait for it. w is read three times.
        let data = (30..<34 as Range<UInt64>).map { (random([5, 4], seed: $0), random([5, 3], seed: $0 + 10)) }
        let stepper = expectStepIsGradientThenUpdate({ TracedGradientTests.Products() },
                                                     optimizer: { SGD<Double>(learningRate: 2) },
                                                     batches: data) { model, x, y in QuadraticLoss()(model(x), y) }
        #expect(stepper.eagerReason == nil)
    }

    @Test(.needsMNIST) func optimizersWithStateAndEagerFunctionsTakeTheSameStep() {
        let data = batches(Double.self, sizes: [10, 10, 10])
        let loss = { (model: Sequential<Double>, x: Tensor<Double>, y: Tensor<Double>) in QuadraticLoss()(model(x), y) }
        expectStepIsGradientThenUpdate({ bookNetwork(Double.self, seed: 4) },
                                       optimizer: { SGD<Double>(learningRate: 1, momentum: 0.9, nesterov: true) },
                                       batches: data, loss)
        expectStepIsGradientThenUpdate({ bookNetwork(Double.self, seed: 5) },
                                       optimizer: { Adam<Double>(learningRate: 0.01) }, batches: data, loss)
        let composite = expectStepIsGradientThenUpdate(
            {
                var rng = SeededGenerator(seed: 6)
                return Sequential<Double> {
                    Dense(inputSize: 784, outputSize: 10, using: &rng)
                    Softmax()  // composed of exp, max, sum and division
                }
            }, optimizer: { SGD<Double>(learningRate: 3) }, batches: data, loss)
        #expect(composite.eagerReason == nil)
        let readsOnTheCPU = expectStepIsGradientThenUpdate(
            { bookNetwork(Double.self, seed: 7) }, optimizer: { SGD<Double>(learningRate: 3, momentum: 0.5) },
            batches: data) { model, x, y in
                // A branch on a value computed in the step: only an eager step can take it afresh.
                let output = model(x)
                return output.sum().scalar > 0 ? QuadraticLoss()(output, y) : QuadraticLoss()(output, y) * 2
            }
        #expect(readsOnTheCPU.eagerReason?.contains("reads a tensor's values on the CPU (scalar)") == true,
                "\(readsOnTheCPU.eagerReason ?? "nil")")
    }

    @Test(.needsMNIST) func parametersTheLossDoesNotUseStillDecay() {
        // Past one row, the loss uses the first layer only: the last layer's gradient is zero,
        // and weight decay alone must still shrink it, as the separate update does.
        let data = batches(Double.self, sizes: [1, 2, 1, 2])
        let stepper = expectStepIsGradientThenUpdate(
            { bookNetwork(Double.self, seed: 8) }, optimizer: { SGD<Double>(learningRate: 1, weightDecay: 0.1) },
            batches: data) { model, x, y in
                guard x.shape[0] > 1 else { return QuadraticLoss()(model(x), y) }
                let (w, b) = (model.parameters[0].parameter.wrappedValue, model.parameters[1].parameter.wrappedValue)
                let z = Tensor.affine(x, weight: w, bias: b)
                return QuadraticLoss()(sigmoid(z), tanh(z))
            }
        #expect(stepper.eagerReason == nil)
    }

    @Test(.needsMNIST) func aParameterCopyKeptByTheCallerIsNotWrittenThrough() {
        let model = bookNetwork(Float.self, seed: 9)
        let stepper = TracedGradient(of: model) { model, x, y in QuadraticLoss()(model(x), y) }
        var sgd = SGD<Float>(learningRate: 3)
        let (x, y) = batches(Float.self, sizes: [10])[0]
        stepper.step(x, y, optimizer: &sgd)  // traces
        let kept = model.parameterValues
        let keptCopy = kept.mapValues(independentCopy)
        stepper.step(x, y, optimizer: &sgd)  // replays, updating in place
        #expect(kept == keptCopy)
        #expect(model.parameterValues != kept)
    }
}
