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

        let product = [Scalar](unsafeUninitializedCapacity: m * n) { c, initialized in
            a.scalars.withUnsafeBufferPointer { pa in
                b.scalars.withUnsafeBufferPointer { pb in
                    Scalar.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                a: pa.baseAddress!, b: pb.baseAddress!, c: c.baseAddress!,
                                accumulate: false)
                }
            }
            initialized = m * n
        }
        let value = Tensor(shape: [m, n], unchecked: product)
        let (savedA, savedB) = (a.detached, b.detached)
        // With C = op(A)·op(B): ∂op(A) = ∂C·op(B)ᵀ and ∂op(B) = op(A)ᵀ·∂C, transposed back
        // wherever A or B was stored transposed.
        return value.recorded(
            from: a, { g in
                transposeA ? matmul(savedB, g, transposingA: transposeB, transposingB: true)
                           : matmul(g, savedB, transposingB: !transposeB)
            },
            and: b, { g in
                transposeB ? matmul(g, savedA, transposingA: true, transposingB: transposeA)
                           : matmul(savedA, g, transposingA: !transposeA)
            })
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
