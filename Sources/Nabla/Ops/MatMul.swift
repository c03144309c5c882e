extension Tensor {
    /// The matrix product op(a)·op(b) of two 2-D tensors, where op transposes its operand when
    /// asked. A transposed operand is read in place, never copied.
    ///
    /// ```swift
    /// let z = matmul(x, w)                           // [m, k] · [k, n]
    /// let dx = matmul(dz, w, transposingB: true)     // [m, n] · [k, n]ᵀ
    /// ```
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func matmul(
        _ a: Tensor, _ b: Tensor, transposingA transposeA: Bool = false, transposingB transposeB: Bool = false
    ) -> Tensor {
        let describe = { "\(a.shape)\(transposeA ? "ᵀ" : "") × \(b.shape)\(transposeB ? "ᵀ" : "")" }
        check(a.rank == 2 && b.rank == 2, "matmul: \(describe()): both operands must be 2-D")
        let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (k2, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        check(k == k2, "matmul: \(describe()): inner dimensions \(k) and \(k2) differ")

        let op = MatrixProduct<Scalar>(rows: m, columns: n, inner: k, transposeA: transposeA, transposeB: transposeB)
        return op([a, b], shape: [m, n])
    }
}

/// The matrix product op(a)·op(b) of two 2-D tensors; see ``Tensor/matmul(_:_:transposingA:transposingB:)``.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func matmul<Scalar>(
    _ a: Tensor<Scalar>, _ b: Tensor<Scalar>, transposingA: Bool = false, transposingB: Bool = false
) -> Tensor<Scalar> {
    Tensor.matmul(a, b, transposingA: transposingA, transposingB: transposingB)
}

/// C = op(A)·op(B), [rows, inner]·[inner, columns], with either operand stored transposed.
///
/// With C = op(A)·op(B): ∂op(A) = ∂C·op(B)ᵀ and ∂op(B) = op(A)ᵀ·∂C, each formed directly in the
/// operand's stored layout, so neither gradient is ever transposed afterwards.
struct MatrixProduct<Scalar: TensorScalar>: Primitive {
    let rows, columns, inner: Int
    let transposeA, transposeB: Bool

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ inputs: PrimitiveInputs<Scalar>, into c: UnsafeMutablePointer<Scalar>) {
        Scalar.gemm(transposeA: transposeA, transposeB: transposeB, m: rows, n: columns, k: inner,
                    a: inputs[0], b: inputs[1], c: c, accumulate: false)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func backward(
        input index: Int, _ inputs: PrimitiveInputs<Scalar>, output _: UnsafePointer<Scalar>,
        upstream g: UnsafePointer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        let (a, b) = (inputs[0], inputs[1])
        switch (index, transposeA, transposeB) {
        case (0, false, _):  // ∂A [rows, inner] = g·op(B)ᵀ
            Scalar.gemm(transposeA: false, transposeB: !transposeB, m: rows, n: inner, k: columns,
                        a: g, b: b, c: gradient, accumulate: false)
        case (0, true, _):  // ∂A stored [inner, rows] = op(B)·gᵀ
            Scalar.gemm(transposeA: transposeB, transposeB: true, m: inner, n: rows, k: columns,
                        a: b, b: g, c: gradient, accumulate: false)
        case (_, _, false):  // ∂B [inner, columns] = op(A)ᵀ·g
            Scalar.gemm(transposeA: !transposeA, transposeB: false, m: inner, n: columns, k: rows,
                        a: a, b: g, c: gradient, accumulate: false)
        default:  // ∂B stored [columns, inner] = gᵀ·op(A)
            Scalar.gemm(transposeA: true, transposeB: transposeA, m: columns, n: inner, k: rows,
                        a: g, b: a, c: gradient, accumulate: false)
        }
    }
}
