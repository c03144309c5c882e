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

        let value = product(a, b, m: m, n: n, k: k, transposingA: transposeA, transposingB: transposeB)
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

extension Tensor {
    /// The [m, n] product op(a)·op(b) through the kernel, untracked; each row starts from `rowStart`
    /// (a bias, which the kernel then accumulates onto) or from zero. Shapes are the caller's to check.
    static func product(
        _ a: Tensor, _ b: Tensor, m: Int, n: Int, k: Int,
        transposingA transposeA: Bool, transposingB transposeB: Bool, rowStart: Tensor? = nil
    ) -> Tensor {
        let values = [Scalar](unsafeUninitializedCapacity: m * n) { c, initialized in
            if let rowStart {
                rowStart.scalars.withUnsafeBufferPointer { start in
                    for row in 0..<m { (c.baseAddress! + row * n).initialize(from: start.baseAddress!, count: n) }
                }
            }
            a.scalars.withUnsafeBufferPointer { pa in
                b.scalars.withUnsafeBufferPointer { pb in
                    Scalar.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                a: pa.baseAddress!, b: pb.baseAddress!, c: c.baseAddress!,
                                accumulate: rowStart != nil)
                }
            }
            initialized = m * n
        }
        return Tensor(shape: [m, n], unchecked: values)
    }
}
