extension Tensor {
    /// This tensor repeated along broadcast dimensions to `targetShape` (NumPy rules).
    ///
    /// The gradient sums back over the repeated dimensions: see ``sum(toShape:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func broadcast(to targetShape: [Int]) -> Tensor {
        let outShape = broadcastShape(shape, targetShape, op: "broadcast")
        check(outShape == targetShape, "broadcast: shape \(shape) cannot broadcast to \(targetShape)")
        if shape == targetShape { return self }
        let value = Tensor(zeros: targetShape).broadcastingZipMap(self, op: "broadcast") { _, x in x }
        let sourceShape = shape
        return value.recorded(from: self) { g in g.sum(toShape: sourceShape) }
    }

    /// Sums over the dimensions along which `targetShape` would be broadcast to this shape: the
    /// inverse of ``broadcast(to:)``, and how a broadcast op's gradient returns to its input.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sum(toShape targetShape: [Int]) -> Tensor {
        if shape == targetShape { return self }
        check(broadcastShape(targetShape, shape, op: "sum(toShape:)") == shape,
              "sum(toShape:): shape \(shape) cannot be reduced to \(targetShape)")
        var out = [Scalar](repeating: 0, count: targetShape.reduce(1, *))
        scalars.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { y in
                if targetShape.isSuffix(of: shape) {
                    // A bias's gradient: the rows summed, no index walk.
                    addRows(of: x.baseAddress!, rows: x.count / y.count, columns: y.count, into: y.baseAddress!)
                    return
                }
                var w = BroadcastWalk(from: targetShape, to: shape)
                var i = 0
                while i < x.count {
                    let (o, s) = (w.offset, w.innerStride)
                    for j in 0..<w.innerCount { y[o + j * s] += x[i + j] }
                    i += w.innerCount
                    w.advanceOuter()
                }
            }
        }
        let value = Tensor(shape: targetShape, unchecked: out)
        let sourceShape = shape
        return value.recorded(from: self) { g in g.broadcast(to: sourceShape) }
    }
}
