import Nabla
import Testing

/// A custom layer is its forward pass and its @Parameter properties, nothing else.
struct Scale: Layer {
    @Parameter var factor: Tensor<Double>
    @Constant var offset = Tensor<Double>([0.5])
    func callAsFunction(_ x: Tensor<Double>) -> Tensor<Double> { x * factor + offset }
}

/// A layer with layers inside, found through properties and arrays.
struct Block: Layer {
    var inner: Dense<Double>
    var extra: [Scale]
    func callAsFunction(_ x: Tensor<Double>) -> Tensor<Double> { extra.reduce(inner(x)) { $1($0) } }
}

/// A layer that forgot to mark its tensor.
struct Forgetful: Layer {
    var weight = Tensor<Double>(ones: [2])
    func callAsFunction(_ x: Tensor<Double>) -> Tensor<Double> { x * weight }
}

@Suite struct LayerTests {
    @Test func layerNormIsItsCompositeToTheBitAndItsGradientToRounding() {
        // One op against normalisation, gain and bias as three: the same values in Float, and
        // gradients that differ only by rounding, with and without a bias.
        let x = Tensor<Float>(converting: random([12, 64, 128], seed: 50, scale: 3))
        let (w, b) = (Tensor<Float>(converting: random([128], seed: 51)), Tensor<Float>(converting: random([128], seed: 52)))
        let upstream = Tensor<Float>(converting: random([12, 64, 128], seed: 53))
        for bias in [b, nil] {
            let inputs = [x, w] + (bias.map { [$0] } ?? [])
            let (fused, fusedPullback) = valueWithPullback(at: inputs) { layerNorm($0[0], weight: $0[1], bias: $0.count > 2 ? $0[2] : nil, epsilon: 1e-5) }
            let (composite, compositePullback) = valueWithPullback(at: inputs) { t in
                let scaled = t[0].normalizedAlongLastAxis(epsilon: 1e-5) * t[1]
                return t.count > 2 ? scaled + t[2] : scaled
            }
            #expect(sameBits(fused.scalars, composite.scalars), "bias \(bias != nil)")
            for (g, h) in zip(fusedPullback(upstream), compositePullback(upstream)) {
                expectClose(g.scalars, h.scalars, tolerance: 2e-3)
            }
        }
    }

    @Test func sequentialNamesParametersByPosition() {
        var rng = SeededGenerator(seed: 1)
        let deep = true
        let model = Sequential<Float> {
            Dense(inputSize: 4, outputSize: 3, using: &rng)
            Sigmoid()
            for _ in 0..<2 { Dense(inputSize: 3, outputSize: 3, using: &rng); Tanh() }
            if deep { ReLU() } else { Softmax() }
            Dense(inputSize: 3, outputSize: 2, using: &rng)
        }
        #expect(model.layers.count == 8)
        #expect(model.parameters.map(\.name) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias", "7.weight", "7.bias"])
        #expect(model.parameters[0].parameter.wrappedValue.shape == [3, 4])
        #expect(model.parameterCount == 15 + 12 + 12 + 8)
        #expect(model(Tensor(zeros: [5, 4])).shape == [5, 2])
    }

    @Test func customAndNestedLayersAreFound() {
        var rng = SeededGenerator(seed: 2)
        let block = Block(inner: Dense(inputSize: 2, outputSize: 2, using: &rng),
                          extra: [Scale(factor: Tensor([2])), Scale(factor: Tensor([3]))])
        #expect(block.parameters.map(\.name) == ["inner.weight", "inner.bias", "extra.0.factor", "extra.1.factor"])
        let (_, grads) = valueWithGradient(at: block) { $0(Tensor(ones: [1, 2])).sum() }
        #expect(grads.names == block.parameters.map(\.name))
    }

    @Test func sharedParametersAreListedOnce() {
        let shared = Scale(factor: Tensor([2]))
        let model = Sequential<Double> { shared; shared }
        #expect(model.parameters.map(\.name) == ["0.factor"])
        // d/dk (x·k + ½)·k + ½ = 2xk + ½ at x = 1, k = 2.
        let (_, grads) = valueWithGradient(at: model) { $0(Tensor([1], shape: [1, 1])).sum() }
        #expect(grads["0.factor"]?.scalars == [4.5])
    }

    @Test func anUnmarkedTensorIsAnError() async {
        await #expect(processExitsWith: .failure) { _ = Forgetful().parameters }
    }

    @Test func denseComputesXWTransposedPlusB() {
        let dense = Dense<Double>(weight: Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]), bias: Tensor([10, 20]))
        #expect(dense(Tensor([1, 1, 1, 0, 1, 0], shape: [2, 3])).scalars == [16, 35, 12, 25])
    }

    @Test func layersAreGradientChecked() {
        var rng = SeededGenerator(seed: 3)
        let dense = Dense<Double>(inputSize: 4, outputSize: 3, using: &rng)
        let x = random([5, 4], seed: 4)
        let report = checkGradients(at: [x, dense.weight, dense.bias!], names: ["x", "weight", "bias"]) { t in
            Dense(weight: t[1], bias: t[2])(t[0])
        }
        #expect(report.passed, "\(report)")
        let layers: [any Layer<Double>] = [Sigmoid(), Tanh(), ReLU(), Softmax(), Scale(factor: Tensor([1.5]))]
        for layer in layers {
            let input = x.map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 }  // off relu's kink
            let report = checkGradients(at: [input]) { layer($0[0]) }
            #expect(report.passed, "\(type(of: layer)): \(report)")
        }
    }

    @Test func modelGradientsMatchTensorGradients() {
        var rng = SeededGenerator(seed: 5)
        let model = Sequential<Double> { Dense(inputSize: 3, outputSize: 2, using: &rng); Sigmoid() }
        let x = random([4, 3], seed: 6), y = random([4, 2], seed: 7)
        let (loss, grads) = valueWithGradient(at: model) { QuadraticLoss()($0(x), y) }
        let w = model.parameters[0].parameter.wrappedValue, b = model.parameters[1].parameter.wrappedValue
        let (loss2, direct) = valueWithGradient(at: [w, b]) { t in
            QuadraticLoss()(sigmoid(matmul(x, t[0], transposingB: true) + t[1]), y)
        }
        #expect(loss == loss2 && grads["0.weight"] == direct[0] && grads["0.bias"] == direct[1])
        // The model's own parameters are untouched and untracked afterwards.
        #expect(model.parameters[0].parameter.wrappedValue == w && !model.parameters[0].parameter.wrappedValue.isTracked)
    }

    @Test(arguments: ["standardNormal", "scaledNormal", "glorotUniform", "heNormal", "kaimingNormal"])
    func initializersHaveTheirVariance(name: String) {
        let initializer: Initializer<Double> = switch name {
        case "standardNormal": .standardNormal
        case "scaledNormal": .scaledNormal
        case "glorotUniform": .glorotUniform
        case "kaimingNormal": .kaimingNormal(gain: 5 / 3)
        default: .heNormal
        }
        let expected: Double = switch name {
        case "standardNormal": 1
        case "scaledNormal": 1.0 / 400
        case "glorotUniform": 2.0 / (400 + 100)   // a²/3 with a² = 6/(n_in + n_out)
        case "kaimingNormal": 25.0 / 9 / 400
        default: 2.0 / 400
        }
        var rng = SeededGenerator(seed: 9)
        let w = initializer.make([100, 400], 400, 100, &rng)
        let variance = w.squared().mean().scalar
        #expect(abs(variance / expected - 1) < 0.05, "variance \(variance), expected \(expected)")
        var again = SeededGenerator(seed: 9)
        #expect(initializer.make([100, 400], 400, 100, &again) == w)
    }
}
