/// A view's op: the same elements seen with another shape, or a run of them. Never launched; its
/// gradient puts the upstream gradient back where the view's elements came from.
struct View<Scalar: TensorScalar>: TensorOperation {
    let inputShape: [Int]
    /// The view's elements within the input's: a reshape takes them all, `rows(_:)` a range.
    let elements: Range<Int>

    func forward(_ buffers: OperationBuffers<Scalar>) {
        fatalError("a view is never launched")
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let count = inputShape.reduce(1, *)
        if elements == 0..<count { return [g.reshaped(to: inputShape)] }
        return [Slice(axis: 0, range: elements, inputShape: [count], padding: true)([g.reshaped(to: [-1])], shape: [count])
            .reshaped(to: inputShape)]
    }
}

/// The elements whose index along `axis` lies in `range` — or, `padding`, the reverse: a tensor
/// of the input's shape with the slice put back in place and zeros around it.
struct Slice<Scalar: TensorScalar>: TensorOperation {
    let axis: Int
    let range: Range<Int>
    /// The shape of the larger tensor (the input of a slice, the output of a padding).
    let inputShape: [Int]
    let padding: Bool

    var name: String { padding ? "pad" : "slice" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y) = (buffers.input(0), buffers.output)
        let split = AxisSplit(inputShape, axis: axis)
        let run = range.count * split.inner
        if padding { y.initialize(repeating: 0, count: inputShape.reduce(1, *)) }
        for o in 0..<split.outer {
            let whole = split.offset(o, range.lowerBound, 0)
            if padding {
                (y + whole).update(from: x + o * run, count: run)
            } else {
                (y + o * run).update(from: x + whole, count: run)
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        var shape = inputShape
        shape[axis] = padding ? range.count : inputShape[axis]
        return [Slice(axis: axis, range: range, inputShape: inputShape, padding: !padding)([g], shape: shape)]
    }
}

/// The transpose of a matrix.
struct Transpose<Scalar: TensorScalar>: TensorOperation {
    let rows, columns: Int

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y) = (buffers.input(0), buffers.output)
        for r in 0..<rows { for c in 0..<columns { y[c * rows + r] = x[r * columns + c] } }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] { [g.transposed()] }
}

/// Rows picked by index (repeats allowed), or — `scattering` — the reverse: rows added back into a
/// tensor of `rowCount` rows at those indices.
struct GatherRows<Scalar: TensorScalar>: TensorOperation {
    let indices: [Int]
    let rowCount, rowSize: Int
    let scattering: Bool

    var name: String { scattering ? "scatter(rows:)" : "gathering(rows:)" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y) = (buffers.input(0), buffers.output)
        if scattering { y.initialize(repeating: 0, count: rowCount * rowSize) }
        for (slot, row) in indices.enumerated() {
            if scattering {
                for j in 0..<rowSize { y[row * rowSize + j] += x[slot * rowSize + j] }
            } else {
                (y + slot * rowSize).update(from: x + row * rowSize, count: rowSize)
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let op = GatherRows(indices: indices, rowCount: rowCount, rowSize: rowSize, scattering: !scattering)
        return [op([g], shape: call.inputs[0].shape)]
    }
}

/// Tensors joined along an axis.
struct Concatenate<Scalar: TensorScalar>: TensorOperation {
    let axis: Int
    let shapes: [[Int]]
    let outputShape: [Int]

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let split = AxisSplit(outputShape, axis: axis)
        var y = buffers.output
        for o in 0..<split.outer {
            for (index, shape) in shapes.enumerated() {
                let chunk = shape[axis] * split.inner
                y.update(from: buffers.input(index) + o * chunk, count: chunk)
                y += chunk
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        var start = 0
        return shapes.map { shape in
            defer { start += shape[axis] }
            return Slice(axis: axis, range: start ..< start + shape[axis], inputShape: outputShape, padding: false)([g], shape: shape)
        }
    }
}

extension Tensor {
    /// The same elements in a new shape with the same number of elements: a view, no copy. One
    /// dimension may be -1, to be inferred.
    public func reshaped(to newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let hole = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != hole }.map(\.element).reduce(1, *)
            check(known > 0 && count % known == 0, "reshape: cannot reshape \(shape) to \(newShape)")
            resolved[hole] = count / known
        }
        check(resolved.allSatisfy { $0 >= 0 } && resolved.reduce(1, *) == count,
              "reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
        if resolved == shape { return self }
        return view(View(inputShape: shape, elements: 0..<count), shape: resolved)
    }

    /// The transpose of a 2-D tensor. (``matmul(_:_:transposingA:transposingB:)`` reads a transposed
    /// operand in place; use this when the transpose itself is wanted.)
    public func transposed() -> Tensor {
        check(rank == 2, "transposed: needs a 2-D tensor, got shape \(shape)")
        return Transpose(rows: shape[0], columns: shape[1])([self], shape: [shape[1], shape[0]])
    }

    /// The rows (slices along the first axis) in `range`: a mini-batch of a data set. A view, no copy.
    public func rows(_ range: Range<Int>) -> Tensor {
        check(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0],
              "rows: range \(range) is out of bounds for shape \(shape)")
        let rowSize = shape.dropFirst().reduce(1, *)
        let elements = range.lowerBound * rowSize ..< range.upperBound * rowSize
        return view(View(inputShape: shape, elements: elements), shape: [range.count] + shape.dropFirst(),
                    offset: elements.lowerBound)
    }

    /// The rows at `indices`, in that order (repeats allowed): a shuffled mini-batch. The
    /// gradient of a repeated row is the sum of its copies' gradients.
    public func gathering(rows indices: [Int]) -> Tensor {
        check(rank >= 1, "gathering(rows:): needs at least one dimension, got shape \(shape)")
        for i in indices {
            check(i >= 0 && i < shape[0], "gathering(rows:): row \(i) is out of bounds for shape \(shape)")
        }
        let op = GatherRows<Scalar>(indices: indices, rowCount: shape[0], rowSize: shape.dropFirst().reduce(1, *),
                                    scattering: false)
        return op([self], shape: [indices.count] + shape.dropFirst())
    }

    /// The tensors joined along `axis`; all other dimensions must agree.
    public init(concatenating tensors: [Tensor], alongAxis axis: Int = 0) {
        check(!tensors.isEmpty, "concatenate: no tensors given")
        let first = tensors[0]
        let axis = first.normalizedAxis(axis, op: "concatenate")
        for t in tensors {
            var (a, b) = (t.shape, first.shape)
            check(a.count == b.count, "concatenate: shapes \(first.shape) and \(t.shape) differ in rank")
            a[axis] = 0; b[axis] = 0
            check(a == b, "concatenate: shapes \(first.shape) and \(t.shape) differ outside axis \(axis)")
        }
        var outputShape = first.shape
        outputShape[axis] = tensors.map { $0.shape[axis] }.reduce(0, +)
        self = Concatenate(axis: axis, shapes: tensors.map(\.shape), outputShape: outputShape)(tensors, shape: outputShape)
    }

    /// The elements whose index along `axis` lies in `range`.
    public func slice(alongAxis axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = normalizedAxis(axis, op: "slice(alongAxis:)")
        check(range.lowerBound >= 0 && range.upperBound <= shape[axis],
              "slice(alongAxis:): range \(range) is out of bounds for axis \(axis) of shape \(shape)")
        var outputShape = shape
        outputShape[axis] = range.count
        return Slice(axis: axis, range: range, inputShape: shape, padding: false)([self], shape: outputShape)
    }
}
