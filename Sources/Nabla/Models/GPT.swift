/// A GPT's sizes: nanoGPT's `GPTConfig`.
public struct GPTConfiguration: Sendable, Equatable, Codable, CustomStringConvertible {
    /// How many distinct tokens (65 characters for tiny Shakespeare).
    public var vocabularySize: Int
    /// The longest sequence the model reads (nanoGPT's `block_size`).
    public var contextLength: Int
    /// Transformer blocks (`n_layer`).
    public var layers: Int
    /// Attention heads per block (`n_head`).
    public var heads: Int
    /// The width of the residual stream (`n_embd`).
    public var width: Int
    /// Dropout probability in training, everywhere nanoGPT applies it.
    public var dropout: Double
    /// Whether linear layers and layer norms have biases (nanoGPT's Shakespeare runs: false).
    public var bias: Bool

    /// Creates a configuration.
    public init(vocabularySize: Int, contextLength: Int, layers: Int, heads: Int, width: Int,
                dropout: Double = 0, bias: Bool = false) {
        (self.vocabularySize, self.contextLength, self.layers, self.heads, self.width, self.dropout, self.bias) =
            (vocabularySize, contextLength, layers, heads, width, dropout, bias)
    }

    /// `vocabulary 65, context 64, 4 layers × 4 heads × 128, dropout 0, no bias`.
    public var description: String {
        "vocabulary \(vocabularySize), context \(contextLength), \(layers) layers × \(heads) heads × \(width), "
            + "dropout \(dropout), \(bias ? "bias" : "no bias")"
    }
}

/// A GPT (Radford et al., 2018–19) as nanoGPT writes it: token and position embeddings added,
/// a stack of pre-norm ``TransformerBlock``s, a final layer norm, and logits over the vocabulary
/// from the token embedding's own weights (weight tying: one [vocabulary, width] parameter read
/// at both ends, trained by both, saved once).
///
/// ```swift
/// let gpt = GPT<Float>(GPTConfiguration(vocabularySize: 65, contextLength: 64, layers: 4, heads: 4, width: 128),
///                      using: &rng)
/// let logits = gpt(ids)      // [B, T] token ids → [B, T, 65]
/// ```
public struct GPT<Scalar: TensorScalar>: Layer {
    /// The sizes.
    public let configuration: GPTConfiguration
    /// One vector per token (nanoGPT's `wte`), also the output projection.
    public var tokenEmbedding: Embedding<Scalar>
    /// One vector per position (`wpe`).
    public var positionEmbedding: Embedding<Scalar>
    /// Dropout on the summed embeddings (training only).
    public var dropout: Dropout<Scalar>
    /// The blocks (`h`).
    public var blocks: [TransformerBlock<Scalar>]
    /// The final layer norm (`ln_f`).
    public var finalNorm: LayerNorm<Scalar>

    /// Creates a model with GPT-2's initialisation (see ``TransformerBlock/init(width:heads:depth:dropout:bias:activation:using:)``;
    /// embeddings N(0, 0.02²)).
    public init(_ configuration: GPTConfiguration, using rng: inout SeededGenerator) {
        let c = configuration
        check(c.vocabularySize > 0 && c.contextLength > 0 && c.layers > 0,
              "GPT: vocabulary \(c.vocabularySize), context \(c.contextLength) and layers \(c.layers) must be positive")
        self.configuration = c
        let embedding = Initializer<Scalar>.normal(standardDeviation: 0.02)
        tokenEmbedding = Embedding(count: c.vocabularySize, dimension: c.width, initializer: embedding, using: &rng)
        positionEmbedding = Embedding(count: c.contextLength, dimension: c.width, initializer: embedding, using: &rng)
        dropout = Dropout(probability: c.dropout, using: &rng)
        blocks = (0..<c.layers).map { _ in
            TransformerBlock(width: c.width, heads: c.heads, depth: c.layers, dropout: c.dropout, bias: c.bias, using: &rng)
        }
        finalNorm = LayerNorm(size: c.width, bias: c.bias)
    }

    /// The logits of the next token after each position, [B, T, vocabulary], from token ids
    /// [B, T] with T at most the context length.
    public func callAsFunction(_ ids: IndexTensor) -> Tensor<Scalar> {
        checkIDs(ids.shape)
        return logits(tokens: tokenEmbedding(ids), time: ids.shape[1])
    }

    /// The logits from token ids held as scalars (the model as a ``Layer``).
    public func callAsFunction(_ ids: Tensor<Scalar>) -> Tensor<Scalar> {
        checkIDs(ids.shape)
        return logits(tokens: tokenEmbedding(ids), time: ids.shape[1])
    }

    /// Stops unless ids of `shape` are [batch, time] with time within the context.
    private func checkIDs(_ shape: [Int]) {
        check(shape.count == 2, "GPT: ids \(shape) must be [batch, time]")
        check(shape[1] >= 1 && shape[1] <= configuration.contextLength,
              "GPT: a sequence of \(shape[1]) tokens is longer than the model's context of \(configuration.contextLength)")
    }

    /// The logits of the token after the last position only, [B, vocabulary], from token ids
    /// [B, T]: what sampling needs, and the last row of ``callAsFunction(_:)-(IndexTensor)`` up to
    /// rounding, with the last block and the output computed for that one position
    /// (``TransformerBlock/lastPosition(of:)``) — for nanoGPT's CPU model a fifth less work.
    public func nextTokenLogits(_ ids: IndexTensor) -> Tensor<Scalar> {
        checkIDs(ids.shape)
        var x = stream(tokens: tokenEmbedding(ids), time: ids.shape[1])
        for block in blocks.dropLast() { x = block(x) }
        return head(blocks[blocks.count - 1].lastPosition(of: x)).reshaped(to: [ids.shape[0], configuration.vocabularySize])
    }

    /// The logits from the tokens' vectors, [B, T, width].
    private func logits(tokens: Tensor<Scalar>, time: Int) -> Tensor<Scalar> {
        var x = stream(tokens: tokens, time: time)
        for block in blocks { x = block(x) }
        return head(x)
    }

    /// The residual stream the blocks start from: token and position embeddings.
    private func stream(tokens: Tensor<Scalar>, time: Int) -> Tensor<Scalar> {
        dropout(tokens + positionEmbedding.weight.rows(0..<time))
    }

    /// The logits from the last block's output: the final norm, then the output projection that
    /// shares the token embedding's weight (nanoGPT's `ln_f` and `lm_head`).
    private func head(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
        linear(finalNorm(x), weight: tokenEmbedding.weight, bias: nil, layer: "GPT output")
    }
}
