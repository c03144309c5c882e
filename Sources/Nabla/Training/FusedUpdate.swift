/// An optimisation of recorded programs, and the only one: plain SGD's update of a weight whose
/// gradient is a matrix product, folded into that product.
///
/// A dense layer's weight gradient is gᵀ·x, and plain SGD (no momentum, no weight decay) then
/// takes w ← w − η·(gᵀ·x). Folded, the product adds −η·gᵀ·x onto w directly: the gradient is
/// never written and read back, a pass over every weight saved. The result is the same to the
/// bit: each element of gᵀ·x is summed in the same order, then meets w in the same multiply-add
/// (fused or not, as the kernel path compiles it) as in SGD's kernel.
///
/// No op or optimizer knows about this pass: deleting this file and its one call leaves every
/// step computing the same, a little slower.
extension Program {
    /// Folds each plain SGD step whose gradient comes from a matrix product, read by nothing
    /// else, into that product. `results` are the buffers the caller reads after a run.
    func foldSGDIntoProducts(keeping results: [Export]) {
        rewrite { launches in
            var folded: [Int] = []
            for (index, launch) in launches.enumerated() {
                guard let step = launch.op as? SGDStep<Scalar>, step.momentum == 0, step.weightDecay == 0 else { continue }
                let (weight, gradient, hyperparameters) = (launch.operands[0], launch.operands[1], launch.operands[2])
                guard gradient.byteOffset == 0, !results.contains(where: { $0.buffer == gradient.buffer }),
                      let producer = launches[..<index].lastIndex(where: { $0.operands[$0.operands.count - 2] == gradient }),
                      let product = launches[producer].op as? MatrixProduct<Scalar>,
                      product.batchCount == 1, product.rows * product.columns == step.count else { continue }
                // Between the product and the step, nothing may read the gradient or the weight
                // (a gradient formed later may read the weight's old value), and nothing but
                // the step may read the gradient at all.
                let readers = launches.indices.filter { other in
                    other != index && launches[other].operands.dropLast(2).contains { $0.buffer == gradient.buffer }
                }
                let weightReadBetween = launches[(producer + 1) ..< index].contains { other in
                    other.operands.contains { $0.buffer == weight.buffer }
                }
                guard readers.isEmpty, !weightReadBetween else { continue }
                let (a, b) = (launches[producer].operands[0], launches[producer].operands[1])
                launches[producer] = (SGDProductStep(product: product), [a, b, weight, hyperparameters, weight, weight])
                folded.append(index)
            }
            for index in folded.reversed() { launches.remove(at: index) }
        }
    }
}

/// w += −η·op(A)·op(B): a matrix product and plain SGD's step on the weight it is the gradient of,
/// in one pass. Operands: A, B, the weight w and the hyperparameters [η].
struct SGDProductStep<Scalar: TensorScalar>: TensorOperation {
    let product: MatrixProduct<Scalar>

    var name: String { "matmul folded into SGD" }

    func forward(_ buffers: OperationBuffers<Scalar>) {
        let p = product
        Scalar.gemm(transposeA: p.transposeA, transposeB: p.transposeB, m: p.rows, n: p.columns, k: p.inner,
                    a: buffers.input(0), b: buffers.input(1), c: buffers.updating(2), scale: -buffers.input(3)[0],
                    accumulate: true)
    }
}
