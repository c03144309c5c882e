import Nabla
import Testing

/// What predicting the next token computes of the last block alone — attention's last query, the
/// block at the last position, a GPT's next-token logits — against the last row of the whole
/// output, which it must be up to rounding (its products have other shapes).
@Suite struct LastPositionTests {
    /// The last position's row of `x`, [B, T, C] → [B, 1, C].
    func lastRow<S>(_ x: Tensor<S>) -> Tensor<S> { x.slice(alongAxis: 1, (x.shape[1] - 1) ..< x.shape[1]) }

    func expectNear<S: TensorScalar>(_ x: Tensor<S>, _ y: Tensor<S>, _ tolerance: S, _ what: String) {
        #expect(x.shape == y.shape, "\(what): \(x.shape) against \(y.shape)")
        let worst = zip(x.scalars, y.scalars).map { Swift.abs($0 - $1) }.max() ?? .nan
        #expect(worst <= tolerance, "\(what): differs by \(worst) from the last row of the whole output")
    }

    @Test func theLastPositionAloneIsTheWholeOutputsLastRow() {
        var rng = SeededGenerator(seed: 21)
        let x = Tensor<Double>(randomNormal: [3, 7, 8], using: &rng)
        for causal in [true, false] {
            let attention = MultiHeadAttention<Double>(width: 8, heads: 2, causal: causal, using: &rng)
            expectNear(attention.lastPosition(of: x), lastRow(attention(x)), 1e-12, "attention, causal \(causal)")
        }
        let block = TransformerBlock<Double>(width: 8, heads: 2, bias: false, using: &rng)
        expectNear(block.lastPosition(of: x), lastRow(block(x)), 1e-12, "block")

        let ids = IndexTensor((0..<18).map { ($0 * 5 + 3) % 11 }, shape: [3, 6])
        let gpt = GPT<Double>(GPTConfiguration(vocabularySize: 11, contextLength: 6, layers: 2, heads: 2, width: 8), using: &rng)
        expectNear(gpt.nextTokenLogits(ids), lastRow(gpt(ids)).reshaped(to: [3, 11]), 1e-12, "GPT")
        let floatGPT = GPT<Float>(GPTConfiguration(vocabularySize: 65, contextLength: 16, layers: 2, heads: 4, width: 64), using: &rng)
        let long = IndexTensor((0..<32).map { ($0 * 7) % 65 }, shape: [2, 16])
        expectNear(floatGPT.nextTokenLogits(long), lastRow(floatGPT(long)).reshaped(to: [2, 65]), 1e-5, "Float GPT")
        // A window of one token: the last position is the only one.
        let one = IndexTensor([4], shape: [1, 1])
        expectNear(gpt.nextTokenLogits(one), gpt(one).reshaped(to: [1, 11]), 1e-12, "GPT, one token")
    }
}
