/// A pre-norm transformer block, GPT-2's: attention, then a feed-forward network, each reading
/// a layer-normalised copy of the residual stream and adding its result back into it:
///
///     x = x + attention(norm1(x))
///     x = x + feedForward(norm2(x))
///
/// The stream itself is never normalised, so gradients reach early blocks through the additions
/// unchanged. The feed-forward network widens each position to 4·width, applies GELU and
/// projects back (nanoGPT's `mlp`: `c_fc`, GELU, `c_proj`, dropout).
public struct TransformerBlock<Scalar: TensorScalar>: Layer {
    /// Normalises the stream before attention (nanoGPT's `ln_1`).
    public var norm1: LayerNorm<Scalar>
    /// Causal self-attention (`attn`).
    public var attention: MultiHeadAttention<Scalar>
    /// Normalises the stream before the feed-forward network (`ln_2`).
    public var norm2: LayerNorm<Scalar>
    /// width → 4·width (`mlp.c_fc`).
    public var expand: Dense<Scalar>
    /// 4·width → width (`mlp.c_proj`).
    public var project: Dense<Scalar>
    /// Dropout on the feed-forward output (training only).
    public var dropout: Dropout<Scalar>
    /// The feed-forward activation.
    public let activation: GELUApproximation

    /// Creates a block over vectors of `width` elements with `heads` attention heads, GPT-2's
    /// initialisation: weights N(0, 0.02²), biases zero, and the two projections into the
    /// residual stream (attention's output and `project`) N(0, (0.02/√(2·depth))²), where `depth`
    /// is the number of blocks in the stack — so the stream's variance does not grow with depth.
    public init(width: Int, heads: Int, depth: Int = 1, dropout: Double = 0, bias: Bool = true,
                activation: GELUApproximation = .none, using rng: inout SeededGenerator) {
        check(depth > 0, "TransformerBlock: depth \(depth) must be positive")
        let weights = Initializer<Scalar>.normal(standardDeviation: 0.02)
        let residual = Initializer<Scalar>.normal(standardDeviation: Scalar(0.02 / (2 * Double(depth)).squareRoot()))
        norm1 = LayerNorm(size: width, bias: bias)
        attention = MultiHeadAttention(width: width, heads: heads, dropout: dropout, bias: bias,
                                       initializer: weights, outputInitializer: residual, using: &rng)
        norm2 = LayerNorm(size: width, bias: bias)
        expand = Dense(inputSize: width, outputSize: 4 * width, bias: bias, weightInitializer: weights,
                       biasInitializer: .zeros, using: &rng)
        project = Dense(inputSize: 4 * width, outputSize: width, bias: bias, weightInitializer: residual,
                        biasInitializer: .zeros, using: &rng)
        self.dropout = Dropout(probability: dropout, using: &rng)
        self.activation = activation
    }

    /// The block over [B, T, width].
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let x = input + attention(norm1(input))
        return x + feedForward(x)
    }

    /// The block's output at the last position of `input` only, [B, T, width] → [B, 1, width],
    /// as the last row of ``callAsFunction(_:)`` computes it up to rounding: attention's last
    /// query against every position's keys (``MultiHeadAttention/lastPosition(of:)``), and the
    /// feed-forward network on that one position. What predicting the next token needs of the
    /// last block.
    public func lastPosition(of input: Tensor<Scalar>) -> Tensor<Scalar> {
        let time = input.shape[1]
        let x = input.slice(alongAxis: 1, (time - 1) ..< time) + attention.lastPosition(of: norm1(input))
        return x + feedForward(x)
    }

    /// The feed-forward network's contribution to the stream.
    private func feedForward(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
        dropout(project(gelu(expand(norm2(x)), approximation: activation)))
    }

    /// The parts, with the feed-forward activation's form.
    public var moduleDescription: ModuleDescription {
        ModuleDescription(of: self, settings: ["activation": .choice(activation)])
    }
}
