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

/// The guides' code, run: Docs/WritingALayer.md and Docs/GettingStarted.md.
@Suite struct GuideTests {
    @Test func scaledDenseGradients() {
        var rng = SeededGenerator(seed: 1)
        let layer = ScaledDense(inputSize: 4, outputSize: 3, using: &rng)
        let x = Tensor<Double>(randomNormal: [5, 4], using: &rng)
        let report = checkGradients(at: [x, layer.weight, layer.bias, layer.gain],
                                    names: ["x", "weight", "bias", "gain"]) { t in
            (matmul(t[0], t[1], transposingB: true) + t[2]) * (t[3] + 0.01)
        }
        #expect(report.passed, "\(report)")
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
