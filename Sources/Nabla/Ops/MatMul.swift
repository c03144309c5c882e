import CNablaKernels

extension Tensor {
    /// The matrix product op(a)·op(b) over the last two dimensions, where op transposes those two
    /// when asked; any leading dimensions are a batch of products, broadcast as NumPy and
    /// PyTorch's `matmul` broadcast them. A transposed operand is read in place, never copied.
    ///
    /// ```swift
    /// let z = matmul(x, w)                           // [m, k] · [k, n] → [m, n]
    /// let dx = matmul(dz, w, transposingB: true)     // [m, n] · [k, n]ᵀ → [m, k]
    /// let s = matmul(q, k, transposingB: true)       // [B, H, T, d] · [B, H, T, d]ᵀ → [B, H, T, T]
    /// let y = matmul(h, w)                           // [B, T, k] · [k, n] → [B, T, n]
    /// ```
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func matmul(
        _ a: Tensor, _ b: Tensor, transposingA transposeA: Bool = false, transposingB transposeB: Bool = false
    ) -> Tensor {
        let describe = { "\(a.shape)\(transposeA ? "ᵀ" : "") × \(b.shape)\(transposeB ? "ᵀ" : "")" }
        check(a.rank >= 2 && b.rank >= 2, "matmul: \(describe()): both operands need at least 2 dimensions")
        let (a0, a1, b0, b1) = (a.shape[a.rank - 2], a.shape[a.rank - 1], b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (a1, a0) : (a0, a1)
        let (k2, n) = transposeB ? (b1, b0) : (b0, b1)
        check(k == k2, "matmul: \(describe()): inner dimensions \(k) and \(k2) differ")
        if a.rank == 2 && b.rank == 2 {
            let op = MatrixProduct<Scalar>(rows: m, columns: n, inner: k, transposeA: transposeA, transposeB: transposeB)
            return op([a, b], shape: [m, n])
        }
        if b.rank == 2 && !transposeA {
            // A batch of rows times one matrix is one product of all the rows: one kernel call.
            let rows = matmul(a.reshaped(to: [-1, k]), b, transposingB: transposeB)
            return rows.reshaped(to: a.shape.dropLast() + [n])
        }
        let (aBatch, bBatch) = (Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
        let batch = broadcastShape(aBatch, bBatch, op: "matmul \(describe())")
        let op = MatrixProduct<Scalar>(rows: m, columns: n, inner: k, transposeA: transposeA, transposeB: transposeB,
                                       batch: batch, aBatch: aBatch, bBatch: bBatch)
        return op([a, b], shape: batch + [m, n])
    }
}

/// The matrix product op(a)·op(b) over the last two dimensions, batched and broadcast over the
/// others; see ``Tensor/matmul(_:_:transposingA:transposingB:)``.
public func matmul<Scalar>(
    _ a: Tensor<Scalar>, _ b: Tensor<Scalar>, transposingA: Bool = false, transposingB: Bool = false
) -> Tensor<Scalar> {
    Tensor.matmul(a, b, transposingA: transposingA, transposingB: transposingB)
}

/// C = op(A)·op(B), [rows, inner]·[inner, columns], with either operand stored transposed — one
/// product, or a batch of them with A and B broadcast over the batch.
///
/// With C = op(A)·op(B): ∂op(A) = ∂C·op(B)ᵀ and ∂op(B) = op(A)ᵀ·∂C, each formed directly in the
/// operand's stored layout, so neither gradient is ever transposed afterwards; an operand
/// broadcast over the batch gets its products' gradients summed.
struct MatrixProduct<Scalar: TensorScalar>: TensorOperation {
    let rows, columns, inner: Int
    let transposeA, transposeB: Bool
    /// For a batch: where each product's A and B start in their operands (empty for one product).
    let aOffsets, bOffsets: [Int]

    init(rows: Int, columns: Int, inner: Int, transposeA: Bool, transposeB: Bool,
         batch: [Int] = [], aBatch: [Int] = [], bBatch: [Int] = []) {
        (self.rows, self.columns, self.inner, self.transposeA, self.transposeB) = (rows, columns, inner, transposeA, transposeB)
        var (aOffsets, bOffsets) = ([Int](), [Int]())
        if !batch.isEmpty {
            let (aStrides, bStrides) = (broadcastStrides(from: aBatch, to: batch), broadcastStrides(from: bBatch, to: batch))
            forEachBroadcastElement(batch, aStrides, bStrides) { _, a, b in
                aOffsets.append(a * rows * inner)
                bOffsets.append(b * inner * columns)
            }
        }
        (self.aOffsets, self.bOffsets) = (aOffsets, bOffsets)
    }

    var name: String { aOffsets.isEmpty ? "matmul" : "batched matmul" }

    /// How many products one launch forms.
    var batchCount: Int { max(aOffsets.count, 1) }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (a, b, c) = (buffers.input(0), buffers.input(1), buffers.output)
        guard !aOffsets.isEmpty else {
            return Scalar.gemm(transposeA: transposeA, transposeB: transposeB, m: rows, n: columns, k: inner,
                               a: a, b: b, c: c, accumulate: false)
        }
        // A batch's products (attention's, one per head and sequence) are mostly too small to be
        // split one by one, so whole products go to the pool's threads, each computed as it
        // would be alone: the bits do not depend on the threads. With fewer than two a thread,
        // equal shares of whole products would leave a thread idle for much of the time, so then
        // they run one after another, each free to split itself.
        guard aOffsets.count >= 2 * nabla_thread_count() else { return multiply(a, b, c, aOffsets.indices) }
        forEachChunk(aOffsets.count, unitSize: rows * columns, (self, a, b, c)) { operands, products in
            let (op, a, b, c) = operands
            op.multiply(a, b, c, products)
        }
    }

    /// Forms the batch's products numbered `products`.
    @inline(__always)
    private func multiply(_ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>, _ c: UnsafeMutablePointer<Scalar>,
                          _ products: Range<Int>) {
        for product in products {
            Scalar.gemm(transposeA: transposeA, transposeB: transposeB, m: rows, n: columns, k: inner,
                        a: a + aOffsets[product], b: b + bOffsets[product], c: c + product * rows * columns,
                        accumulate: false)
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let (a, b) = (call.inputs[0], call.inputs[1])
        let da = { transposeA ? matmul(b, g, transposingA: transposeB, transposingB: true)  // op(B)·gᵀ
                              : matmul(g, b, transposingB: !transposeB) }                    // g·op(B)ᵀ
        let db = { transposeB ? matmul(g, a, transposingA: true, transposingB: transposeA)  // gᵀ·op(A)
                              : matmul(a, g, transposingA: !transposeA) }                    // op(A)ᵀ·g
        return [call.needsGradient(0) ? da().sum(toShape: a.shape) : nil,
                call.needsGradient(1) ? db().sum(toShape: b.shape) : nil]
    }
}
