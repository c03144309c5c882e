extension Tensor {
    /// x·Wᵀ + b for a batch of rows x [m, in], weights W [out, in] and bias b [out]: a dense
    /// layer's forward pass as one op.
    ///
    /// The same as `matmul(x, w, transposingB: true) + b`, fused so that the bias is added while
    /// the product is formed.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func affine(_ x: Tensor, weight: Tensor, bias: Tensor) -> Tensor {
        check(x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1] && bias.shape == [weight.shape[0]],
              "affine: input \(x.shape), weight \(weight.shape) and bias \(bias.shape) do not fit [m, in], [out, in], [out]")
        let op = Affine<Scalar>(rows: x.shape[0], outputs: weight.shape[0], inputs: x.shape[1])
        return op([x, weight, bias], shape: [op.rows, op.outputs])
    }
}

/// z = x·Wᵀ + b with x [rows, inputs], W [outputs, inputs], b [outputs]; its gradient is the
/// textbook one: ∂x = g·W, ∂W = gᵀ·x, ∂b = Σ over rows of g.
struct Affine<Scalar: TensorScalar>: TensorOperation {
    let rows, outputs, inputs: Int

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, w, b, z) = (buffers.input(0), buffers.input(1), buffers.input(2), buffers.output)
        // Each row starts as b, and the kernel accumulates x·Wᵀ onto it.
        for row in 0..<rows { (z + row * outputs).update(from: b, count: outputs) }
        Scalar.gemm(transposeA: false, transposeB: true, m: rows, n: outputs, k: inputs,
                    a: x, b: w, c: z, accumulate: true)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let (x, w) = (call.inputs[0], call.inputs[1])
        return [call.needsGradient(0) ? matmul(g, w) : nil,
                call.needsGradient(1) ? matmul(g, x, transposingA: true) : nil,
                call.needsGradient(2) ? g.sum(toShape: [outputs]) : nil]
    }
}
