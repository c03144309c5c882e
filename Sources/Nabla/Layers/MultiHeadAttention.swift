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
    public func callAsFunction(_ input: Tensor<Scalar>, masking mask: Tensor<Scalar>?) -> Tensor<Scalar> {
        let (query, key, value) = headsOf(input)
        var scores = matmul(query, key, transposingB: true)
        if let mask { scores = scores.filled(where: mask, with: -.infinity) }
        return attended(scores, value, causal: isCausal)
    }

    /// The layer's output at the last position of `input` only, [B, T, width] → [B, 1, width]:
    /// that position's query against every key (which a causal layer lets the last position
    /// see), as the last row of ``callAsFunction(_:)`` computes it up to rounding. Keys and values
    /// still come from every position. What predicting the next token needs of the last block.
    public func lastPosition(of input: Tensor<Scalar>) -> Tensor<Scalar> {
        let (query, key, value) = headsOf(input)
        let time = input.shape[1]
        let scores = matmul(query.slice(alongAxis: 2, (time - 1) ..< time), key, transposingB: true)  // [B, heads, 1, T]
        return attended(scores, value, causal: false)
    }

    /// Query, key and value of every position, each [B, heads, T, d].
    private func headsOf(_ input: Tensor<Scalar>) -> (query: Tensor<Scalar>, key: Tensor<Scalar>, value: Tensor<Scalar>) {
        let width = output.weight.shape[0]
        check(input.rank == 3 && input.shape[2] == width,
              "MultiHeadAttention: input \(input.shape) does not fit width \(width): expected [batch, time, \(width)]")
        let (batch, time) = (input.shape[0], input.shape[1])
        // [B, T, 3·width] → [3, B, heads, T, d] (one copy), whose rows are views.
        let projected = queryKeyValue(input).reshaped(to: [batch, time, 3, heads, width / heads]).permuted([2, 0, 3, 1, 4])
        return (projected.rows(0..<1).squeezingShape(at: 0), projected.rows(1..<2).squeezingShape(at: 0),
                projected.rows(2..<3).squeezingShape(at: 0))
    }

    /// The values mixed by the softmax of `scores` ([B, heads, queries, T]) and projected:
    /// [B, queries, width].
    private func attended(_ scores: Tensor<Scalar>, _ value: Tensor<Scalar>, causal: Bool) -> Tensor<Scalar> {
        let (batch, queries, size) = (value.shape[0], scores.shape[2], value.shape[3])
        // The scale 1/√d and the causal mask are folded into the softmax.
        let weights = attentionDropout(softmax(scores, scaledBy: 1 / Scalar(size).squareRoot(), causal: causal))
        // [B, heads, queries, d] → [B, queries, heads·d]: the heads side by side again.
        let mixed = matmul(weights, value).transposed(1, 2).reshaped(to: [batch, queries, heads * size])
        return outputDropout(output(mixed))
    }

    /// The projections and dropouts, with the number of heads and whether it is causal.
    public var moduleDescription: ModuleDescription {
        ModuleDescription(of: self, settings: ["heads": .integer(heads), "causal": .flag(isCausal)])
    }
}
