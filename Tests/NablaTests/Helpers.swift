import Nabla
import Testing

/// A Double tensor of `shape` with seeded normal values.
func random(_ shape: [Int], seed: UInt64, scale: Double = 1) -> Tensor<Double> {
    var rng = SeededGenerator(seed: seed)
    return Tensor(randomNormal: shape, standardDeviation: scale, using: &rng)
}

/// Expects two arrays to agree element by element within `tolerance`.
func expectClose<S: TensorScalar>(
    _ actual: [S], _ expected: [S], tolerance: S = 1e-6,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.count == expected.count, "\(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    for (i, (a, e)) in zip(actual, expected).enumerated() where abs(a - e) > tolerance {
        Issue.record("element \(i): \(a), expected \(e)", sourceLocation: sourceLocation)
        return
    }
}

/// Gradient-checks `body` at `inputs` with the default (PyTorch) tolerances.
func expectGradientsCorrect(
    at inputs: [Tensor<Double>], sourceLocation: SourceLocation = #_sourceLocation,
    _ body: ([Tensor<Double>]) -> Tensor<Double>
) {
    let report = checkGradients(at: inputs, of: body)
    #expect(report.passed, "\(report)", sourceLocation: sourceLocation)
}
