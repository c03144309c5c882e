import Nabla
import Testing

@Suite struct OptimizerTests {
    /// A one-parameter model, to step by hand.
    func model(_ value: [Double]) -> Scale { Scale(factor: Tensor(value)) }

    func step<O: Optimizer<Double>>(_ optimizer: inout O, _ m: inout Scale, gradient: [Double]) {
        optimizer.update(&m, along: Gradients(names: ["factor"], tensors: [Tensor(gradient)]))
    }

    @Test func plainSGDIsTheBooksStep() {
        // The book: w ← w − (η/m)·Σₓ∇Cₓ. With QuadraticLoss the loss gradient already is
        // (1/m)·Σₓ∇Cₓ, so SGD(η) subtracts exactly η times it.
        var rng = SeededGenerator(seed: 1)
        var net = Sequential<Double> { Dense(inputSize: 3, outputSize: 2, using: &rng); Sigmoid() }
        let x = random([5, 3], seed: 2), y = random([5, 2], seed: 3)
        let before = net.parameterValues
        var perExample: [String: Tensor<Double>] = [:]
        for i in 0..<5 {
            let (_, g) = valueWithGradient(at: net) { n in
                let a = n(x.rows(i..<i + 1))
                return (a - y.rows(i..<i + 1)).squared().sum() / 2   // Cₓ
            }
            for name in g.names { perExample[name] = perExample[name].map { $0 + g[name]! } ?? g[name]! }
        }
        let (_, batch) = valueWithGradient(at: net) { QuadraticLoss()($0(x), y) }
        var sgd = SGD<Double>(learningRate: 3)
        sgd.update(&net, along: batch)
        for (name, value) in net.parameterValues {
            expectClose(value.scalars, (before[name]! - perExample[name]! * (3.0 / 5)).scalars, tolerance: 1e-14)
        }
    }

    @Test func momentumNesterovAndWeightDecayFollowPyTorch() {
        var m = model([1])
        var sgd = SGD<Double>(learningRate: 0.1, momentum: 0.9, weightDecay: 0.5)
        step(&sgd, &m, gradient: [2])   // d = 2 + 0.5 = 2.5, b = 2.5, w = 1 − 0.25 = 0.75
        #expect(abs(m.factor.scalar - 0.75) < 1e-15)
        step(&sgd, &m, gradient: [2])   // d = 2.375, b = 0.9·2.5 + 2.375 = 4.625, w = 0.75 − 0.4625
        #expect(abs(m.factor.scalar - 0.2875) < 1e-15)

        var n = model([1])
        var nesterov = SGD<Double>(learningRate: 0.1, momentum: 0.5, nesterov: true)
        step(&nesterov, &n, gradient: [1])   // b = 1, d = 1 + 0.5 = 1.5, w = 0.85
        step(&nesterov, &n, gradient: [1])   // b = 1.5, d = 1 + 0.75 = 1.75, w = 0.675
        #expect(abs(n.factor.scalar - 0.675) < 1e-15)
    }

    @Test func adamFirstStepsByHand() {
        var m = model([1, -1])
        var adam = Adam<Double>(learningRate: 0.1)
        // Step 1: m̂ = g, v̂ = g², so each weight moves by η·g/(|g| + ε) ≈ η·sign(g).
        step(&adam, &m, gradient: [4, -0.5])
        expectClose(m.factor.scalars, [0.9, -0.9], tolerance: 1e-7)
        // Step 2 with g = 0: m = 0.9·0.1·g₁, m̂ = m/0.19; v = 0.999·0.001·g₁², v̂ = v/0.001999.
        let afterFirst = m.factor.scalars[0]
        step(&adam, &m, gradient: [0, 0])
        let mhat = 0.9 * 0.1 * 4 / 0.19, vhat = 0.999 * 0.001 * 16 / (1 - 0.999 * 0.999)
        expectClose([m.factor.scalars[0]], [afterFirst - 0.1 * mhat / (vhat.squareRoot() + 1e-8)], tolerance: 1e-12)
    }

    @Test func momentsDecayingIntoSubnormalsBecomeZeroAndNaNStays() {
        // Moments one step from the subnormal range, with a zero gradient: 0.9·m and 0.999·v fall
        // below the smallest normal number and are stored as zero; the weight does not move.
        let smallest = Double.leastNormalMagnitude
        var m = model([1, 2])
        var adam = Adam<Double>(learningRate: 0.1)
        step(&adam, &m, gradient: [0, 0])
        adam.state["factor"] = [Tensor([smallest, 1]), Tensor([smallest, 1]), Tensor([1])]
        step(&adam, &m, gradient: [0, .nan])
        #expect(adam.state["factor"]![0].scalars[0] == 0 && adam.state["factor"]![1].scalars[0] == 0)
        #expect(m.factor.scalars[0] == 1)
        #expect(adam.state["factor"]![0].scalars[1].isNaN && adam.state["factor"]![1].scalars[1].isNaN)
        #expect(m.factor.scalars[1].isNaN)

        var n = model([1, 2])
        var sgd = SGD<Double>(learningRate: 0.1, momentum: 0.9)
        step(&sgd, &n, gradient: [0, 0])
        sgd.state["factor"]![0] = Tensor([smallest, 1])
        step(&sgd, &n, gradient: [0, .infinity])
        #expect(sgd.state["factor"]![0].scalars == [0, .infinity])
        #expect(n.factor.scalars == [1, -.infinity])
    }

    #if arch(x86_64)
    /// On x86 the stateful updates run in the processor's flush-to-zero and denormals-are-zero
    /// modes, as with PyTorch's `torch.set_flush_denormal(True)`: a subnormal gradient counts as
    /// zero, and so does a product that falls below the smallest normal number on the way. The
    /// caller's own arithmetic keeps its subnormals afterwards.
    @Test func statefulUpdatesFlushSubnormalsOnTheWay() {
        let (m0, v0): (Float, Float) = (1e-37, 2e-38)
        let adam = Adam<Float>(learningRate: 0.001), tiny = Float.leastNormalMagnitude / 128
        var w = Tensor<Float>([1, 1])
        var state = [Tensor<Float>([m0, m0]), Tensor<Float>([v0, v0]), Tensor<Float>([0])]
        // Element 0: (1 − β2)·d² = 1e-43, subnormal; kept, it would add ~70 ulps to β2·v.
        // Element 1: d is subnormal; kept, it would add over a thousand ulps to β1·m.
        adam.update(&w, state: &state, along: Tensor([1e-20, tiny]))
        #expect(state[1].scalars == [adam.beta2 * v0, adam.beta2 * v0])
        #expect(state[0].scalars[1] == adam.beta1 * m0)

        let sgd = SGD<Float>(learningRate: 0.1, momentum: 0.9)
        var u = Tensor<Float>([1])
        var velocity = [Tensor<Float>([m0]), Tensor<Float>([1])]
        sgd.update(&u, state: &velocity, along: Tensor([tiny]))
        #expect(velocity[0].scalars == [sgd.momentum * m0])

        let stored = state[1].scalars[0]  // a value the compiler cannot fold
        #expect(stored / 4 != 0 && (stored / 4).isSubnormal)
    }
    #endif

    @Test func optimizersReduceALoss() {
        var rng = SeededGenerator(seed: 4)
        let x = random([20, 3], seed: 5), y = sigmoid(random([20, 2], seed: 6))
        func train<O: Optimizer<Double>>(_ optimizer: O) -> (Double, Double) {
            var optimizer = optimizer
            var net = Sequential<Double> { Dense(inputSize: 3, outputSize: 2, using: &rng); Sigmoid() }
            let first = QuadraticLoss()(net(x), y).scalar
            for _ in 0..<200 {
                let (_, g) = valueWithGradient(at: net) { QuadraticLoss()($0(x), y) }
                optimizer.update(&net, along: g)
            }
            return (first, QuadraticLoss()(net(x), y).scalar)
        }
        for (first, last) in [train(SGD(learningRate: 1)), train(SGD(learningRate: 0.5, momentum: 0.9)), train(Adam(learningRate: 0.05))] {
            #expect(last < first / 2, "loss went from \(first) to \(last)")
        }
    }
}
