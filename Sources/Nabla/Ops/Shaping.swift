/// A view's op: the same elements seen with another shape, or a run of them. Never launched; its
/// gradient puts the upstream gradient back where the view's elements came from.
struct View<Scalar: TensorScalar>: TensorOperation, Slicing {
    let inputShape: [Int]
    /// The view's elements within the input's: a reshape takes them all, `rows(_:)` a range.
    let elements: Range<Int>

    func forward(_ buffers: OperationBuffers<Scalar>) {
        fatalError("a view is never launched")
    }

    /// A run of the input's elements is a range along the only axis of the flat input.
    var placement: SlicePlacement? {
        let count = inputShape.reduce(1, *)
        return elements == 0..<count ? nil : SlicePlacement(shape: [count], axis: 0, range: elements)
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        guard let placement else { return [g.reshaped(to: inputShape)] }
        return [PlaceSlices.placing([g], at: [placement], in: inputShape)]
    }
}

/// The elements whose index along `axis` lies in `range`; its gradient puts them back in place.
struct Slice<Scalar: TensorScalar>: TensorOperation, Slicing {
    let axis: Int
    let range: Range<Int>
    let inputShape: [Int]

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y, split) = (buffers.input(0), buffers.output, AxisSplit(inputShape, axis: axis))
        let run = range.count * split.inner
        for o in 0..<split.outer { (y + o * run).update(from: x + split.offset(o, range.lowerBound, 0), count: run) }
    }

    init(axis: Int, range: Range<Int>, inputShape: [Int]) {
        (self.axis, self.range, self.inputShape) = (axis, range, inputShape)
    }

    /// The slice that `placement` describes.
    init(_ placement: SlicePlacement) {
        self.init(axis: placement.axis, range: placement.range, inputShape: placement.shape)
    }

    var placement: SlicePlacement? { place }
    private var place: SlicePlacement { SlicePlacement(shape: inputShape, axis: axis, range: range) }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        [PlaceSlices.placing([g], at: [place], in: inputShape)]
    }
}

/// The same elements with their axes reordered: output axis i is input axis `axes[i]`. Its
/// gradient is the inverse permutation.
struct Permute<Scalar: TensorScalar>: TensorOperation {
    let inputShape: [Int]
    let axes: [Int]
    /// The output's shape, and the input's stride along each output axis.
    private let shape, strides: [Int]

    init(_ inputShape: [Int], axes: [Int]) {
        (self.inputShape, self.axes) = (inputShape, axes)
        var inputStrides = [Int](repeating: 1, count: inputShape.count)
        for axis in inputShape.indices.dropLast().reversed() { inputStrides[axis] = inputStrides[axis + 1] * inputShape[axis + 1] }
        shape = axes.map { inputShape[$0] }
        strides = axes.map { inputStrides[$0] }
    }

    var name: String { "permute" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        copyRows(of: buffers.input(0), strides: strides, into: buffers.output, shape: shape)
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        var inverse = axes
        for (position, axis) in axes.enumerated() { inverse[axis] = position }
        return [g.permuted(inverse)]
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
            return Slice(axis: axis, range: start ..< start + shape[axis], inputShape: outputShape)([g], shape: shape)
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

    /// The same elements with the axes reordered: axis i of the result is axis `axes[i]` of
    /// this tensor (negative axes count from the end), as PyTorch's `permute`.
    ///
    /// ```swift
    /// let heads = x.reshaped(to: [b, t, h, d]).permuted([0, 2, 1, 3])   // [b, h, t, d]
    /// ```
    public func permuted(_ axes: [Int]) -> Tensor {
        let resolved = axes.map { normalizedAxis($0, op: "permuted") }
        check(resolved.count == rank && Set(resolved).count == rank,
              "permuted: \(axes) is not a permutation of the \(rank) axes of shape \(shape)")
        if resolved == Array(0..<rank) { return self }
        let op = Permute<Scalar>(shape, axes: resolved)
        return op([self], shape: resolved.map { shape[$0] })
    }

    /// The tensor with axes `first` and `second` swapped (negative axes count from the end).
    public func transposed(_ first: Int, _ second: Int) -> Tensor {
        var axes = Array(0..<rank)
        axes.swapAt(normalizedAxis(first, op: "transposed"), normalizedAxis(second, op: "transposed"))
        return permuted(axes)
    }

    /// The transpose of the last two axes: of a matrix, or of each matrix in a batch.
    /// (``matmul(_:_:transposingA:transposingB:)`` reads a transposed operand in place; use this
    /// when the transpose itself is wanted.)
    public func transposed() -> Tensor {
        check(rank >= 2, "transposed: needs at least 2 dimensions, got shape \(shape)")
        return transposed(-2, -1)
    }

    /// The same elements with a dimension of size 1 inserted at `axis` (negative counts from
    /// the end of the result: -1 appends one). A view, no copy.
    public func expandingShape(at axis: Int) -> Tensor {
        let position = axis < 0 ? axis + rank + 1 : axis
        check(position >= 0 && position <= rank, "expandingShape: axis \(axis) is out of range for shape \(shape)")
        var newShape = shape
        newShape.insert(1, at: position)
        return reshaped(to: newShape)
    }

    /// The same elements without the dimension of size 1 at `axis`. A view, no copy.
    public func squeezingShape(at axis: Int) -> Tensor {
        let axis = normalizedAxis(axis, op: "squeezingShape")
        check(shape[axis] == 1, "squeezingShape: axis \(axis) of shape \(shape) has size \(shape[axis]), not 1")
        var newShape = shape
        newShape.remove(at: axis)
        return reshaped(to: newShape)
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

    /// The tensors, all of one shape, stacked along a new dimension at `axis` (negative counts
    /// from the end of the result): n tensors of shape [a, b] stack to [n, a, b] at axis 0, to
    /// [a, n, b] at axis 1.
    public init(stacking tensors: [Tensor], alongAxis axis: Int = 0) {
        check(!tensors.isEmpty, "stack: no tensors given")
        for t in tensors {
            check(t.shape == tensors[0].shape, "stack: shapes \(tensors[0].shape) and \(t.shape) differ")
        }
        self.init(concatenating: tensors.map { $0.expandingShape(at: axis) },
                  alongAxis: axis < 0 ? axis + tensors[0].rank + 1 : axis)
    }

    /// The tensor cut along `axis` into consecutive pieces of the given sizes, which must add up
    /// to the axis's length: the inverse of ``init(concatenating:alongAxis:)``.
    public func split(sizes: [Int], alongAxis axis: Int = 0) -> [Tensor] {
        let axis = normalizedAxis(axis, op: "split")
        check(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[axis],
              "split: sizes \(sizes) do not add up to the length \(shape[axis]) of axis \(axis) of shape \(shape)")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return slice(alongAxis: axis, start ..< start + size)
        }
    }

    /// The tensor cut along `axis` into `count` pieces of equal size, as PyTorch's `chunk` when
    /// the length divides evenly (the only case allowed: attention's query, key and value).
    public func chunked(into count: Int, alongAxis axis: Int = 0) -> [Tensor] {
        let axis = normalizedAxis(axis, op: "chunked")
        check(count > 0 && shape[axis] % count == 0,
              "chunked: axis \(axis) of shape \(shape) does not split into \(count) equal pieces")
        return split(sizes: Array(repeating: shape[axis] / count, count: count), alongAxis: axis)
    }

    /// The elements whose index along `axis` lies in `range`.
    public func slice(alongAxis axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = normalizedAxis(axis, op: "slice(alongAxis:)")
        check(range.lowerBound >= 0 && range.upperBound <= shape[axis],
              "slice(alongAxis:): range \(range) is out of bounds for axis \(axis) of shape \(shape)")
        var outputShape = shape
        outputShape[axis] = range.count
        return Slice(axis: axis, range: range, inputShape: shape)([self], shape: outputShape)
    }
}
