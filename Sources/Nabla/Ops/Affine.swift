extension Tensor {
    /// x·Wᵀ + b for a batch of rows x [m, in], weights W [out, in] and bias b [out]: a dense
    /// layer's forward pass as one op.
    ///
    /// The same as `matmul(x, w, transposingB: true) + b`, fused so that a training step records
    /// one node instead of two, and the bias is added while the product is formed.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func affine(_ x: Tensor, weight: Tensor, bias: Tensor) -> Tensor {
        check(x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1] && bias.shape == [weight.shape[0]],
              "affine: input \(x.shape), weight \(weight.shape) and bias \(bias.shape) do not fit [m, in], [out, in], [out]")
        let op = Affine<Scalar>(rows: x.shape[0], outputs: weight.shape[0], inputs: x.shape[1])
        return op([x, weight, bias], shape: [op.rows, op.outputs])
    }
}

/// z = x·Wᵀ + b with x [rows, inputs], W [outputs, inputs], b [outputs]; its pullback is the
/// textbook one: ∂x = g·W, ∂W = gᵀ·x, ∂b = Σ over rows of g.
struct Affine<Scalar: TensorScalar>: Primitive {
    let rows, outputs, inputs: Int

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ operands: PrimitiveInputs<Scalar>, into z: UnsafeMutablePointer<Scalar>) {
        let (x, w, b) = (operands[0], operands[1], operands[2])
        // Each row starts as b, and the kernel accumulates x·Wᵀ onto it.
        for row in 0..<rows { (z + row * outputs).initialize(from: b, count: outputs) }
        Scalar.gemm(transposeA: false, transposeB: true, m: rows, n: outputs, k: inputs,
                    a: x, b: w, c: z, accumulate: true)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func backward(
        input index: Int, _ operands: PrimitiveInputs<Scalar>, output _: UnsafePointer<Scalar>,
        upstream g: UnsafePointer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        switch index {
        case 0:  // ∂x = g·W: [rows, outputs]·[outputs, inputs]
            Scalar.gemm(transposeA: false, transposeB: false, m: rows, n: inputs, k: outputs,
                        a: g, b: operands[1], c: gradient, accumulate: false)
        case 1:
            weightGradient(g, operands[0], scale: 1, accumulate: false, into: gradient)
        default:  // ∂b = Σ over rows of g
            gradient.initialize(repeating: 0, count: outputs)
            addRows(of: g, rows: rows, columns: outputs, into: gradient)
        }
    }

    /// The weight's step without weight decay is one product, W += (−rate)·gᵀ·x: no gradient is
    /// written and read back, which saves a pass over both. The result is the same to the bit:
    /// each element of gᵀ·x is summed in the same order, then meets W in the same multiply-add
    /// (fused or not, as the path compiles it) as in SGD's kernel.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func step(
        input index: Int, _ operands: PrimitiveInputs<Scalar>, output: UnsafePointer<Scalar>,
        upstream g: UnsafePointer<Scalar>, parameter: UnsafeMutablePointer<Scalar>, count: Int,
        rate: Scalar, decay: Scalar, scratch: UnsafeMutablePointer<Scalar>
    ) {
        guard index == 1, decay == 0 else {
            return stepAlongGradient(input: index, operands, output: output, upstream: g, parameter: parameter,
                                     count: count, rate: rate, decay: decay, scratch: scratch)
        }
        weightGradient(g, operands[0], scale: -rate, accumulate: true, into: parameter)
    }

    /// ∂W = gᵀ·x, [rows, outputs]ᵀ·[rows, inputs], times `scale`, written or added into `c`.
    private func weightGradient(
        _ g: UnsafePointer<Scalar>, _ x: UnsafePointer<Scalar>, scale: Scalar, accumulate: Bool,
        into c: UnsafeMutablePointer<Scalar>
    ) {
        Scalar.gemm(transposeA: true, transposeB: false, m: outputs, n: inputs, k: rows,
                    a: g, b: x, c: c, scale: scale, accumulate: accumulate)
    }
}
