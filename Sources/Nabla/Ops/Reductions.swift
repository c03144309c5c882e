/// A tensor's shape split around one axis: `outer` rows of `length` elements spaced `inner`
/// apart. Every reduction along an axis is a loop over this.
struct AxisSplit {
    let outer: Int, length: Int, inner: Int

    init(_ shape: [Int], axis: Int) {
        outer = shape[..<axis].reduce(1, *)
        length = shape[axis]
        inner = shape[(axis + 1)...].reduce(1, *)
    }

    /// The flat offset of element `k` along the axis in slice (`o`, `i`).
    @inline(__always)
    func offset(_ o: Int, _ k: Int, _ i: Int) -> Int { (o * length + k) * inner + i }
}

/// The sum of all elements; its gradient is the upstream value everywhere.
struct Sum<Scalar: TensorScalar>: TensorOperation {
    let inputShape: [Int]

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let x = buffers.input(0)
        buffers.output[0] = interleavedSum(count: inputShape.reduce(1, *)) { x[$0] }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        [g.reshaped(to: []).broadcast(to: inputShape)]
    }
}

/// Sums or takes the maximum along one axis.
struct AxisReduction<Scalar: TensorScalar>: TensorOperation {
    enum Function { case sum, max }
    let function: Function
    let inputShape: [Int]
    let axis: Int
    let split: AxisSplit

    init(_ function: Function, _ inputShape: [Int], axis: Int) {
        (self.function, self.inputShape, self.axis) = (function, inputShape, axis)
        split = AxisSplit(inputShape, axis: axis)
    }

    var name: String { "\(function)(alongAxis:)" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y, s) = (buffers.input(0), buffers.output, split)
        forEachChunk(s.outer, unitSize: s.length * s.inner, (self, x, y, s)) { operands, outer in
            let (op, x, y, s) = operands
            for o in outer {
                for i in 0..<s.inner {
                    switch op.function {
                    case .sum:
                        var total: Scalar = 0
                        for k in 0..<s.length { total += x[s.offset(o, k, i)] }
                        y[o * s.inner + i] = total
                    case .max:
                        y[o * s.inner + i] = x[op.firstMaximum(x, o, i)]
                    }
                }
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        switch function {
        case .sum:
            var kept = inputShape
            kept[axis] = 1
            return [g.reshaped(to: kept).broadcast(to: inputShape)]
        case .max:
            return [MaximumGradient(reduction: self)([call.inputs[0], g], shape: inputShape)]
        }
    }

    /// The offset of the first largest element of slice (`o`, `i`); NaN counts as largest, as in
    /// NumPy and PyTorch, so that it propagates.
    @inline(__always)
    func firstMaximum(_ x: UnsafePointer<Scalar>, _ o: Int, _ i: Int) -> Int {
        var best = split.offset(o, 0, i)
        // The best value kept at hand: reading it back through `best` would make each comparison
        // wait for the previous one's load.
        var largest = x[best]
        if largest.isNaN { return best }
        for k in 1..<Swift.max(split.length, 1) {
            let offset = split.offset(o, k, i)
            if x[offset] > largest { (best, largest) = (offset, x[offset]) }
            if x[offset].isNaN { return offset }
        }
        return best
    }
}

/// The gradient of a maximum along an axis: each slice's upstream value at its first maximum.
/// It has no gradient of its own: `max(alongAxis:)` is not twice differentiable.
struct MaximumGradient<Scalar: TensorScalar>: TensorOperation {
    let reduction: AxisReduction<Scalar>

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, g, dx, s) = (buffers.input(0), buffers.input(1), buffers.output, reduction.split)
        dx.initialize(repeating: 0, count: reduction.inputShape.reduce(1, *))
        for o in 0..<s.outer {
            for i in 0..<s.inner { dx[reduction.firstMaximum(x, o, i)] += g[o * s.inner + i] }
        }
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
    public func sum() -> Tensor {
        Sum(inputShape: shape)([self], shape: [])
    }

    /// The mean of all elements, as a scalar tensor.
    public func mean() -> Tensor {
        sum() / Scalar(count)
    }

    private func reduce(_ function: AxisReduction<Scalar>.Function, _ axis: Int, keeping: Bool, op: String) -> Tensor {
        let axis = normalizedAxis(axis, op: op)
        check(function == .sum || shape[axis] > 0, "\(op): axis \(axis) of shape \(shape) is empty")
        let reduction = AxisReduction<Scalar>(function, shape, axis: axis)
        return reduction([self], shape: reducedShape(axis, keeping: true)).reshaped(to: reducedShape(axis, keeping: keeping))
    }

    /// Sums along `axis` (negative counts from the end), keeping it as size 1 if asked.
    public func sum(alongAxis axis: Int, keepingDimension: Bool = false) -> Tensor {
        reduce(.sum, axis, keeping: keepingDimension, op: "sum(alongAxis:)")
    }

    /// The mean along `axis`, keeping it as size 1 if asked.
    public func mean(alongAxis axis: Int, keepingDimension: Bool = false) -> Tensor {
        let length = shape[normalizedAxis(axis, op: "mean(alongAxis:)")]
        return sum(alongAxis: axis, keepingDimension: keepingDimension) / Scalar(length)
    }

    /// Sums along every axis in `axes` (negative counts from the end), keeping them as size 1
    /// if asked.
    public func sum(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let resolved = axes.map { normalizedAxis($0, op: "sum(alongAxes:)") }
        check(Set(resolved).count == resolved.count, "sum(alongAxes:): axes \(axes) repeat an axis of shape \(shape)")
        let kept = resolved.reduce(self) { x, axis in x.sum(alongAxis: axis, keepingDimension: true) }
        return keepingDimensions ? kept : kept.reshaped(to: shape.indices.filter { !resolved.contains($0) }.map { shape[$0] })
    }

    /// The mean along every axis in `axes`, keeping them as size 1 if asked.
    public func mean(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let length = axes.map { shape[normalizedAxis($0, op: "mean(alongAxes:)")] }.reduce(1, *)
        return sum(alongAxes: axes, keepingDimensions: keepingDimensions) / Scalar(length)
    }

    /// The variance along every axis in `axes`: the mean squared deviation from the mean, with
    /// the sum divided by n − `correction` (0, the default, as NumPy and layer norm; 1 for the
    /// unbiased estimate, PyTorch's `var` default).
    public func variance(alongAxes axes: [Int], keepingDimensions: Bool = false, correction: Int = 0) -> Tensor {
        let length = axes.map { shape[normalizedAxis($0, op: "variance(alongAxes:)")] }.reduce(1, *)
        check(correction >= 0 && length > correction,
              "variance(alongAxes:): correction \(correction) needs more than \(correction) elements, not \(length)")
        let deviation = self - mean(alongAxes: axes, keepingDimensions: true)
        return deviation.squared().sum(alongAxes: axes, keepingDimensions: keepingDimensions) / Scalar(length - correction)
    }

    /// The variance along `axis`; see ``variance(alongAxes:keepingDimensions:correction:)``.
    public func variance(alongAxis axis: Int, keepingDimension: Bool = false, correction: Int = 0) -> Tensor {
        variance(alongAxes: [axis], keepingDimensions: keepingDimension, correction: correction)
    }

    /// The maximum along `axis`. The gradient flows to the first maximal element of each slice;
    /// a slice holding NaN has NaN as its maximum.
    public func max(alongAxis axis: Int, keepingDimension: Bool = false) -> Tensor {
        reduce(.max, axis, keeping: keepingDimension, op: "max(alongAxis:)")
    }

    /// The index of the largest element along `axis`, for each slice (the first one on ties; the
    /// first NaN, if the slice holds one, as NumPy and PyTorch do). For a [batch, classes] tensor
    /// of outputs, `argmax(alongAxis: 1)` is the predicted classes.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func argmax(alongAxis axis: Int) -> [Int] {
        let axis = normalizedAxis(axis, op: "argmax(alongAxis:)")
        check(shape[axis] > 0, "argmax(alongAxis:): axis \(axis) of shape \(shape) is empty")
        let reduction = AxisReduction<Scalar>(.max, shape, axis: axis)
        let s = reduction.split
        return withUnsafeBufferPointer { x in
            var answers: [Int] = []
            answers.reserveCapacity(s.outer * s.inner)
            for o in 0..<s.outer {
                for i in 0..<s.inner { answers.append((reduction.firstMaximum(x.baseAddress!, o, i) / s.inner) % s.length) }
            }
            return answers
        }
    }
}
