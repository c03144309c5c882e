import Nabla
import Testing

@Suite struct LossTests {
    @Test func quadraticLossIsTheBooksCost() {
        // Two examples: ½‖(1, 2) − (0, 0)‖² = 2.5 and ½‖(0, 1) − (0, 0)‖² = 0.5; mean 1.5.
        let output = Tensor<Double>([1, 2, 0, 1], shape: [2, 2])
        #expect(QuadraticLoss()(output, Tensor(zeros: [2, 2])).scalar == 1.5)
        // Its gradient is (a − y)/m, not (a − y)/(m·classes).
        let g = gradient(at: output) { QuadraticLoss()($0, Tensor(zeros: [2, 2])) }
        #expect(g.scalars == [0.5, 1, 0, 0.5])
    }

    @Test func crossEntropyValues() {
        let z = Tensor<Double>([0, 2], shape: [1, 2]), y = Tensor<Double>([1, 0], shape: [1, 2])
        // −ln σ(0) − ln(1 − σ(2)) = ln 2 + ln(1 + e²)
        expectClose(SigmoidCrossEntropyLoss()(z, y).scalars, [Double.log(2) + Double.log(1 + Double.exp(2))], tolerance: 1e-12)
        // −ln softmax(0, 2)₀ = ln(1 + e²)
        expectClose(SoftmaxCrossEntropyLoss()(z, y).scalars, [Double.log(1 + Double.exp(2))], tolerance: 1e-12)
    }

    @Test func crossEntropyIsFiniteForLargeLogits() {
        let z = Tensor<Float>([1000, -1000], shape: [1, 2]), y = Tensor<Float>([0, 1], shape: [1, 2])
        #expect(SigmoidCrossEntropyLoss()(z, y).scalar == 2000)
        #expect(SoftmaxCrossEntropyLoss()(z, y).scalar == 2000)
    }

    @Test func lossesAreGradientChecked() {
        let output = random([4, 3], seed: 1), target = sigmoid(random([4, 3], seed: 2))
        let losses: [any Loss<Double>] = [QuadraticLoss(), SigmoidCrossEntropyLoss(), SoftmaxCrossEntropyLoss()]
        for loss in losses {
            let report = checkGradients(at: [output, target], names: ["output", "target"]) { loss($0[0], $0[1]) }
            #expect(report.passed, "\(type(of: loss)): \(report)")
        }
    }

    @Test func fusedCrossEntropyEqualsItsCompositionFromPrimitives() {
        // The fused primitive against the same cost written with tensor ops, logits up to ±60.
        let z = random([5, 4], seed: 3, scale: 20), y = sigmoid(random([5, 4], seed: 4))
        let composed = { (z: Tensor<Double>, y: Tensor<Double>) in
            (relu(z) + log(1 + exp(-abs(z))) - z * y).sum() / 5
        }
        let (fused, fusedGradients) = valueWithGradient(at: z, y) { SigmoidCrossEntropyLoss()($0, $1) }
        let (reference, referenceGradients) = valueWithGradient(at: z, y, in: composed)
        expectClose(fused.scalars, reference.scalars, tolerance: 1e-12)
        expectClose(fusedGradients.0.scalars, referenceGradients.0.scalars, tolerance: 1e-12)
        expectClose(fusedGradients.1.scalars, referenceGradients.1.scalars, tolerance: 1e-12)
    }
}
