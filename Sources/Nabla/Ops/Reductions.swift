/// A tensor's shape split around one axis: `outer` rows of `length` elements spaced `inner`
/// apart. Every reduction along an axis is a loop over this.
struct AxisSplit {
    let outer: Int, length: Int, inner: Int

    init(_ shape: [Int], axis: Int) {
        outer = shape[..<axis].reduce(1, *)
        length = shape[axis]
        inner = shape[(axis + 1)...].reduce(1, *)
    }
}

extension Tensor {
    /// Resolves a possibly negative axis (-1 is the last) and checks it exists.
    func normalizedAxis(_ axis: Int, op: String) -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        check(resolved >= 0 && resolved < rank, "\(op): axis \(axis) is out of range for shape \(shape)")
        return resolved
    }

    /// The shape after reducing `axis`: kept as size 1, or removed.
    func reducedShape(_ axis: Int, keeping: Bool) -> [Int] {
        var s = shape
        if keeping { s[axis] = 1 } else { s.remove(at: axis) }
        return s
    }

    /// The sum of all elements, as a scalar tensor.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sum() -> Tensor {
        let total = scalars.withUnsafeBufferPointer { x in interleavedSum(count: x.count) { x[$0] } }
        let inputShape = shape
        return Tensor(total).recorded(from: self) { g in Tensor(repeating: g.scalar, shape: inputShape) }
    }

    /// The mean of all elements, as a scalar tensor.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func mean() -> Tensor {
        sum() / Scalar(count)
    }

    /// Sums along `axis` (negative counts from the end), keeping it as size 1 if asked.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sum(alongAxis axis: Int, keepingDimension: Bool = false) -> Tensor {
        let axis = normalizedAxis(axis, op: "sum(alongAxis:)")
        let split = AxisSplit(shape, axis: axis)
        var out = [Scalar](repeating: 0, count: split.outer * split.inner)
        scalars.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { y in
                for o in 0..<split.outer {
                    for k in 0..<split.length {
                        let row = (o * split.length + k) * split.inner
                        for i in 0..<split.inner { y[o * split.inner + i] += x[row + i] }
                    }
                }
            }
        }
        let value = Tensor(shape: reducedShape(axis, keeping: keepingDimension), unchecked: out)
        let (inputShape, keptShape) = (shape, reducedShape(axis, keeping: true))
        return value.recorded(from: self) { g in g.reshaped(to: keptShape).broadcast(to: inputShape) }
    }

    /// The mean along `axis`, keeping it as size 1 if asked.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func mean(alongAxis axis: Int, keepingDimension: Bool = false) -> Tensor {
        let length = shape[normalizedAxis(axis, op: "mean(alongAxis:)")]
        return sum(alongAxis: axis, keepingDimension: keepingDimension) / Scalar(length)
    }

    /// The maximum along `axis`. The gradient flows to the first maximal element of each slice.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func max(alongAxis axis: Int, keepingDimension: Bool = false) -> Tensor {
        let axis = normalizedAxis(axis, op: "max(alongAxis:)")
        check(shape[axis] > 0, "max(alongAxis:): axis \(axis) of shape \(shape) is empty")
        let winners = argmaxOffsets(axis: axis)
        let out = winners.map { scalars[$0] }
        let value = Tensor(shape: reducedShape(axis, keeping: keepingDimension), unchecked: out)
        let inputShape = shape
        return value.recorded(from: self) { g in
            var grad = [Scalar](repeating: 0, count: inputShape.reduce(1, *))
            for (slot, offset) in winners.enumerated() { grad[offset] += g.scalars[slot] }
            return Tensor(shape: inputShape, unchecked: grad)
        }
    }

    /// The index of the largest element along `axis`, for each slice (the first one on ties).
    /// For a [batch, classes] tensor of outputs, `argmax(alongAxis: 1)` is the predicted classes.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func argmax(alongAxis axis: Int) -> [Int] {
        let axis = normalizedAxis(axis, op: "argmax(alongAxis:)")
        check(shape[axis] > 0, "argmax(alongAxis:): axis \(axis) of shape \(shape) is empty")
        let split = AxisSplit(shape, axis: axis)
        return argmaxOffsets(axis: axis).map { ($0 / split.inner) % split.length }
    }

    /// For each slice along `axis`, the flat offset of its (first) largest element.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func argmaxOffsets(axis: Int) -> [Int] {
        let split = AxisSplit(shape, axis: axis)
        var winners = [Int](repeating: 0, count: split.outer * split.inner)
        scalars.withUnsafeBufferPointer { x in
            for o in 0..<split.outer {
                for i in 0..<split.inner {
                    var best = o * split.length * split.inner + i
                    // The best value kept at hand: reading it back through `best` would make
                    // each comparison wait for the previous one's load.
                    var largest = x[best]
                    for k in 1..<Swift.max(split.length, 1) {
                        let offset = (o * split.length + k) * split.inner + i
                        if x[offset] > largest { (best, largest) = (offset, x[offset]) }
                    }
                    winners[o * split.inner + i] = best
                }
            }
        }
        return winners
    }
}
