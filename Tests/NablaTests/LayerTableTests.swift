import Nabla
import Testing

/// One row of the layer table: a layer of Nabla's and an input for it. Each is gradient-checked
/// through ``checkGradients(of:at:differentiatingInput:epsilon:absoluteTolerance:relativeTolerance:directions:seed:)``
/// (its input and every parameter) in `mode`, and replayed (in training mode, as steps run).
/// A layer of token ids gets `ids` as its input, checked for its parameters only.
struct LayerRow: CustomTestStringConvertible, Sendable {
    let name: String
    let inputShape: [Int]
    var ids: [Int]? = nil
    var mode: LayerMode = .inference
    let make: @Sendable () -> any Layer<Double>

    init(name: String, inputShape: [Int], ids: [Int]? = nil, mode: LayerMode = .inference,
         make: @escaping @Sendable () -> any Layer<Double>) {
        (self.name, self.inputShape, self.ids, self.mode, self.make) = (name, inputShape, ids, mode, make)
    }

    var testDescription: String { name }

    /// The row's input: its ids, or random values.
    func input(seed: UInt64) -> Tensor<Double> {
        ids.map { Tensor(indices: $0, shape: inputShape) } ?? random(inputShape, seed: seed)
    }
}

/// A layer made with a seeded generator.
func seeded<L: Layer>(_ seed: UInt64, _ make: (inout SeededGenerator) -> L) -> L {
    var rng = SeededGenerator(seed: seed)
    return make(&rng)
}

/// The sequence layers' rows: embeddings, normalisations, attention, the transformer block, a GPT,
/// recurrent networks.
let sequenceLayerTable: [LayerRow] = [
    LayerRow(name: "Dense without bias", inputShape: [3, 4]) { seeded(30) { Dense<Double>(inputSize: 4, outputSize: 2, bias: false, using: &$0) } },
    LayerRow(name: "Embedding of [B, T] ids", inputShape: [2, 3], ids: [4, 0, 4, 1, 2, 4]) {
        seeded(31) { Embedding<Double>(count: 5, dimension: 3, using: &$0) }
    },
    LayerRow(name: "LayerNorm", inputShape: [2, 3, 4]) { trained(LayerNorm<Double>(size: 4), seed: 32) },
    LayerRow(name: "LayerNorm without bias", inputShape: [3, 4]) { trained(LayerNorm<Double>(size: 4, bias: false), seed: 33) },
    LayerRow(name: "GELU, exact", inputShape: [3, 4]) { GELU<Double>() },
    LayerRow(name: "GELU, tanh approximation", inputShape: [3, 4]) { GELU<Double>(approximation: .tanh) },
    LayerRow(name: "MultiHeadAttention, causal", inputShape: [2, 3, 4]) {
        seeded(34) { MultiHeadAttention<Double>(width: 4, heads: 2, initializer: .standardNormal, outputInitializer: .standardNormal, using: &$0) }
    },
    LayerRow(name: "MultiHeadAttention, not causal, no bias", inputShape: [2, 3, 6]) {
        seeded(35) { MultiHeadAttention<Double>(width: 6, heads: 3, causal: false, bias: false, initializer: .standardNormal, using: &$0) }
    },
    LayerRow(name: "MultiHeadAttention with dropout (training in the replay)", inputShape: [2, 4, 4]) {
        seeded(36) { MultiHeadAttention<Double>(width: 4, heads: 2, dropout: 0.3, initializer: .standardNormal, using: &$0) }
    },
    LayerRow(name: "TransformerBlock", inputShape: [2, 3, 8]) {
        seeded(37) { TransformerBlock<Double>(width: 8, heads: 2, depth: 2, using: &$0) }
    },
    LayerRow(name: "GPT, weight-tied", inputShape: [2, 4], ids: [0, 5, 2, 2, 6, 1, 0, 3]) {
        seeded(38) { GPT<Double>(GPTConfiguration(vocabularySize: 7, contextLength: 5, layers: 2, heads: 2, width: 4), using: &$0) }
    },
    LayerRow(name: "LSTM, 2 layers", inputShape: [2, 3, 4]) {
        seeded(39) { LSTM<Double>(inputSize: 4, hiddenSize: 3, layerCount: 2, using: &$0) }
    },
    LayerRow(name: "GRU, 2 layers", inputShape: [2, 3, 4]) {
        seeded(40) { GRU<Double>(inputSize: 4, hiddenSize: 3, layerCount: 2, using: &$0) }
    },
    LayerRow(name: "LSTM without bias, dropout between layers", inputShape: [2, 2, 3]) {
        seeded(41) { LSTM<Double>(inputSize: 3, hiddenSize: 2, layerCount: 2, bias: false, dropout: 0.5, using: &$0) }
    },
    LayerRow(name: "BatchNorm1D, training, [N, C]", inputShape: [5, 3], mode: .training) { trained(BatchNorm1D<Double>(features: 3), seed: 42) },
    LayerRow(name: "BatchNorm1D, training, [N, T, C]", inputShape: [2, 3, 4], mode: .training) { trained(BatchNorm1D<Double>(features: 4), seed: 43) },
    LayerRow(name: "BatchNorm1D, inference", inputShape: [2, 3]) { trained(BatchNorm1D<Double>(features: 3), seed: 44) },
]

/// A layer whose parameters (ones and zeros when made) are set to random values, so that a check
/// sees a general point; its states are given random positive values too.
func trained<L: Layer>(_ layer: L, seed: UInt64) -> L where L.Scalar == Double {
    for (index, p) in layer.parameters.enumerated() {
        p.parameter.wrappedValue = random(p.parameter.wrappedValue.shape, seed: seed &+ UInt64(index))
    }
    for (index, s) in layer.states.enumerated() {
        s.state.wrappedValue = abs(random(s.state.wrappedValue.shape, seed: seed &+ 100 &+ UInt64(index))) + 0.5
    }
    return layer
}

let layerTable: [LayerRow] = [
    LayerRow(name: "Dense", inputShape: [3, 4]) { var rng = SeededGenerator(seed: 1); return Dense<Double>(inputSize: 4, outputSize: 2, using: &rng) },
    LayerRow(name: "Dense over [batch, sequence, features]", inputShape: [2, 3, 4]) {
        var rng = SeededGenerator(seed: 2)
        return Dense<Double>(inputSize: 4, outputSize: 2, using: &rng)
    },
    LayerRow(name: "Dense on one row", inputShape: [4]) { var rng = SeededGenerator(seed: 3); return Dense<Double>(inputSize: 4, outputSize: 2, using: &rng) },
    LayerRow(name: "Sigmoid", inputShape: [3, 4]) { Sigmoid<Double>() },
    LayerRow(name: "Tanh", inputShape: [3, 4]) { Tanh<Double>() },
    LayerRow(name: "ReLU", inputShape: [3, 4]) { ReLU<Double>() },
    LayerRow(name: "Softmax", inputShape: [3, 4]) { Softmax<Double>() },
    LayerRow(name: "Sequential, a shared layer", inputShape: [5, 4]) { sharedLayerNetwork(seed: 4) },
    LayerRow(name: "Conv2D", inputShape: [2, 2, 6, 5]) {
        var rng = SeededGenerator(seed: 7)
        return Conv2D<Double>(inputChannels: 2, outputChannels: 3, kernelSize: 3, stride: 1, padding: 1, using: &rng)
    },
    LayerRow(name: "MaxPool2D", inputShape: [2, 3, 4, 4]) { MaxPool2D<Double>(kernelSize: 2) },
    LayerRow(name: "Flatten", inputShape: [2, 3, 2, 2]) { Flatten<Double>() },
    LayerRow(name: "Dropout (training in the replay)", inputShape: [3, 4]) {
        var rng = SeededGenerator(seed: 8)
        return Dropout<Double>(probability: 0.5, using: &rng)
    },
    LayerRow(name: "Dropout, scaled at evaluation", inputShape: [3, 4]) {
        var rng = SeededGenerator(seed: 9)
        return Dropout<Double>(probability: 0.3, scaling: .atEvaluation, using: &rng)
    },
    LayerRow(name: "the book's chapter-6 network, small", inputShape: [2, 1, 12, 12]) { chapter6Network(seed: 10) },
]

@Suite struct LayerTableTests {
    @Test(arguments: layerTable + sequenceLayerTable)
    func gradientsMatchFiniteDifferences(_ row: LayerRow) {
        let layer = row.make()
        let before = layer.parameterValues
        let report = withLayerMode(row.mode) {
            checkGradients(of: layer, at: row.input(seed: 5), differentiatingInput: row.ids == nil)
        }
        #expect(report.passed, "\(report)")
        #expect(report.comparisons > 0)
        #expect(layer.parameterValues == before, "checking changed the layer")
    }

    /// The layer's input is trained too, as a parameter, so that the replay checks the input's
    /// gradient for every row — parameterless layers (activations, pooling, flattening) included.
    /// Ids are a step input instead: they have no gradient.
    @Test(arguments: layerTable + sequenceLayerTable)
    func replayEqualsEagerAndAllocatesNothing(_ row: LayerRow) {
        let input = row.input(seed: 6)
        if row.ids != nil {
            let (traced, eager) = (row.make(), row.make())
            #expect(traced.parameterValues == eager.parameterValues)
            return expectReplayEqualsEager(AnyLayer(traced), AnyLayer(eager), input: input)
        }
        let (traced, eager) = (WithTrainedInput(row.make(), input), WithTrainedInput(row.make(), input))
        // Two layers made alike are alike; the comparison needs them equal to start.
        #expect(traced.parameterValues == eager.parameterValues)
        #expect(traced.states.map(\.state.wrappedValue) == eager.states.map(\.state.wrappedValue))
        expectReplayEqualsEager(traced, eager, input: Tensor(zeros: [1]))
        #expect(traced.states.map(\.state.wrappedValue) == eager.states.map(\.state.wrappedValue), "the states differ")
    }
}

/// A layer behind an existential, as a concrete layer.
struct AnyLayer: Layer {
    let layer: any Layer<Double>
    init(_ layer: any Layer<Double>) { self.layer = layer }
    func callAsFunction(_ input: Tensor<Double>) -> Tensor<Double> { layer(input) }
}

/// A layer applied to an input held as a parameter (its argument ignored): what makes a step
/// differentiate and update the input.
struct WithTrainedInput: Layer {
    @Parameter var input: Tensor<Double>
    let layer: any Layer<Double>
    init(_ layer: any Layer<Double>, _ input: Tensor<Double>) { (self.layer, self.input) = (layer, input) }
    func callAsFunction(_ ignored: Tensor<Double>) -> Tensor<Double> { layer(input) }
}

/// network3's two conv-pool layers, a fully connected layer with dropout and a softmax layer, at
/// a small size: every chapter-6 layer in one model.
func chapter6Network(seed: UInt64) -> Sequential<Double> {
    var rng = SeededGenerator(seed: seed)
    return Sequential<Double> {
        Conv2D(inputChannels: 1, outputChannels: 3, kernelSize: 3, using: &rng)
        MaxPool2D(kernelSize: 2)
        ReLU()
        Conv2D(inputChannels: 3, outputChannels: 4, kernelSize: 2, using: &rng)
        MaxPool2D(kernelSize: 2)
        Sigmoid()
        Flatten()
        Dropout(probability: 0.5, scaling: .atEvaluation, using: &rng)
        Dense(inputSize: 16, outputSize: 5, using: &rng)
        ReLU()
        Dense(inputSize: 5, outputSize: 3, using: &rng)
    }
}
