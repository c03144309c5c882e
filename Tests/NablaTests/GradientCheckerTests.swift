import Nabla
import Testing

/// The checker must catch wrong gradients, or every other gradient test means nothing.
@Suite struct GradientCheckerTests {
    /// y = factor·sin(x), element-wise, as a user's op: its gradient claims the derivative is
    /// `derivative(x)`, right or wrong.
    struct Sine: TensorOperation {
        let count: Int
        var factor = 1.0
        let derivative: @Sendable (Double) -> Double

        func forward(_ buffers: OperationBuffers<Double>) {
            for i in 0..<count { buffers.output[i] = factor * .sin(buffers.input(0)[i]) }
        }

        func gradients(_ g: Tensor<Double>, of call: OperationCall<Double>) -> [Tensor<Double>?] {
            [g * call.inputs[0].map(derivative)]
        }
    }

    /// sin(x) with a deliberately wrong gradient: it claims the derivative is sin(x), not cos(x).
    func wrongSine(_ x: Tensor<Double>) -> Tensor<Double> {
        Sine(count: x.count) { .sin($0) }([x], shape: x.shape)
    }

    @Test func aWrongPullbackFailsAndIsNamed() {
        let x = Tensor<Double>([0.3, 1.2, -0.7], shape: [3])
        let report = checkGradients(at: [x], names: ["angle"]) { wrongSine($0[0]) }
        #expect(!report.passed)
        #expect(report.mismatches.count == 3)
        let first = report.mismatches[0]
        #expect(first.input == "angle" && first.element == [0])
        #expect(abs(first.numeric - Double.cos(0.3)) < 1e-6 && abs(first.analytic - Double.sin(0.3)) < 1e-12)
        #expect(report.description.contains("FAILED") && report.description.contains("angle element [0]"))
        #expect(report.worstRelativeError > 0.5)
    }

    @Test func aWrongPullbackFailsInDirectionalMode() {
        let x = random([50], seed: 1)
        let report = checkGradients(at: [x], directions: 3) { wrongSine($0[0]).sum() }
        #expect(!report.passed && report.mismatches.first?.direction == 0)
    }

    @Test func aCorrectPullbackPasses() {
        let x = Tensor<Double>([0.3, 1.2, -0.7])
        let right = checkGradients(at: [x]) { t in Sine(count: 3) { .cos($0) }([t[0]], shape: [3]) }
        #expect(right.passed, "\(right)")
        #expect(right.comparisons == 9)
    }

    @Test func tolerancesAreHonoured() {
        // A gradient off by 1e-4 relative passes at rtol 1e-3 and fails at rtol 1e-6.
        let x = Tensor<Double>([0.2])
        // 3·sin(x) near x = 0 with the derivative 3.0003·cos(x).
        let slightlyOff: ([Tensor<Double>]) -> Tensor<Double> = { t in
            Sine(count: 1, factor: 3) { 3.0003 * .cos($0) }([t[0]], shape: [1])
        }
        #expect(checkGradients(at: [x], of: slightlyOff).passed)
        #expect(!checkGradients(at: [x], absoluteTolerance: 0, relativeTolerance: 1e-6, of: slightlyOff).passed)
    }
}

extension Tensor {
    /// Test helper: an untracked element-wise map (Nabla keeps its own `map` internal).
    func map(_ f: (Scalar) -> Scalar) -> Tensor { Tensor(scalars.map(f), shape: shape) }
}
