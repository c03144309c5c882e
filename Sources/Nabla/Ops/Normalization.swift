// Normalising each vector along the last axis to mean 0 and variance 1, as layer normalisation
// does: x̂ = (x − μ)·r, with r = 1/√(σ² + ε) and the biased variance σ². Two ops: one gives x̂
// (or r alone), the other x̂'s vector–Jacobian product, each one pass over a row. Composed from reductions and
// element-wise ops, the same normalisation takes about twenty passes forward and back; here the
// first-order step takes three, and the gradients of the backward op are composed from other ops,
// so that it is differentiable again (a gradient penalty through a transformer). A third op is
// layer norm whole — x̂ times a gain plus a bias — which keeps x̂ and r for its gradient.

extension Tensor {
    /// Each vector along the last axis shifted to mean 0 and scaled to variance 1:
    /// (x − mean) / √(variance + ε), with the biased variance (divided by n), as PyTorch's
    /// layer norm computes it before its gain and bias.
    public func normalizedAlongLastAxis(epsilon: Scalar) -> Tensor {
        check(rank >= 1 && shape[rank - 1] > 0, "normalizedAlongLastAxis: shape \(shape) has no last axis to normalise along")
        return RowNormalization<Scalar>(.normalized, columns: shape[rank - 1], count: count, epsilon: epsilon)([self], shape: shape)
    }

    /// 1/√(variance + ε) along the last axis, kept as size 1: what
    /// ``normalizedAlongLastAxis(epsilon:)`` scales by.
    func inverseDeviationAlongLastAxis(epsilon: Scalar) -> Tensor {
        RowNormalization<Scalar>(.inverseDeviation, columns: shape[rank - 1], count: count, epsilon: epsilon)([self],
                                                                                                           shape: Array(shape.dropLast()) + [1])
    }
}

/// Layer normalisation with its gain and bias, PyTorch's `layer_norm`: each vector along the last
/// axis normalised (``Tensor/normalizedAlongLastAxis(epsilon:)``), times `weight` and plus `bias`
/// (each the last axis's size), as one op.
///
/// ```swift
/// let y = layerNorm(x, weight: gain, bias: nil, epsilon: 1e-5)    // nanoGPT's bias=False
/// ```
///
/// The same values as the composite `x.normalizedAlongLastAxis(epsilon:) * weight + bias`, to the
/// bit, in one pass forward; backward it reads the x̂ and 1/√(σ² + ε) it kept instead of
/// recomputing them, and folds the gain into the normalisation's gradient. When the gradient is
/// itself differentiated, it is the composite's.
public func layerNorm<Scalar>(_ x: Tensor<Scalar>, weight: Tensor<Scalar>, bias: Tensor<Scalar>?, epsilon: Scalar) -> Tensor<Scalar> {
    let size = weight.count
    check(x.rank >= 1 && x.shape.last == size && weight.rank == 1 && (bias.map { $0.shape == weight.shape } ?? true),
          "layerNorm: input \(x.shape), weight \(weight.shape) and bias \(bias?.shape.description ?? "none") do not fit: "
          + "expected [..., n], [n] and [n]")
    let op = LayerNormalization<Scalar>(columns: size, count: x.count, epsilon: epsilon, hasBias: bias != nil)
    return op([x, weight] + (bias.map { [$0] } ?? []), shape: x.shape)
}

/// A row's mean μ and r = 1/√(σ² + ε), the biased variance σ² from the centred values (two
/// passes: one pass's E[x²] − E[x]² cancels for rows far from 0).
@inline(__always)
private func rowStatistics<Scalar: TensorScalar>(_ row: UnsafePointer<Scalar>, count n: Int, epsilon: Scalar) -> (mean: Scalar, r: Scalar) {
    let mean = interleavedSum(count: n) { row[$0] } / Scalar(n)
    let variance = interleavedSum(count: n) { (row[$0] - mean) * (row[$0] - mean) } / Scalar(n)
    return (mean, 1 / (variance + epsilon).squareRoot())
}

/// x̂ = (x − μ)·r, or r = 1/√(σ² + ε) alone ([..., 1]), along rows of `columns` (`rowStatistics`).
struct RowNormalization<Scalar: TensorScalar>: TensorOperation {
    enum Result { case normalized, inverseDeviation }
    let result: Result
    let columns, count: Int
    let epsilon: Scalar

    init(_ result: Result, columns: Int, count: Int, epsilon: Scalar) {
        (self.result, self.columns, self.count, self.epsilon) = (result, columns, count, epsilon)
    }

    var name: String { result == .normalized ? "normalize" : "inverse deviation" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y, n) = (buffers.input(0), buffers.output, columns)
        forEachChunk(count / n, unitSize: n, (x, y, n, epsilon, result)) { operands, rows in
            let (x, y, n, epsilon, result) = operands
            for row in rows {
                let input = x + row * n
                let (mean, r) = rowStatistics(input, count: n, epsilon: epsilon)
                switch result {
                case .normalized:
                    let output = y + row * n
                    for j in 0..<n { output[j] = (input[j] - mean) * r }
                case .inverseDeviation:
                    y[row] = r
                }
            }
        }
    }

    /// x̂'s is ``RowNormalizationGradient``; r's, ∂r/∂xⱼ = −r²·x̂ⱼ/n.
    func gradients(_ u: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let x = call.inputs[0]
        switch result {
        case .normalized:
            let r = x.inverseDeviationAlongLastAxis(epsilon: epsilon)
            return [RowNormalizationGradient<Scalar>(columns: columns, count: count)([call.output, u, r], shape: u.shape)]
        case .inverseDeviation:
            let r = call.output
            return [x.normalizedAlongLastAxis(epsilon: epsilon) * (u * r * r * (-1 / Scalar(columns)))]
        }
    }
}

/// The vector–Jacobian product of x̂ from [x̂, g, r]: dx = r·(g − mean(g) − x̂·mean(g·x̂)), row by
/// row; `weighted`, from [x̂, g, r, w], the same with g·w for g (a layer norm's gain folded in:
/// first-order only).
struct RowNormalizationGradient<Scalar: TensorScalar>: TensorOperation {
    let columns, count: Int
    var weighted = false

    var name: String { weighted ? "layer norm gradient" : "normalize gradient" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (normalized, g, r, dx, n) = (buffers.input(0), buffers.input(1), buffers.input(2), buffers.output, columns)
        let w = weighted ? buffers.input(3) : nil
        forEachChunk(count / n, unitSize: n, (normalized, g, r, w, dx, n)) { operands, rows in
            let (normalized, g, r, w, dx, n) = operands
            for row in rows {
                let (xhat, upstream, out) = (normalized + row * n, g + row * n, dx + row * n)
                // g·w goes through the output row: the last loop reads each element before writing it.
                let grad: UnsafePointer<Scalar>
                if let w {
                    for j in 0..<n { out[j] = upstream[j] * w[j] }
                    grad = UnsafePointer(out)
                } else {
                    grad = upstream
                }
                let meanG = interleavedSum(count: n) { grad[$0] } / Scalar(n)
                let meanGX = interleavedSum(count: n) { grad[$0] * xhat[$0] } / Scalar(n)
                let scale = r[row]
                for j in 0..<n { out[j] = scale * (grad[j] - meanG - xhat[j] * meanGX) }
            }
        }
    }

    /// dx is linear in g with a symmetric matrix, so its gradient along g is the same product with
    /// u; along x̂, −r·(u·mean(g·x̂) + g·mean(u·x̂)); along r, the row sums of u·dx/r.
    func gradients(_ u: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        precondition(!weighted, "a layer norm's weighted gradient runs only in first-order passes: it has no gradient")
        let (xhat, g, r) = (call.inputs[0], call.inputs[1], call.inputs[2])
        let rowMean = { (t: Tensor<Scalar>) in t.mean(alongAxis: -1, keepingDimension: true) }
        return [
            call.needsGradient(0) ? -r * (u * rowMean(g * xhat) + g * rowMean(u * xhat)) : nil,
            call.needsGradient(1) ? self([xhat, u, r], shape: u.shape) : nil,
            call.needsGradient(2) ? (u * (g - rowMean(g) - xhat * rowMean(g * xhat))).sum(alongAxis: -1, keepingDimension: true) : nil,
        ]
    }
}

/// y = x̂·w (+ b) from [x, w] or [x, w, b], keeping x̂ and r = 1/√(σ² + ε) for the gradient: see
/// ``layerNorm(_:weight:bias:epsilon:)``.
struct LayerNormalization<Scalar: TensorScalar>: TensorOperation {
    let columns, count: Int
    let epsilon: Scalar
    let hasBias: Bool

    var name: String { "layer norm" }
    /// x̂, then r for each row.
    var savedCount: Int { count + count / columns }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, w, y, kept, n) = (buffers.input(0), buffers.input(1), buffers.output, buffers.saved, columns)
        let b = hasBias ? buffers.input(2) : nil
        let rowCount = count / n
        forEachChunk(rowCount, unitSize: n, (x, w, b, y, kept, n, epsilon, rowCount)) { operands, rows in
            let (x, w, b, y, kept, n, epsilon, rowCount) = operands
            for row in rows {
                let (input, xhat, output) = (x + row * n, kept + row * n, y + row * n)
                let (mean, r) = rowStatistics(input, count: n, epsilon: epsilon)
                kept[rowCount * n + row] = r
                for j in 0..<n { xhat[j] = (input[j] - mean) * r }
                if let b {
                    for j in 0..<n { output[j] = xhat[j] * w[j] + b[j] }
                } else {
                    for j in 0..<n { output[j] = xhat[j] * w[j] }
                }
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let (x, w) = (call.inputs[0], call.inputs[1])
        // A reverse pass that is being recorded takes the composite's gradient, which is
        // differentiable again (what it kept is not tracked).
        if call.isRecordingReversePass {
            let epsilon = epsilon
            return call.compositeGradients(along: g) { inputs in
                let scaled = inputs[0].normalizedAlongLastAxis(epsilon: epsilon) * inputs[1]
                return inputs.count > 2 ? scaled + inputs[2] : scaled
            }
        }
        let xhat = call.saved.slice(alongAxis: 0, 0 ..< count).reshaped(to: x.shape)
        let r = call.saved.slice(alongAxis: 0, count ..< call.saved.count).reshaped(to: Array(x.shape.dropLast()) + [1])
        return [
            call.needsGradient(0) ? RowNormalizationGradient<Scalar>(columns: columns, count: count, weighted: true)([xhat, g, r, w], shape: x.shape) : nil,
            call.needsGradient(1) ? (g * xhat).sum(toShape: w.shape) : nil,
        ] + (hasBias ? [call.needsGradient(2) ? g.sum(toShape: w.shape) : nil] : [])
    }
}