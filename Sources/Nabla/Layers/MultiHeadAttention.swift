/// Multi-head self-attention (Vaswani et al., 2017), as GPT uses it: each position of a sequence
/// [B, T, width] asks a question (its query), offers an answer (its key) and a content (its
/// value); each of `heads` heads mixes the values of the positions whose keys answer its query,
/// weighted by softmax(q·kᵀ/√d).
///
/// One projection makes query, key and value at once (`queryKeyValue`, [3·width, width]: nanoGPT's
/// `c_attn`), the heads split the width into `heads` pieces of d = width/heads, and `output`
/// (nanoGPT's `c_proj`) mixes the heads' results back into the residual stream. A causal layer
/// lets position i attend only to positions j ≤ i, so that a language model cannot read the
/// token it is predicting. In training, dropout with probability `dropout` is applied to the
/// attention weights and to the output, as PyTorch's `scaled_dot_product_attention(is_causal:
/// true, dropout_p:)` followed by nanoGPT's residual dropout.
///
/// ```swift
/// let attention = MultiHeadAttention<Float>(width: 128, heads: 4, using: &rng)
/// let y = attention(x)                    // [B, T, 128] → [B, T, 128], causal
/// let z = attention(x, masking: padding)  // 1 where a query must not see a key
/// ```
public struct MultiHeadAttention<Scalar: TensorScalar>: Layer {
    /// Query, key and value from each position: [3·width, width] (and its bias, if any).
    public var queryKeyValue: Dense<Scalar>
    /// The heads' results projected back to the width.
    public var output: Dense<Scalar>
    /// Dropout on the attention weights (training only).
    public var attentionDropout: Dropout<Scalar>
    /// Dropout on the output (training only).
    public var outputDropout: Dropout<Scalar>
    /// The number of heads; each sees width/heads dimensions.
    public let heads: Int
    /// Whether position i attends only to positions j ≤ i.
    public let isCausal: Bool

    /// Creates a layer over vectors of `width` elements split into `heads` heads. Weights are
    /// drawn from `initializer` (GPT-2's N(0, 0.02²) by default) and the output projection's from
    /// `outputInitializer` (GPT-2 scales it by 1/√(2·blocks): see ``TransformerBlock``); biases,
    /// when `bias` is true, start at zero.
    public init(width: Int, heads: Int, causal: Bool = true, dropout: Double = 0, bias: Bool = true,
                initializer: Initializer<Scalar> = .normal(standardDeviation: 0.02),
                outputInitializer: Initializer<Scalar> = .normal(standardDeviation: 0.02),
                using rng: inout SeededGenerator) {
        check(width > 0 && heads > 0 && width % heads == 0,
              "MultiHeadAttention: width \(width) does not split into \(heads) heads of equal size")
        queryKeyValue = Dense(inputSize: width, outputSize: 3 * width, bias: bias, weightInitializer: initializer,
                              biasInitializer: .zeros, using: &rng)
        output = Dense(inputSize: width, outputSize: width, bias: bias, weightInitializer: outputInitializer,
                       biasInitializer: .zeros, using: &rng)
        attentionDropout = Dropout(probability: dropout, using: &rng)
        outputDropout = Dropout(probability: dropout, using: &rng)
        (self.heads, self.isCausal) = (heads, causal)
    }

    /// Self-attention over `input`, [B, T, width] → [B, T, width] (causal if the layer is).
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        callAsFunction(input, masking: nil)
    }

    /// Self-attention over `input`, [B, T, width], where no query attends to a key at which
    /// `mask` (broadcasting against the scores [B, heads, T, T]: [T, T], [B, 1, 1, T], …) is
    /// nonzero — on top of the causal mask, if the layer is causal. A query that may see no key
    /// at all gets NaN, as in PyTorch.
    ///
    /// Without a mask, attention is one op (``scaledDotProductAttention(queryKeyValue:heads:causal:)``,
    /// dropping its weights itself in training) that keeps no [B, heads, T, T] tensor; with one, it
    /// is composed of `matmul`, `softmax` and the dropout layer, which give the same values.
    public func callAsFunction(_ input: Tensor<Scalar>, masking mask: Tensor<Scalar>?) -> Tensor<Scalar> {
        let projected = queryKeyValue(checked(input))
        if mask == nil && attentionDropout.dropsInCurrentMode {
            let (heads, causal) = (heads, isCausal)
            let attended = attentionDropout.dropping { draw, count in
                // A copy of the count as it is now: the op's record holds it, and its gradient
                // draws the mask again from it, while the layer's counter is counted up.
                fusedAttention(projected, heads: heads, causal: causal, dropout: (draw, count + 0))
            }
            return outputDropout(output(attended))
        }
        if mask == nil && attentionDropout.isIdentityInCurrentMode {
            return outputDropout(output(scaledDotProductAttention(queryKeyValue: projected, heads: heads, causal: isCausal)))
        }
        let (query, key, value) = attentionHeads(projected, heads: heads)
        var scores = matmul(query, key, transposingB: true)
        if let mask { scores = scores.filled(where: mask, with: -.infinity) }
        return outputDropout(output(attentionMixing(scores, value, causal: isCausal, weighting: attentionDropout.callAsFunction)))
    }

    /// The layer's output at the last position of `input` only, [B, T, width] → [B, 1, width]:
    /// that position's query against every key (which a causal layer lets the last position
    /// see), as the last row of ``callAsFunction(_:)`` computes it up to rounding. Keys and values
    /// still come from every position. What predicting the next token needs of the last block.
    public func lastPosition(of input: Tensor<Scalar>) -> Tensor<Scalar> {
        let (query, key, value) = attentionHeads(queryKeyValue(checked(input)), heads: heads)
        let time = input.shape[1]
        let scores = matmul(query.slice(alongAxis: 2, (time - 1) ..< time), key, transposingB: true)  // [B, heads, 1, T]
        return outputDropout(output(attentionMixing(scores, value, causal: false, weighting: attentionDropout.callAsFunction)))
    }

    /// `input`, checked to be [batch, time, width].
    private func checked(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let width = output.weight.shape[0]
        check(input.rank == 3 && input.shape[2] == width,
              "MultiHeadAttention: input \(input.shape) does not fit width \(width): expected [batch, time, \(width)]")
        return input
    }

    /// The projections and dropouts, with the number of heads and whether it is causal.
    public var moduleDescription: ModuleDescription {
        ModuleDescription(of: self, settings: ["heads": .integer(heads), "causal": .flag(isCausal)])
    }
}
