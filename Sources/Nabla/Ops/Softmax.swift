import CNablaKernels

/// eˣ normalised to sum to 1 along `axis` (default: the last).
///
/// Along the last axis — attention's weights, a classifier's probabilities — it is one op: each
/// row's maximum, exponentials, sum and scaling in one pass over the tensor (vectorised in C for
/// Float, to about 1e-7 relative), its gradient y ⊙ (g − Σ g ⊙ y) composed from other ops, so
/// that it is differentiable again. Along another axis it is composed from the same steps.
/// Subtracting the maximum first keeps e^x finite for any input; softmax does not change under
/// that shift. A NaN in a row, or a row of −∞, gives a row of NaN, as in PyTorch.
public func softmax<Scalar>(_ x: Tensor<Scalar>, alongAxis axis: Int = -1) -> Tensor<Scalar> {
    let axis = x.normalizedAxis(axis, op: "softmax(alongAxis:)")
    guard axis == x.rank - 1 else {
        let e = exp(x - x.max(alongAxis: axis, keepingDimension: true).detached)
        return e / e.sum(alongAxis: axis, keepingDimension: true)
    }
    return SoftmaxRows<Scalar>(columns: x.shape[axis], count: x.count)([x], shape: x.shape)
}

/// Softmax along the rows of a tensor viewed as [count / columns, columns].
struct SoftmaxRows<Scalar: TensorScalar>: TensorOperation {
    let columns: Int
    let count: Int

    var name: String { "softmax" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y, columns) = (buffers.input(0), buffers.output, columns)
        guard columns > 0 else { return }
        forEachChunk(count / columns, unitSize: columns) { rows in
            if Scalar.isFloat {
                let offset = rows.lowerBound * columns
                return nabla_softmax_rows_f32(x.assuming(Float.self) + offset, y.assuming(Float.self) + offset, rows.count, columns)
            }
            for row in rows {
                let (input, output) = (x + row * columns, y + row * columns)
                // A NaN is the maximum: it makes every x − max NaN, and the row NaN.
                var largest = -Scalar.infinity
                for j in 0..<columns where !(input[j] <= largest) {
                    largest = input[j]
                    if largest.isNaN { break }
                }
                var total: Scalar = 0
                for j in 0..<columns {
                    output[j] = .exp(input[j] - largest)
                    total += output[j]
                }
                for j in 0..<columns { output[j] /= total }
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let y = call.output
        return [y * (g - (g * y).sum(alongAxis: -1, keepingDimension: true))]
    }
}
