import Nabla
import Testing

/// The checker must catch wrong gradients, or every other gradient test means nothing.
@Suite struct GradientCheckerTests {
    /// sin(x) with a deliberately wrong pullback: it claims the derivative is sin(x), not cos(x).
    func wrongSine(_ x: Tensor<Double>) -> Tensor<Double> {
        let y = x.map { Double.sin($0) }
        return y.recorded(from: x) { g in g * y }
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
        let right = checkGradients(at: [x]) { t in
            let y = t[0].map { Double.sin($0) }
            let input = t[0].detached
            return y.recorded(from: t[0]) { g in g * input.map { Double.cos($0) } }
        }
        #expect(right.passed, "\(right)")
        #expect(right.comparisons == 9)
    }

    @Test func tolerancesAreHonoured() {
        // A gradient off by 1e-4 relative passes at rtol 1e-3 and fails at rtol 1e-6.
        let x = Tensor<Double>([2])
        let slightlyOff: ([Tensor<Double>]) -> Tensor<Double> = { t in
            (t[0] * 3).map { $0 }.recorded(from: t[0]) { g in g * 3.0003 }
        }
        #expect(checkGradients(at: [x], of: slightlyOff).passed)
        #expect(!checkGradients(at: [x], absoluteTolerance: 0, relativeTolerance: 1e-6, of: slightlyOff).passed)
    }
}

extension Tensor {
    /// Test helper: an untracked element-wise map (Nabla keeps its own `map` internal).
    func map(_ f: (Scalar) -> Scalar) -> Tensor { Tensor(scalars.map(f), shape: shape) }
}
