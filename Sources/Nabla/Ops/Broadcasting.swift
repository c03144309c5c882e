/// Repeats a tensor along broadcast dimensions (NumPy rules); its gradient sums them back.
struct Broadcast<Scalar: TensorScalar>: TensorOperation {
    let sourceShape, shape: [Int]
    private let strides: [Int]

    init(from sourceShape: [Int], to shape: [Int]) {
        (self.sourceShape, self.shape) = (sourceShape, shape)
        strides = broadcastStrides(from: sourceShape, to: shape)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        copyRows(of: buffers.input(0), strides: strides, into: buffers.output, shape: shape)
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        [g.sum(toShape: sourceShape)]
    }
}

/// Sums a tensor over the dimensions along which `shape` would broadcast to it.
struct SumToShape<Scalar: TensorScalar>: TensorOperation {
    let sourceShape, shape: [Int]
    private let strides: [Int]

    init(from sourceShape: [Int], to shape: [Int]) {
        (self.sourceShape, self.shape) = (sourceShape, shape)
        strides = shape.isSuffix(of: sourceShape) ? [] : broadcastStrides(from: shape, to: sourceShape)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y) = (buffers.input(0), buffers.output)
        let count = shape.reduce(1, *)
        y.initialize(repeating: 0, count: count)
        if strides.isEmpty {
            // A bias's gradient: the rows summed, no index walk.
            addRows(of: x, rows: sourceShape.reduce(1, *) / count, columns: count, into: y)
        } else if let inner = sourceShape.last {
            // Row by row through the source: a row summed into one element (a [B, T, 1]
            // statistic's gradient), or added to a row of the result. One thread: rows of the
            // source may meet in one element.
            let innerStride = strides[sourceShape.count - 1]
            forEachBroadcastRow(sourceShape, strides, strides, rows: 0..<broadcastRowCount(sourceShape)) { i, o, _ in
                if innerStride == 0 {
                    y[o] += interleavedSum(count: inner) { x[i + $0] }
                } else {
                    for k in 0..<inner { y[o + k * innerStride] += x[i + k] }
                }
            }
        } else {
            y[0] = x[0]
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        [g.broadcast(to: sourceShape)]
    }
}

extension Tensor {
    /// This tensor repeated along broadcast dimensions to `targetShape` (NumPy rules).
    ///
    /// The gradient sums back over the repeated dimensions: see ``sum(toShape:)``.
    public func broadcast(to targetShape: [Int]) -> Tensor {
        let outShape = broadcastShape(shape, targetShape, op: "broadcast")
        check(outShape == targetShape, "broadcast: shape \(shape) cannot broadcast to \(targetShape)")
        if shape == targetShape { return self }
        return Broadcast(from: shape, to: targetShape)([self], shape: targetShape)
    }

    /// Sums over the dimensions along which `targetShape` would be broadcast to this shape: the
    /// inverse of ``broadcast(to:)``, and how a broadcast op's gradient returns to its input.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sum(toShape targetShape: [Int]) -> Tensor {
        if shape == targetShape { return self }
        check(broadcastShape(targetShape, shape, op: "sum(toShape:)") == shape,
              "sum(toShape:): shape \(shape) cannot be reduced to \(targetShape)")
        return SumToShape(from: shape, to: targetShape)([self], shape: targetShape)
    }
}
