import CNablaKernels
import Foundation
import Nabla
import Testing

/// A Double tensor of `shape` with seeded normal values.
func random(_ shape: [Int], seed: UInt64, scale: Double = 1) -> Tensor<Double> {
    var rng = SeededGenerator(seed: seed)
    return Tensor(randomNormal: shape, standardDeviation: scale, using: &rng)
}

/// Whether two arrays hold the same values to the bit: zeros of the same sign, NaN where the other
/// has NaN (whatever its payload).
func sameBits<S: BinaryFloatingPoint>(_ x: [S], _ y: [S]) -> Bool {
    x.count == y.count && zip(x, y).allSatisfy { $0.isNaN ? $1.isNaN : $0 == $1 && $0.sign == $1.sign }
}

/// `body`'s result on this thread's detected kernels, then with them limited to AVX2's: the two
/// paths a processor with AVX-512F runs, for tests that they agree to the bit.
func onDetectedAndAVX2Paths<R>(_ body: () -> R) -> (detected: R, avx2: R) {
    let detected = body()
    nabla_limit_kernels(NABLA_ISA_AVX2)
    defer { nabla_limit_kernels(-1) }
    return (detected, body())
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

/// A copy of `tensor` in storage of its own. A plain copy shares the storage until one side is
/// written (copy-on-write), so it cannot show that code wrote through a tensor it was lent.
func independentCopy<S: TensorScalar>(_ tensor: Tensor<S>) -> Tensor<S> {
    Tensor(tensor.scalars.map { $0 }, shape: tensor.shape)
}

/// The book's 784-hidden-10 sigmoid network, N(0, 1) initialised from `seed`.
func bookNetwork<S: TensorScalar>(_: S.Type, seed: UInt64, hidden: Int = 30) -> Sequential<S> {
    var rng = SeededGenerator(seed: seed)
    return Sequential<S> {
        Dense(inputSize: 784, outputSize: hidden, using: &rng)
        Sigmoid()
        Dense(inputSize: hidden, outputSize: 10, using: &rng)
        Sigmoid()
    }
}

/// A 4-6-6-6 network that applies one 6-6 Dense layer twice (its parameters read by two ops),
/// with tanh, ReLU and sigmoid between: every activation primitive, and gradients that add up.
func sharedLayerNetwork(seed: UInt64) -> Sequential<Double> {
    var rng = SeededGenerator(seed: seed)
    let shared = Dense<Double>(inputSize: 6, outputSize: 6, using: &rng)
    return Sequential<Double> {
        Dense(inputSize: 4, outputSize: 6, using: &rng)
        Tanh()
        shared
        ReLU()
        shared
        Sigmoid()
    }
}

/// Runs a Python 3 script (an independent implementation that writes a fixture) with
/// `arguments`, and returns what it printed. The test stops if Python fails.
@discardableResult
func runPython(_ script: String, _ arguments: [String]) throws -> String {
    let process = Process()
    let output = Pipe()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    process.standardOutput = output
    try process.run()
    let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "python3 failed to run the fixture script")
    return printed
}
