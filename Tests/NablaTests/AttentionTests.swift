import CNablaKernels
import Nabla
import Testing

/// The fused attention op against the composite it replaces — `matmul`, the scaled causal
/// softmax, `matmul`, over heads copied out — which PyTorch's fixtures and the op table check on
/// their own. (The op table gradient-checks the fused op in Double, to the second order.)
@Suite(.serialized) struct AttentionTests {
    /// The composite attention of packed queries, keys and values [B, T, 3·width].
    func composite<S: TensorScalar>(_ qkv: Tensor<S>, heads: Int, causal: Bool) -> Tensor<S> {
        let (batch, time, width) = (qkv.shape[0], qkv.shape[1], qkv.shape[2] / 3)
        let size = width / heads
        let heads4 = qkv.reshaped(to: [batch, time, 3, heads, size]).permuted([2, 0, 3, 1, 4])
        let (q, k, v) = (heads4.rows(0..<1).squeezingShape(at: 0), heads4.rows(1..<2).squeezingShape(at: 0),
                         heads4.rows(2..<3).squeezingShape(at: 0))
        let weights = softmax(matmul(q, k, transposingB: true), scaledBy: 1 / S(size).squareRoot(), causal: causal)
        return matmul(weights, v).transposed(1, 2).reshaped(to: [batch, time, width])
    }

    /// Shapes with one head and several, sequences of one position, of a few and of more than a
    /// tile of rows, and nanoGPT's CPU configuration's: (batch, time, heads, size).
    static let shapes = [(1, 1, 1, 3), (2, 5, 2, 4), (3, 7, 4, 5), (2, 33, 2, 8), (12, 64, 4, 32)]

    @Test func theValueIsTheCompositesToTheBitAndItsGradientTheCompositesToRounding() {
        for (batch, time, heads, size) in Self.shapes {
            for causal in [true, false] {
                let qkv = Tensor<Float>(converting: random([batch, time, 3 * heads * size], seed: UInt64(time)))
                let upstream = Tensor<Float>(converting: random([batch, time, heads * size], seed: 3))
                let what = "[\(batch), \(time)], \(heads) heads of \(size), causal \(causal)"
                let (fused, fusedPullback) = valueWithPullback(at: [qkv]) {
                    scaledDotProductAttention(queryKeyValue: $0[0], heads: heads, causal: causal)
                }
                let (reference, referencePullback) = valueWithPullback(at: [qkv]) {
                    composite($0[0], heads: heads, causal: causal)
                }
                #expect(sameBits(fused.scalars, reference.scalars), "\(what): the value differs from the composite's")
                expectClose(fusedPullback(upstream)[0].scalars, referencePullback(upstream)[0].scalars, tolerance: 2e-5)
            }
        }
    }

    @Test func doubleIsTheCompositeToRounding() {
        for (batch, time, heads, size) in Self.shapes.dropLast() {
            let qkv = random([batch, time, 3 * heads * size], seed: 8)
            let upstream = random([batch, time, heads * size], seed: 9)
            let (fused, fusedPullback) = valueWithPullback(at: [qkv]) { scaledDotProductAttention(queryKeyValue: $0[0], heads: heads) }
            let (reference, referencePullback) = valueWithPullback(at: [qkv]) { composite($0[0], heads: heads, causal: true) }
            expectClose(fused.scalars, reference.scalars, tolerance: 1e-14)
            expectClose(fusedPullback(upstream)[0].scalars, referencePullback(upstream)[0].scalars, tolerance: 1e-13)
        }
    }

    @Test func resultsDoNotDependOnTheNumberOfThreads() {
        // Each head of each sequence is one share, computed alone whichever thread takes it.
        defer { nabla_set_threads(0) }
        let qkv = Tensor<Float>(converting: random([12, 64, 3 * 128], seed: 4))
        let upstream = Tensor<Float>(converting: random([12, 64, 128], seed: 5))
        func run() -> (value: [Float], gradient: [Float]) {
            let (value, pullback) = valueWithPullback(at: [qkv]) { scaledDotProductAttention(queryKeyValue: $0[0], heads: 4) }
            return (value.scalars, pullback(upstream)[0].scalars)
        }
        nabla_set_threads(1)
        let one = run()
        nabla_set_threads(4)
        let four = run()
        #expect(sameBits(one.value, four.value) && sameBits(one.gradient, four.gradient))
    }

    @Test func aNaNReachesTheQueriesThatSeeIt() {
        // A NaN in the key of position 2 reaches the queries at positions 2… of a causal head (and
        // every query of a head that sees all positions), as the composite's: no other head, and no
        // earlier position, which never sees it.
        let (time, heads, size) = (5, 2, 3)
        for causal in [true, false] {
            var values = Tensor<Float>(converting: random([1, time, 3 * heads * size], seed: 6)).scalars
            values[2 * 3 * heads * size + heads * size] = .nan  // position 2, key, head 0, element 0
            let qkv = Tensor(values, shape: [1, time, 3 * heads * size])
            let fused = scaledDotProductAttention(queryKeyValue: qkv, heads: heads, causal: causal).scalars
            #expect(sameBits(fused, composite(qkv, heads: heads, causal: causal).scalars))
            for t in 0..<time {
                #expect(fused[t * heads * size].isNaN == (!causal || t >= 2), "position \(t), head 0, causal \(causal)")
                #expect(!fused[t * heads * size + size].isNaN, "position \(t), head 1, causal \(causal)")
            }
        }
    }

    @Test func theWeightsRecomputedFromWhatTheSoftmaxKeptAreItsToTheBit() {
        // The gradient's weights must be the forward pass's, on every instruction-set path.
        let (rows, columns) = (130, 64)
        var x = Tensor<Float>(converting: random([rows * columns], seed: 10, scale: 20)).scalars
        x[5 * columns + 3] = .nan
        x[7 * columns + 1] = .infinity
        for isa in [NABLA_ISA_AVX512, NABLA_ISA_AVX2, NABLA_ISA_PORTABLE] {
            nabla_limit_kernels(isa)
            defer { nabla_limit_kernels(-1) }
            for causal in [0, columns] {
                var (first, again, kept) = ([Float](repeating: 0, count: rows * columns), [Float](repeating: 0, count: rows * columns),
                                            [Float](repeating: 0, count: rows * 2))
                nabla_softmax_rows_keeping_f32(x, &first, rows, columns, 0.3, causal, &kept)
                nabla_softmax_rows_again_f32(x, &again, rows, columns, 0.3, causal, kept)
                #expect(sameBits(first, again), "ISA \(isa), causal \(causal)")
            }
        }
    }

    @Test func dropoutOnTheWeightsIsTheDropoutLayersToTheBit() {
        // The layer drops its weights inside the fused op in training; under a mask (all zeros
        // here, so it masks nothing) it composes matmul, softmax and the Dropout layer. Two layers
        // from one seed draw the same masks, step after step, so the values must agree to the
        // bit, and the gradients of every parameter to rounding.
        var (rng1, rng2) = (SeededGenerator(seed: 40), SeededGenerator(seed: 40))
        let fused = MultiHeadAttention<Float>(width: 64, heads: 4, dropout: 0.3, using: &rng1)
        let composed = MultiHeadAttention<Float>(width: 64, heads: 4, dropout: 0.3, using: &rng2)
        let x = Tensor<Float>(converting: random([3, 40, 64], seed: 41))
        let nothing = Tensor<Float>(zeros: [40, 40])
        for step in 0..<3 {
            let (a, da) = withLayerMode(.training) { valueWithGradient(at: fused) { layer in (layer(x) * x).sum() } }
            let (b, db) = withLayerMode(.training) {
                valueWithGradient(at: composed) { layer in (layer(x, masking: nothing) * x).sum() }
            }
            #expect(sameBits(a.scalars, b.scalars), "step \(step): the loss differs")
            #expect(da.names == db.names)
            for (g, h) in zip(da.tensors, db.tensors) { expectClose(g.scalars, h.scalars, tolerance: 1e-4) }
        }
        let y = withLayerMode(.training) { fused(x) }
        let z = withLayerMode(.training) { composed(x, masking: nothing) }
        #expect(sameBits(y.scalars, z.scalars), "the output differs")
        #expect(!sameBits(y.scalars, withLayerMode(.inference) { fused(x) }.scalars), "nothing was dropped")
    }

    @Test func doubleDropoutIsTheDropoutLayersToRounding() {
        // Double's kernels (the gradient checks' type) drop the same elements as the layer.
        var (rng1, rng2) = (SeededGenerator(seed: 42), SeededGenerator(seed: 42))
        let fused = MultiHeadAttention<Double>(width: 8, heads: 2, dropout: 0.4, using: &rng1)
        let composed = MultiHeadAttention<Double>(width: 8, heads: 2, dropout: 0.4, using: &rng2)
        let x = random([2, 5, 8], seed: 43)
        let nothing = Tensor<Double>(zeros: [5, 5])
        for _ in 0..<2 {
            let (a, da) = withLayerMode(.training) { valueWithGradient(at: fused) { layer in (layer(x) * x).sum() } }
            let (b, db) = withLayerMode(.training) { valueWithGradient(at: composed) { layer in (layer(x, masking: nothing) * x).sum() } }
            expectClose(a.scalars, b.scalars, tolerance: 1e-13)
            for (g, h) in zip(da.tensors, db.tensors) { expectClose(g.scalars, h.scalars, tolerance: 1e-12) }
        }
    }

    @Test func aGradientPenaltyThroughDroppedAttentionIsTheComposites() {
        // A gradient differentiated again (a penalty on ∂loss/∂x) takes the composite's gradient,
        // with the count the mask was drawn after held as a constant: the same second derivatives
        // as the layer's composite, dropping the same weights.
        var (rng1, rng2) = (SeededGenerator(seed: 44), SeededGenerator(seed: 44))
        let fused = MultiHeadAttention<Double>(width: 8, heads: 2, dropout: 0.3, using: &rng1)
        let composed = MultiHeadAttention<Double>(width: 8, heads: 2, dropout: 0.3, using: &rng2)
        let (x, w) = (random([2, 4, 8], seed: 45), random([2, 4, 8], seed: 46))
        let nothing = Tensor<Double>(zeros: [4, 4])
        func penalty(_ attend: @escaping (Tensor<Double>) -> Tensor<Double>) -> (Tensor<Double>) -> Tensor<Double> {
            { x in gradient(at: x, creatingGraph: true) { (attend($0) * w).sum() }.squared().sum() }
        }
        let (a, da) = withLayerMode(.training) { valueWithGradient(at: fused) { layer in penalty { layer($0) }(x) } }
        let (b, db) = withLayerMode(.training) { valueWithGradient(at: composed) { layer in penalty { layer($0, masking: nothing) }(x) } }
        expectClose(a.scalars, b.scalars, tolerance: 1e-12)
        for (g, h) in zip(da.tensors, db.tensors) { expectClose(g.scalars, h.scalars, tolerance: 1e-11) }
        #expect(da.tensors.contains { $0.scalars.contains { $0 != 0 } })
    }
}
