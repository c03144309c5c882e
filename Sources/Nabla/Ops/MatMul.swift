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
public func matmul<Scalar>(
    _ a: Tensor<Scalar>, _ b: Tensor<Scalar>, transposingA: Bool = false, transposingB: Bool = false
) -> Tensor<Scalar> {
    Tensor.matmul(a, b, transposingA: transposingA, transposingB: transposingB)
}

/// C = op(A)·op(B), [rows, inner]·[inner, columns], with either operand stored transposed.
///
/// With C = op(A)·op(B): ∂op(A) = ∂C·op(B)ᵀ and ∂op(B) = op(A)ᵀ·∂C, each formed directly in the
/// operand's stored layout, so neither gradient is ever transposed afterwards.
struct MatrixProduct<Scalar: TensorScalar>: TensorOperation {
    let rows, columns, inner: Int
    let transposeA, transposeB: Bool

    var name: String { "matmul" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        Scalar.gemm(transposeA: transposeA, transposeB: transposeB, m: rows, n: columns, k: inner,
                    a: buffers.input(0), b: buffers.input(1), c: buffers.output, accumulate: false)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let (a, b) = (call.inputs[0], call.inputs[1])
        let da = transposeA ? matmul(b, g, transposingA: transposeB, transposingB: true)  // op(B)·gᵀ
                            : matmul(g, b, transposingB: !transposeB)                      // g·op(B)ᵀ
        let db = transposeB ? matmul(g, a, transposingA: true, transposingB: transposeA)  // gᵀ·op(A)
                            : matmul(a, g, transposingA: !transposeA)                      // op(A)ᵀ·g
        return [call.needsGradient(0) ? da : nil, call.needsGradient(1) ? db : nil]
    }
}
