// Picking by index: an embedding lookup, a mini-batch's rows. The indices are an ``IndexTensor``
// (`Int32`s), or whole numbers held in the tensor's own scalar type where a ``Layer`` chain
// passes ids as a tensor (exact up to 2²⁴ in Float, 2⁵³ in Double). Either way they are an input
// of the launch like any other, so a batch of ids filled into the same storage each step replays
// with no CPU read. Every op that reads indices checks each one where it reads it and stops
// naming the value.

extension Tensor {
    /// A tensor of whole numbers, for the index inputs of ``gathering(_:alongAxis:)-(Tensor<Scalar>,_)``
    /// and the class-index targets of ``SoftmaxCrossEntropyLoss`` where ids must be a tensor (the
    /// input of a ``Layer``): `[Int]` ids as scalars. An ``IndexTensor`` holds them as integers.
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
    /// An embedding lookup is `table.gathering(ids)`: a [vocabulary, width] table and [B, T] ids
    /// give [B, T, width]. The gradient adds each picked slice's gradient back where it came from
    /// (repeats add up); the indices get none.
    ///
    /// Each index must be in `0..<shape[axis]`; any other stops the program, naming it.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func gathering(_ indices: IndexTensor, alongAxis axis: Int = 0) -> Tensor {
        let axis = normalizedAxis(axis, op: "gathering")
        let op = Gather<Scalar>(inputShape: shape, axis: axis, indexCount: indices.count, indices: .integers)
        return op([self], indices: [indices], shape: Array(shape[..<axis]) + indices.shape + shape[(axis + 1)...])
    }

    /// ``gathering(_:alongAxis:)-(IndexTensor,_)`` with the indices held as scalars, each a whole
    /// number (see ``init(indices:shape:)``).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func gathering(_ indices: Tensor, alongAxis axis: Int = 0) -> Tensor {
        let axis = normalizedAxis(axis, op: "gathering")
        let op = Gather<Scalar>(inputShape: shape, axis: axis, indexCount: indices.count, indices: .scalars)
        return op([self, indices], shape: Array(shape[..<axis]) + indices.shape + shape[(axis + 1)...])
    }

    /// The rows at `indices`, in that order (repeats allowed): a shuffled mini-batch. The
    /// gradient of a repeated row is the sum of its copies' gradients.
    public func gathering(rows indices: [Int]) -> Tensor {
        check(rank >= 1, "gathering(rows:): needs at least one dimension, got shape \(shape)")
        return gathering(IndexTensor(indices), alongAxis: 0)
    }
}

/// How an op that picks by index holds its indices: its second operand.
enum IndexOperand {
    /// An ``IndexTensor``.
    case integers
    /// Whole numbers in a tensor of the op's scalar type.
    case scalars

    /// Index `i` of operand `position`, checked to be in `0..<length`: an index out of range
    /// would read or write past the tensor, so any other value stops the program, naming it.
    @inline(__always)
    func index<Scalar: TensorScalar>(_ i: Int, of buffers: OperationBuffers<Scalar>, at position: Int,
                                     length: Int, op: StaticString) -> Int {
        if self == .integers {
            let value = buffers.indices(position)[i]
            check(value >= 0 && Int(value) < length, "\(op): index \(value) (element \(i)) is not in 0..<\(length)")
            return Int(value)
        }
        let value = buffers.input(position)[i]
        check(value >= 0 && value < Scalar(length) && value.rounded(.towardZero) == value,
              "\(op): index \(value) (element \(i)) is not a whole number in 0..<\(length)")
        return Int(value)
    }

    /// Runs `op` (one the gradient launches) on `tensors` followed by the indices `call` read —
    /// its index tensor, or its second input — so that `op` finds them at `tensors.count`.
    func launch<Scalar: TensorScalar>(_ op: some TensorOperation<Scalar>, on tensors: [Tensor<Scalar>],
                                      indicesOf call: OperationCall<Scalar>, shape: [Int]) -> Tensor<Scalar> {
        self == .integers ? op(tensors, indices: call.indices, shape: shape) : op(tensors + [call.inputs[1]], shape: shape)
    }

    /// The gradients of an index op's tensor input, `gradient`, and of its indices if they are an
    /// input (none).
    func gradients<Scalar: TensorScalar>(_ gradient: Tensor<Scalar>?) -> [Tensor<Scalar>?] {
        self == .integers ? [gradient] : [gradient, nil]
    }
}

/// The slices of the input along `axis` at each index.
struct Gather<Scalar: TensorScalar>: TensorOperation {
    let inputShape: [Int]
    let axis: Int
    let indexCount: Int
    let indices: IndexOperand

    var name: String { "gather" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y, split) = (buffers.input(0), buffers.output, AxisSplit(inputShape, axis: axis))
        for j in 0..<indexCount {
            let index = indices.index(j, of: buffers, at: 1, length: split.length, op: "gathering")
            for o in 0..<split.outer {
                (y + (o * indexCount + j) * split.inner).update(from: x + split.offset(o, index, 0), count: split.inner)
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let op = ScatterAdd<Scalar>(outputShape: inputShape, axis: axis, indexCount: indexCount, indices: indices)
        return indices.gradients(indices.launch(op, on: [g], indicesOf: call, shape: inputShape))
    }
}

/// The reverse of a gather: zeros of `outputShape`, with each slice of the input added at its
/// index along `axis`.
struct ScatterAdd<Scalar: TensorScalar>: TensorOperation {
    let outputShape: [Int]
    let axis: Int
    let indexCount: Int
    let indices: IndexOperand

    var name: String { "scatter-add" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (g, y, split) = (buffers.input(0), buffers.output, AxisSplit(outputShape, axis: axis))
        y.initialize(repeating: 0, count: outputShape.reduce(1, *))
        for j in 0..<indexCount {
            let index = indices.index(j, of: buffers, at: 1, length: split.length, op: "scatter-add")
            for o in 0..<split.outer {
                let (from, to) = (g + (o * indexCount + j) * split.inner, y + split.offset(o, index, 0))
                for i in 0..<split.inner { to[i] += from[i] }
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let op = Gather<Scalar>(inputShape: outputShape, axis: axis, indexCount: indexCount, indices: indices)
        return indices.gradients(indices.launch(op, on: [g], indicesOf: call, shape: call.inputs[0].shape))
    }
}
