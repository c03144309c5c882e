import CAllocationCounter
import Nabla
import Testing

/// One row of the op table: a differentiable op of Nabla's (or a composition a user would
/// write), its inputs' shapes, and how to apply it. Adding an op to Nabla means adding a row.
struct OpRow: CustomTestStringConvertible, Sendable {
    let name: String
    let shapes: [[Int]]
    /// Whether the inputs must be positive (logarithms, roots, divisors): drawn from [0.5, 2.5).
    var positive = false
    /// Whether the op's gradient is itself differentiable (every op's is, but for those whose
    /// documentation says otherwise).
    var twice = true
    let apply: @Sendable ([Tensor<Double>]) -> Tensor<Double>

    var testDescription: String { name }

    /// The row's inputs, seeded.
    var inputs: [Tensor<Double>] {
        shapes.enumerated().map { index, shape in
            let values = random(shape, seed: UInt64(17 + index))
            return positive ? abs(values) * 0.7 + 0.5 : values
        }
    }
}

let opTable: [OpRow] = [
    OpRow(name: "+", shapes: [[3, 4], [3, 4]]) { $0[0] + $0[1] },
    OpRow(name: "+ a bias row", shapes: [[3, 4], [4]]) { $0[0] + $0[1] },
    OpRow(name: "+ broadcasting both", shapes: [[3, 1], [1, 4]]) { $0[0] + $0[1] },
    OpRow(name: "−", shapes: [[2, 3, 4], [3, 1]]) { $0[0] - $0[1] },
    OpRow(name: "×", shapes: [[3, 4], [4]]) { $0[0] * $0[1] },
    OpRow(name: "÷", shapes: [[3, 4], [3, 4]], positive: true) { $0[0] / $0[1] },
    OpRow(name: "÷ broadcasting", shapes: [[4], [3, 1]], positive: true) { $0[0] / $0[1] },
    OpRow(name: "negation", shapes: [[3, 4]]) { -$0[0] },
    OpRow(name: "scalar operands", shapes: [[3, 4]], positive: true) { 2 - (3 / $0[0]) * 0.5 + 1 },
    OpRow(name: "exp", shapes: [[3, 4]]) { exp($0[0]) },
    OpRow(name: "log", shapes: [[3, 4]], positive: true) { log($0[0]) },
    OpRow(name: "sqrt", shapes: [[3, 4]], positive: true) { sqrt($0[0]) },
    OpRow(name: "pow", shapes: [[3, 4]], positive: true) { pow($0[0], 2.5) },
    OpRow(name: "squared", shapes: [[3, 4]]) { $0[0].squared() },
    OpRow(name: "abs", shapes: [[3, 4]]) { abs($0[0]) },
    OpRow(name: "sigmoid", shapes: [[3, 4]]) { sigmoid($0[0]) },
    OpRow(name: "tanh", shapes: [[3, 4]]) { tanh($0[0]) },
    OpRow(name: "relu", shapes: [[3, 4]]) { relu($0[0]) },
    OpRow(name: "gelu", shapes: [[3, 4]]) { gelu($0[0]) },
    OpRow(name: "gelu, tanh approximation", shapes: [[3, 4]]) { gelu($0[0], approximation: .tanh) },
    OpRow(name: "softmax", shapes: [[3, 5]]) { softmax($0[0]) },
    OpRow(name: "softmax along axis 0", shapes: [[3, 5]]) { softmax($0[0], alongAxis: 0) },
    OpRow(name: "normalized along the last axis", shapes: [[2, 3, 5]]) { $0[0].normalizedAlongLastAxis(epsilon: 1e-3) },
    OpRow(name: "layer norm, gain and bias", shapes: [[2, 3, 5], [5], [5]]) { layerNorm($0[0], weight: $0[1], bias: $0[2], epsilon: 1e-3) },
    OpRow(name: "layer norm, gain only", shapes: [[3, 4], [4]]) { layerNorm($0[0], weight: $0[1], bias: nil, epsilon: 1e-3) },
    OpRow(name: "scaled causal softmax", shapes: [[2, 4, 4]]) { softmax($0[0], scaledBy: 0.7, causal: true) },
    OpRow(name: "scaled softmax", shapes: [[3, 5]]) { softmax($0[0], scaledBy: -1.3, causal: false) },
    OpRow(name: "logSoftmax", shapes: [[3, 5]]) { logSoftmax($0[0]) },
    OpRow(name: "sum", shapes: [[3, 4]]) { $0[0].sum() },
    OpRow(name: "mean", shapes: [[3, 4]]) { $0[0].mean() },
    OpRow(name: "sum along an axis", shapes: [[2, 3, 4]]) { $0[0].sum(alongAxis: 1) },
    OpRow(name: "sum along an axis, kept", shapes: [[3, 4]]) { $0[0].sum(alongAxis: 0, keepingDimension: true) },
    OpRow(name: "mean along an axis", shapes: [[3, 4]]) { $0[0].mean(alongAxis: -1) },
    OpRow(name: "max along an axis", shapes: [[3, 5]], twice: false) { $0[0].max(alongAxis: 1) },
    OpRow(name: "broadcast", shapes: [[1, 4]]) { $0[0].broadcast(to: [3, 4]) },
    OpRow(name: "sum to a shape", shapes: [[2, 3, 4]]) { $0[0].sum(toShape: [3, 1]) },
    OpRow(name: "reshaped (a view)", shapes: [[3, 4]]) { $0[0].reshaped(to: [2, -1]) * $0[0].reshaped(to: [2, 6]) },
    OpRow(name: "transposed", shapes: [[3, 4]]) { $0[0].transposed() },
    OpRow(name: "rows (a view)", shapes: [[4, 3]]) { $0[0].rows(1 ..< 3) },
    OpRow(name: "gathering rows", shapes: [[4, 3]]) { $0[0].gathering(rows: [2, 0, 2]) },
    OpRow(name: "concatenation", shapes: [[2, 3], [2, 1], [2, 2]]) { Tensor(concatenating: $0, alongAxis: 1) },
    OpRow(name: "slice", shapes: [[3, 5]]) { $0[0].slice(alongAxis: 1, 1 ..< 4) },
    OpRow(name: "slices of one tensor, overlapping, beside a whole use", shapes: [[4, 3]]) {
        $0[0].rows(0 ..< 2) * $0[0].rows(1 ..< 3) + $0[0].slice(alongAxis: 0, 2 ..< 4) + $0[0].slice(alongAxis: 1, 1 ..< 2).rows(1 ..< 3) * $0[0].sum()
    },
    OpRow(name: "a sequence read a step at a time", shapes: [[4, 2, 3], [3, 3]]) { x in
        var h = Tensor<Double>(zeros: [2, 3])
        for t in 0 ..< 4 { h = tanh(x[0].rows(t ..< t + 1).squeezingShape(at: 0) + matmul(h, x[1])) }
        return h
    },
    OpRow(name: "matmul", shapes: [[3, 4], [4, 2]]) { matmul($0[0], $0[1]) },
    OpRow(name: "matmul, Aᵀ", shapes: [[4, 3], [4, 2]]) { matmul($0[0], $0[1], transposingA: true) },
    OpRow(name: "matmul, Bᵀ", shapes: [[3, 4], [2, 4]]) { matmul($0[0], $0[1], transposingB: true) },
    OpRow(name: "matmul, Aᵀ and Bᵀ", shapes: [[4, 3], [2, 4]]) { matmul($0[0], $0[1], transposingA: true, transposingB: true) },
    OpRow(name: "affine", shapes: [[3, 4], [2, 4], [2]]) { Tensor.affine($0[0], weight: $0[1], bias: $0[2]) },
    OpRow(name: "batched matmul", shapes: [[2, 3, 4], [2, 4, 5]]) { matmul($0[0], $0[1]) },
    OpRow(name: "batched matmul, broadcasting the batch", shapes: [[2, 1, 3, 4], [3, 4, 2]]) { matmul($0[0], $0[1]) },
    OpRow(name: "batched matmul, Bᵀ", shapes: [[2, 3, 4], [2, 5, 4]]) { matmul($0[0], $0[1], transposingB: true) },
    OpRow(name: "batched matmul, a 2-D Aᵀ", shapes: [[4, 3], [2, 4, 5]]) { matmul($0[0], $0[1], transposingA: true) },
    OpRow(name: "batched matmul, Aᵀ and Bᵀ", shapes: [[2, 4, 3], [5, 4]]) { matmul($0[0], $0[1], transposingA: true, transposingB: true) },
    OpRow(name: "matmul, a batch of rows", shapes: [[2, 3, 4], [4, 5]]) { matmul($0[0], $0[1]) },
    OpRow(name: "permuted", shapes: [[2, 3, 4]]) { $0[0].permuted([2, 0, 1]) },
    OpRow(name: "transposed, N-D", shapes: [[2, 3, 4]]) { $0[0].transposed() },
    OpRow(name: "transposed, two axes", shapes: [[2, 3, 4]]) { $0[0].transposed(0, 2) },
    OpRow(name: "expanding and squeezing shape", shapes: [[3, 4]]) { $0[0].expandingShape(at: 1).squeezingShape(at: 1).expandingShape(at: -1) * $0[0].expandingShape(at: 0).squeezingShape(at: -3).expandingShape(at: 2) },
    OpRow(name: "concatenation along axis 0", shapes: [[2, 3, 2], [1, 3, 2]]) { Tensor(concatenating: $0, alongAxis: 0) },
    OpRow(name: "concatenation along the last axis", shapes: [[2, 3, 1], [2, 3, 2]]) { Tensor(concatenating: $0, alongAxis: -1) },
    OpRow(name: "stacked", shapes: [[2, 3], [2, 3], [2, 3]]) { Tensor(stacking: $0, alongAxis: 1) },
    OpRow(name: "split", shapes: [[2, 4]]) { x in let p = x[0].split(sizes: [1, 3], alongAxis: 1); return Tensor(concatenating: [p[1], p[0] * 2], alongAxis: 1) },
    OpRow(name: "chunked", shapes: [[2, 6]]) { x in let p = x[0].chunked(into: 3, alongAxis: -1); return p[0] * p[1] + p[2] },
    OpRow(name: "comparison masks", shapes: [[3, 4], [4]]) { ($0[0] .> $0[1]) * $0[0] + ($0[0] .<= 0.2) * $0[1] },
    OpRow(name: "where", shapes: [[3, 4], [4], [3, 1]]) { Tensor.where($0[0] .> 0, $0[1], $0[2] * $0[0]) },
    OpRow(name: "maximum", shapes: [[3, 4], [4]]) { maximum($0[0], $0[1]) },
    OpRow(name: "minimum", shapes: [[3, 4], [3, 4]]) { minimum($0[0], $0[1]) },
    OpRow(name: "clamped", shapes: [[3, 4]]) { $0[0].clamped(min: -0.5, max: 0.7) },
    OpRow(name: "causal mask filled, then softmax", shapes: [[2, 4, 4]]) {
        softmax($0[0].filled(where: .causalMask(size: 4), with: -.infinity))
    },
    OpRow(name: "scaled dot-product attention, causal", shapes: [[2, 5, 12]]) { scaledDotProductAttention(queryKeyValue: $0[0], heads: 2) },
    OpRow(name: "scaled dot-product attention, not causal", shapes: [[2, 4, 18]]) {
        scaledDotProductAttention(queryKeyValue: $0[0], heads: 3, causal: false)
    },
    OpRow(name: "sum along axes", shapes: [[2, 3, 4]]) { $0[0].sum(alongAxes: [0, 2]) },
    OpRow(name: "mean along axes, kept", shapes: [[2, 3, 4]]) { $0[0].mean(alongAxes: [-1, 1], keepingDimensions: true) },
    OpRow(name: "variance along axes", shapes: [[2, 3, 4]]) { $0[0].variance(alongAxes: [0, 2]) },
    OpRow(name: "variance, unbiased", shapes: [[3, 5]]) { $0[0].variance(alongAxis: -1, correction: 1) },
    OpRow(name: "gathering (an embedding lookup)", shapes: [[4, 3]]) { $0[0].gathering(Tensor(indices: [2, 0, 2, 1], shape: [2, 2])) },
    OpRow(name: "gathering along axis 1", shapes: [[2, 4, 3]]) { $0[0].gathering(Tensor(indices: [3, 3, 0], shape: [3]), alongAxis: 1) },
    OpRow(name: "gathering by an IndexTensor (an embedding lookup)", shapes: [[4, 3]]) {
        $0[0].gathering(IndexTensor([2, 0, 2, 1, 3, 3], shape: [2, 3]))
    },
    OpRow(name: "gathering by an IndexTensor along axis 2", shapes: [[2, 3, 4]]) {
        $0[0].gathering(IndexTensor([1, 1, 0, 3, 2]), alongAxis: -1)
    },
    OpRow(name: "quadratic cost", shapes: [[3, 4], [3, 4]]) { QuadraticLoss()($0[0], $0[1]) },
    OpRow(name: "sigmoid cross-entropy", shapes: [[3, 4], [3, 4]]) { SigmoidCrossEntropyLoss()($0[0], sigmoid($0[1])) },
    OpRow(name: "softmax cross-entropy", shapes: [[2, 3, 4], [2, 3, 4]], twice: false) { SoftmaxCrossEntropyLoss()($0[0], softmax($0[1])) },
    OpRow(name: "softmax cross-entropy, [B, T] class indices", shapes: [[2, 3, 4]], twice: false) {
        SoftmaxCrossEntropyLoss()($0[0], Tensor([0, 3, 1, 2, 2, 0], shape: [2, 3]))
    },
    OpRow(name: "softmax cross-entropy, [B, T] labels in an IndexTensor", shapes: [[2, 3, 4]], twice: false) {
        SoftmaxCrossEntropyLoss()($0[0], IndexTensor([0, 3, 1, 2, 2, 0], shape: [2, 3]))
    },
    OpRow(name: "conv2d", shapes: [[2, 3, 5, 5], [4, 3, 3, 3], [4]], twice: false) { conv2d($0[0], weight: $0[1], bias: $0[2]) },
    OpRow(name: "conv2d, 3×2 kernel, stride 2, padding 1", shapes: [[2, 2, 7, 6], [3, 2, 3, 2], [3]], twice: false) {
        conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1)
    },
    OpRow(name: "conv2d, one channel, no bias", shapes: [[2, 1, 6, 6], [1, 1, 5, 5]], twice: false) { conv2d($0[0], weight: $0[1]) },
    OpRow(name: "conv2d, many channels, stride 3, padding 2", shapes: [[1, 6, 5, 5], [2, 6, 4, 4], [2]], twice: false) {
        conv2d($0[0], weight: $0[1], bias: $0[2], stride: 3, padding: 2)
    },
    OpRow(name: "maxPool2d", shapes: [[2, 3, 6, 6]], twice: false) { maxPool2d($0[0], kernelSize: 2) },
    OpRow(name: "maxPool2d, 3×3 windows overlapping", shapes: [[1, 2, 7, 7]], twice: false) { maxPool2d($0[0], kernelSize: 3, stride: 2) },
    OpRow(name: "maxPool2d, an odd size", shapes: [[1, 1, 5, 5]], twice: false) { maxPool2d($0[0], kernelSize: 2) },
]

/// A layer whose parameters are an op's inputs, so that a traced step differentiates the op.
struct OpModel: Layer {
    let inputs: [Parameter<Double>]
    let row: OpRow

    init(_ row: OpRow) {
        (self.row, inputs) = (row, row.inputs.map { Parameter(wrappedValue: $0) })
    }

    func callAsFunction(_ input: Tensor<Double>) -> Tensor<Double> { row.apply(inputs.map(\.wrappedValue)) }
}

@Suite struct OpTableTests {
    @Test(arguments: opTable)
    func gradientsMatchFiniteDifferences(_ row: OpRow) {
        let report = checkGradients(at: row.inputs, of: row.apply)
        #expect(report.passed, "\(report)")
    }

    /// Three SGD steps with momentum on the op's inputs, replayed against the eager gradient and
    /// update on a copy: the same costs and inputs, to the bit, and no allocation once replaying.
    /// The double backward — the gradient of each row's gradient — against finite differences.
    @Test(arguments: opTable.filter(\.twice))
    func secondOrderGradientsMatchFiniteDifferences(_ row: OpRow) {
        let report = checkSecondOrderGradients(at: row.inputs, of: row.apply)
        #expect(report.passed, "\(report)")
    }

    @Test(arguments: opTable)
    func replayEqualsEagerAndAllocatesNothing(_ row: OpRow) {
        expectReplayEqualsEager(OpModel(row), OpModel(row), input: Tensor(zeros: [1]))
    }
}

/// Whether this is an optimised build (`swift test -c release`, as CI runs the tests). Only there
/// is a replayed step free of allocations: a debug build allocates for closures and coroutines
/// that the optimiser keeps on the stack.
#if DEBUG
let isOptimizedBuild = false
#else
let isOptimizedBuild = true
#endif

/// Trains `traced` through a ``TracedGradient`` and `eager` through `valueWithGradient` and
/// `update`, from the same values, with the loss Σ (model(x) · w) for a seeded w, and expects the
/// same costs and parameters at every step, to the bit, and a replayed step that allocates nothing.
func expectReplayEqualsEager<Model: Layer>(
    _ traced: Model, _ eager: Model, input: Tensor<Double>, sourceLocation: SourceLocation = #_sourceLocation
) where Model.Scalar == Double {
    var eager = eager
    let weights = random(eager(input).shape, seed: 99)
    let loss = { (model: Model, x: Tensor<Double>, w: Tensor<Double>) in (model(x) * w).sum() }
    let stepper = TracedGradient(of: traced, loss)
    var (optimizer1, optimizer2) = (SGD<Double>(learningRate: 0.01, momentum: 0.5), SGD<Double>(learningRate: 0.01, momentum: 0.5))
    for step in 0..<4 {
        let before = nabla_thread_allocation_count()
        let value = stepper.step(input, weights, optimizer: &optimizer1)
        if step == 3 && isOptimizedBuild {
            #expect(nabla_thread_allocation_count() == before, "a replayed step allocated",
                    sourceLocation: sourceLocation)
        }
        let (reference, gradients) = withLayerMode(.training) { valueWithGradient(at: eager) { loss($0, input, weights) } }
        optimizer2.update(&eager, along: gradients)
        #expect(value == reference, sourceLocation: sourceLocation)
    }
    #expect(stepper.eagerReason == nil, "\(stepper.eagerReason ?? "")", sourceLocation: sourceLocation)
    #expect(traced.parameterValues == eager.parameterValues, sourceLocation: sourceLocation)
}
