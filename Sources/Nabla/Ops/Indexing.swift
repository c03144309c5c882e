// Index tensors: token ids, class labels, positions. An index is a whole number held in the
// tensor's own scalar type (exact up to 2²⁴ in Float, 2⁵³ in Double), so a batch of ids is an
// ordinary input of a step: filled into the same storage each step, it replays with no CPU read.
// Every op that reads indices checks each one where it reads it and stops naming the value.

extension Tensor {
    /// A tensor of whole numbers, for the index inputs of ``gathering(_:alongAxis:)`` and the
    /// class-index targets of ``SoftmaxCrossEntropyLoss``: `[Int]` ids as scalars.
    ///
    /// ```swift
    /// let ids = Tensor<Float>(indices: [5, 0, 12, 7], shape: [2, 2])
    /// ```
    public init(indices: [Int], shape: [Int]) {
        let limit = 1 << (Scalar.significandBitCount + 1)
        for index in indices {
            check(Swift.abs(index) <= limit, "Tensor(indices:): \(index) is not exact as \(Scalar.typeName) (limit \(limit))")
        }
        self.init(indices.map { Scalar($0) }, shape: shape)
    }

    /// The slices along `axis` at each position of `indices`, which may have any shape: the
    /// result's shape is this shape with `axis` replaced by `indices`'s shape (NumPy's `take`).
    /// An embedding lookup is `table.gathering(ids, alongAxis: 0)`: a [vocabulary, width] table and
    /// [B, T] ids give [B, T, width]. The gradient adds each picked slice's gradient back where it
    /// came from (repeats add up); the indices get none.
    ///
    /// Each index must be a whole number in `0..<shape[axis]`; any other value stops the program,
    /// naming it.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func gathering(_ indices: Tensor, alongAxis axis: Int = 0) -> Tensor {
        let axis = normalizedAxis(axis, op: "gathering")
        let op = Gather<Scalar>(inputShape: shape, axis: axis, indexCount: indices.count)
        return op([self, indices], shape: Array(shape[..<axis]) + indices.shape + shape[(axis + 1)...])
    }

    /// The rows at `indices`, in that order (repeats allowed): a shuffled mini-batch. The
    /// gradient of a repeated row is the sum of its copies' gradients.
    public func gathering(rows indices: [Int]) -> Tensor {
        check(rank >= 1, "gathering(rows:): needs at least one dimension, got shape \(shape)")
        return gathering(Tensor(indices: indices, shape: [indices.count]), alongAxis: 0)
    }
}

/// The slices of the input along `axis` at each index: inputs [x, indices].
struct Gather<Scalar: TensorScalar>: TensorOperation {
    let inputShape: [Int]
    let axis: Int
    let indexCount: Int

    var name: String { "gather" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, indices, y, split) = (buffers.input(0), buffers.input(1), buffers.output, AxisSplit(inputShape, axis: axis))
        for j in 0..<indexCount {
            let index = checkedIndex(indices[j], length: split.length, op: "gathering")
            for o in 0..<split.outer {
                (y + (o * indexCount + j) * split.inner).update(from: x + split.offset(o, index, 0), count: split.inner)
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let op = ScatterAdd<Scalar>(outputShape: inputShape, axis: axis, indexCount: indexCount)
        return [op([g, call.inputs[1]], shape: inputShape), nil]
    }
}

/// The reverse of a gather: zeros of `outputShape`, with each slice of the input added at its
/// index along `axis`. Inputs [slices, indices].
struct ScatterAdd<Scalar: TensorScalar>: TensorOperation {
    let outputShape: [Int]
    let axis: Int
    let indexCount: Int

    var name: String { "scatter-add" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (g, indices, y, split) = (buffers.input(0), buffers.input(1), buffers.output, AxisSplit(outputShape, axis: axis))
        y.initialize(repeating: 0, count: outputShape.reduce(1, *))
        for j in 0..<indexCount {
            let index = checkedIndex(indices[j], length: split.length, op: "scatter-add")
            for o in 0..<split.outer {
                let (from, to) = (g + (o * indexCount + j) * split.inner, y + split.offset(o, index, 0))
                for i in 0..<split.inner { to[i] += from[i] }
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        [Gather(inputShape: outputShape, axis: axis, indexCount: indexCount)([g, call.inputs[1]], shape: call.inputs[0].shape), nil]
    }
}

/// `value` as an index into `0..<length`, or a stop naming it: an index out of range would
/// otherwise read or write past the tensor.
@inline(__always)
func checkedIndex<Scalar: TensorScalar>(_ value: Scalar, length: Int, op: StaticString) -> Int {
    check(value >= 0 && value < Scalar(length) && value.rounded(.towardZero) == value,
          "\(op): index \(value) is not a whole number in 0..<\(length)")
    return Int(value)
}
