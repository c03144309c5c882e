import CNablaKernels

/// eˣ normalised to sum to 1 along `axis` (default: the last).
///
/// Along the last axis — attention's weights, a classifier's probabilities — it is one op: each
/// row's maximum, exponentials, sum and scaling in one pass over the tensor (vectorised in C for
/// Float, within 3e-7 of Double's in the tests), its gradient y ⊙ (g − Σ g ⊙ y) composed from other ops, so
/// that it is differentiable again. Along another axis it is composed from the same steps.
/// Subtracting the maximum first keeps e^x finite for any input; softmax does not change under
/// that shift. A NaN in a row, or a row of −∞, gives a row of NaN, as in PyTorch.
public func softmax<Scalar>(_ x: Tensor<Scalar>, alongAxis axis: Int = -1) -> Tensor<Scalar> {
    let axis = x.normalizedAxis(axis, op: "softmax(alongAxis:)")
    guard axis == x.rank - 1 else {
        let e = exp(x - x.max(alongAxis: axis, keepingDimension: true).detached)
        return e / e.sum(alongAxis: axis, keepingDimension: true)
    }
    return SoftmaxRows<Scalar>(columns: x.shape[axis], count: x.count, scale: 1, causal: false)([x], shape: x.shape)
}

/// softmax(scale · x) along the last axis, and with `causal`, each query position i of the last
/// two axes — [..., T, T] attention scores — seeing only the keys j ≤ i (the others weigh 0):
/// attention's `softmax(q·kᵀ/√d masked)`, as one op. The composite — a product by the scale and
/// a fill with −∞ before the softmax — gives the same weights, with two more passes each way and
/// two more [..., T, T] buffers kept for the backward pass.
public func softmax<Scalar>(_ x: Tensor<Scalar>, scaledBy scale: Scalar, causal: Bool) -> Tensor<Scalar> {
    check(x.rank >= (causal ? 2 : 1), "softmax(scaledBy:causal:): shape \(x.shape) has no \(causal ? "[T, T] scores" : "last axis")")
    if causal {
        check(x.shape[x.rank - 1] == x.shape[x.rank - 2],
              "softmax(scaledBy:causal:): causal scores must be square in their last two axes, got \(x.shape)")
    }
    return SoftmaxRows<Scalar>(columns: x.shape[x.rank - 1], count: x.count, scale: scale, causal: causal)([x], shape: x.shape)
}

/// Softmax of `scale` times the rows of a tensor viewed as [count / columns, columns]; with
/// `causal`, row r sees columns 0…r mod columns (square blocks of rows).
struct SoftmaxRows<Scalar: TensorScalar>: TensorOperation {
    let columns: Int
    let count: Int
    let scale: Scalar
    let causal: Bool

    var name: String { causal ? "causal softmax" : "softmax" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y, columns) = (buffers.input(0), buffers.output, columns)
        guard columns > 0 else { return }
        let (scale, period) = (scale, causal ? columns : 0)
        forEachChunk(count / columns, unitSize: columns, (x, y, columns, scale, period)) { operands, rows in
            let (x, y, columns, scale, period) = operands
            if Scalar.isFloat {
                let offset = rows.lowerBound * columns
                return nabla_softmax_rows_f32(x.assuming(Float.self) + offset, y.assuming(Float.self) + offset, rows.count, columns,
                                              Float(scale), period)
            }
            for row in rows {
                let (input, output) = (x + row * columns, y + row * columns)
                let seen = period > 0 ? row % period + 1 : columns
                // A NaN is the maximum: it makes every x − max NaN, and the row NaN.
                var largest = -Scalar.infinity
                for j in 0..<seen where !(input[j] * scale <= largest) {
                    largest = input[j] * scale
                    if largest.isNaN { break }
                }
                var total: Scalar = 0
                for j in 0..<seen {
                    output[j] = .exp(input[j] * scale - largest)
                    total += output[j]
                }
                for j in 0..<seen { output[j] /= total }
                for j in seen..<columns { output[j] = 0 }
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        // Masked weights are 0, so their gradient is too.
        let y = call.output
        let gradient = y * (g - (g * y).sum(alongAxis: -1, keepingDimension: true))
        return [scale == 1 ? gradient : gradient * scale]
    }
}
