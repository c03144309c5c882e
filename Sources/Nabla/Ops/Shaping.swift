extension Tensor {
    /// The same elements in a new shape with the same number of elements. One dimension may be
    /// -1, to be inferred.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
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
        let inputShape = shape
        return Tensor(shape: resolved, unchecked: scalars).recorded(from: self) { g in
            g.reshaped(to: inputShape)
        }
    }

    /// The transpose of a 2-D tensor. (``matmul(_:_:transposingA:transposingB:)`` reads a transposed
    /// operand in place; use this when the transpose itself is wanted.)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func transposed() -> Tensor {
        check(rank == 2, "transposed: needs a 2-D tensor, got shape \(shape)")
        let (rows, cols) = (shape[0], shape[1])
        let value = Tensor(shape: [cols, rows]) { out in
            scalars.withUnsafeBufferPointer { x in
                for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = x[r * cols + c] } }
            }
        }
        return value.recorded(from: self) { g in g.transposed() }
    }

    /// The rows (slices along the first axis) in `range`: a mini-batch of a data set.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func rows(_ range: Range<Int>) -> Tensor {
        check(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0],
              "rows: range \(range) is out of bounds for shape \(shape)")
        let rowSize = shape.dropFirst().reduce(1, *)
        let outShape = [range.count] + shape.dropFirst()
        let value = Tensor(shape: outShape, unchecked: Array(scalars[range.lowerBound * rowSize ..< range.upperBound * rowSize]))
        let inputShape = shape
        return value.recorded(from: self) { g in
            var grad = [Scalar](repeating: 0, count: inputShape.reduce(1, *))
            grad.replaceSubrange(range.lowerBound * rowSize ..< range.upperBound * rowSize, with: g.scalars)
            return Tensor(shape: inputShape, unchecked: grad)
        }
    }

    /// The rows at `indices`, in that order (repeats allowed): a shuffled mini-batch. The
    /// gradient of a repeated row is the sum of its copies' gradients.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func gathering(rows indices: [Int]) -> Tensor {
        check(rank >= 1, "gathering(rows:): needs at least one dimension, got shape \(shape)")
        let rowSize = shape.dropFirst().reduce(1, *)
        var out = [Scalar]()
        out.reserveCapacity(indices.count * rowSize)
        for i in indices {
            check(i >= 0 && i < shape[0], "gathering(rows:): row \(i) is out of bounds for shape \(shape)")
            out.append(contentsOf: scalars[i * rowSize ..< (i + 1) * rowSize])
        }
        let inputShape = shape
        return Tensor(shape: [indices.count] + shape.dropFirst(), unchecked: out).recorded(from: self) { g in
            var grad = [Scalar](repeating: 0, count: inputShape.reduce(1, *))
            for (slot, i) in indices.enumerated() {
                for j in 0..<rowSize { grad[i * rowSize + j] += g.scalars[slot * rowSize + j] }
            }
            return Tensor(shape: inputShape, unchecked: grad)
        }
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
        let lengths = tensors.map { $0.shape[axis] }
        var outShape = first.shape
        outShape[axis] = lengths.reduce(0, +)
        let split = AxisSplit(outShape, axis: axis)
        var out = [Scalar]()
        out.reserveCapacity(outShape.reduce(1, *))
        for o in 0..<split.outer {
            for (t, length) in zip(tensors, lengths) {
                let chunk = length * split.inner
                out.append(contentsOf: t.scalars[o * chunk ..< (o + 1) * chunk])
            }
        }
        let value = Tensor(shape: outShape, unchecked: out)
        var start = 0
        var inputs: [(Tensor, (Tensor) -> Tensor)] = []
        for (t, length) in zip(tensors, lengths) {
            let range = start ..< start + length
            inputs.append((t, { g in g.slice(alongAxis: axis, range) }))
            start += length
        }
        self = value.recorded(from: inputs)
    }

    /// The elements whose index along `axis` lies in `range` (untracked helper for concatenation's
    /// gradient).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func slice(alongAxis axis: Int, _ range: Range<Int>) -> Tensor {
        let split = AxisSplit(shape, axis: axis)
        var out = [Scalar]()
        out.reserveCapacity(split.outer * range.count * split.inner)
        for o in 0..<split.outer {
            let base = o * split.length * split.inner
            out.append(contentsOf: scalars[base + range.lowerBound * split.inner ..< base + range.upperBound * split.inner])
        }
        var outShape = shape
        outShape[axis] = range.count
        return Tensor(shape: outShape, unchecked: out)
    }
}
