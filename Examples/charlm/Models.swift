import Nabla

/// A network from character ids to logits.
protocol CharacterNetwork: Module where Scalar == Float {
    func callAsFunction(_ ids: IndexTensor) -> Tensor<Float>
    /// The logits after the last position of each sequence, [B, vocabulary] (a sequence model's).
    func nextTokenLogits(_ ids: IndexTensor) -> Tensor<Float>
}

extension CharacterNetwork {
    /// The last position's row of the logits at every position ([B, T, vocabulary]: a sequence
    /// model's; a names model predicts once a window and has no positions to choose from).
    func nextTokenLogits(_ ids: IndexTensor) -> Tensor<Float> {
        let logits = self(ids)
        let (batch, time, vocabulary) = (logits.shape[0], logits.shape[1], logits.shape[2])
        return logits.slice(alongAxis: 1, (time - 1) ..< time).reshaped(to: [batch, vocabulary])
    }
}

extension GPT: CharacterNetwork where Scalar == Float {}

/// A character model of any architecture, from ids to logits: [B, T] ids → [B, T, vocabulary]
/// logits for the Shakespeare models (a prediction at every position), [B, context] →
/// [B, vocabulary] for the names models (one prediction from a context window).
struct CharacterModel: Module {
    typealias Scalar = Float
    let network: any CharacterNetwork
    /// Whether the model predicts at every position (a sequence model) or once per context.
    let predictsEveryPosition: Bool

    /// The network's own parameter names (`blocks.0.attention.…`, `weight_ih_l0`, `0.weight`), so
    /// that a checkpoint's names are the model's.
    var parameters: [NamedParameter<Float>] { network.parameters }
    var states: [NamedState<Float>] { network.states }

    func callAsFunction(_ ids: IndexTensor) -> Tensor<Float> { network(ids) }

    /// A sequence model's logits after the last position only, [B, vocabulary] (a GPT computes
    /// its last block for that position alone).
    func nextTokenLogits(_ ids: IndexTensor) -> Tensor<Float> { network.nextTokenLogits(ids) }

    init(network: any CharacterNetwork, predictsEveryPosition: Bool) {
        (self.network, self.predictsEveryPosition) = (network, predictsEveryPosition)
    }

    /// The model of `architecture` for `vocabularySize` characters and contexts of `contextLength`.
    init(_ architecture: Architecture, vocabularySize: Int, contextLength: Int, using rng: inout SeededGenerator) {
        switch architecture {
        case .gpt(let layers, let heads, let width, let dropout):
            network = GPT<Float>(GPTConfiguration(vocabularySize: vocabularySize, contextLength: contextLength,
                                                  layers: layers, heads: heads, width: width, dropout: dropout), using: &rng)
            predictsEveryPosition = true
        case .lstm(let embedding, let hidden, let layers):
            network = CharacterLSTM(vocabularySize: vocabularySize, embedding: embedding, hidden: hidden, layers: layers, using: &rng)
            predictsEveryPosition = true
        case .mlp(let embedding, let hidden):
            // makemore part 2's network, initialised as part 3 does it: the tanh layer's weights
            // N(0, (5/3)²/fan-in), so that its units start out of saturation, and the logits'
            // weights scaled by 0.01, so that the first predictions are nearly uniform (part 2
            // drew every parameter from N(0, 1): its dev loss then varies from 2.17 to 2.19 by seed).
            network = EmbeddedNetwork(Embedding(count: vocabularySize, dimension: embedding, using: &rng)) {
                Flatten()
                Dense(inputSize: contextLength * embedding, outputSize: hidden, weightInitializer: .kaimingNormal(gain: 5 / 3),
                      biasInitializer: .normal(standardDeviation: 0.01), using: &rng)
                Tanh()
                Dense(inputSize: hidden, outputSize: vocabularySize, weightInitializer: .normal(standardDeviation: 0.01),
                      biasInitializer: .zeros, using: &rng)
            }
            predictsEveryPosition = false
        case .wavenet(let embedding, let hidden):
            // makemore part 5: weights N(0, 1/fan-in), no bias before batch norm, the last layer's
            // weights scaled by 0.1 so that the first predictions are nearly uniform.
            check(contextLength == 8, "the WaveNet fuses pairs three times: it needs a context of 8, not \(contextLength)")
            network = EmbeddedNetwork(Embedding(count: vocabularySize, dimension: embedding, using: &rng)) {
                for level in 0..<3 {
                    FlattenConsecutive(2)
                    Dense(inputSize: (level == 0 ? embedding : hidden) * 2, outputSize: hidden, bias: false,
                          weightInitializer: .scaledNormal, using: &rng)
                    BatchNorm1D(features: hidden)
                    Tanh()
                }
                Dense(inputSize: hidden, outputSize: vocabularySize,
                      weightInitializer: .normal(standardDeviation: 0.1 / Float(hidden).squareRoot()), biasInitializer: .zeros, using: &rng)
            }
            predictsEveryPosition = false
        }
    }
}

/// An embedding of ids, then layers: makemore's networks.
struct EmbeddedNetwork: CharacterNetwork {
    var embedding: Embedding<Float>
    var layers: Sequential<Float>

    init(_ embedding: Embedding<Float>, @LayerBuilder<Float> layers: () -> [any Layer<Float>]) {
        (self.embedding, self.layers) = (embedding, Sequential(layers: layers()))
    }

    func callAsFunction(_ ids: IndexTensor) -> Tensor<Float> { layers(embedding(ids)) }
}

/// makemore's `FlattenConsecutive`: [B, T, C] → [B, T/n, C·n], n neighbouring positions side by
/// side (a view); a last level of one position becomes [B, C·n].
struct FlattenConsecutive: Layer {
    let n: Int
    init(_ n: Int) { self.n = n }

    func callAsFunction(_ x: Tensor<Float>) -> Tensor<Float> {
        check(x.rank == 3 && x.shape[1] % n == 0, "FlattenConsecutive(\(n)): input \(x.shape) must be [B, T, C] with T a multiple of \(n)")
        let (batch, time, channels) = (x.shape[0], x.shape[1], x.shape[2])
        return time == n ? x.reshaped(to: [batch, channels * n]) : x.reshaped(to: [batch, time / n, channels * n])
    }
}

/// A character LSTM: an embedding, a stacked ``LSTM``, and logits at every position.
struct CharacterLSTM: CharacterNetwork {
    var embedding: Embedding<Float>
    var lstm: LSTM<Float>
    var head: Dense<Float>

    init(vocabularySize: Int, embedding size: Int, hidden: Int, layers: Int, using rng: inout SeededGenerator) {
        embedding = Embedding(count: vocabularySize, dimension: size, using: &rng)
        lstm = LSTM(inputSize: size, hiddenSize: hidden, layerCount: layers, using: &rng)
        head = Dense(inputSize: hidden, outputSize: vocabularySize, weightInitializer: .pytorchUniform,
                     biasInitializer: .pytorchUniform, using: &rng)
    }

    func callAsFunction(_ ids: IndexTensor) -> Tensor<Float> { head(lstm(embedding(ids))) }
}
