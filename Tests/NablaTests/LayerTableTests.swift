import Nabla
import Testing

/// One row of the layer table: a layer of Nabla's and an input for it. Each is gradient-checked
/// through ``checkGradients(of:at:)`` (its input and every parameter) and replayed.
struct LayerRow: CustomTestStringConvertible, Sendable {
    let name: String
    let inputShape: [Int]
    let make: @Sendable () -> any Layer<Double>

    var testDescription: String { name }
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
    @Test(arguments: layerTable)
    func gradientsMatchFiniteDifferences(_ row: LayerRow) {
        let layer = row.make()
        let before = layer.parameterValues
        let report = checkGradients(of: layer, at: random(row.inputShape, seed: 5))
        #expect(report.passed, "\(report)")
        #expect(report.comparisons > 0)
        #expect(layer.parameterValues == before, "checking changed the layer")
    }

    /// The layer's input is trained too, as a parameter, so that the replay checks the input's
    /// gradient for every row — parameterless layers (activations, pooling, flattening) included.
    @Test(arguments: layerTable)
    func replayEqualsEagerAndAllocatesNothing(_ row: LayerRow) {
        let input = random(row.inputShape, seed: 6)
        let (traced, eager) = (WithTrainedInput(row.make(), input), WithTrainedInput(row.make(), input))
        // Two layers made alike are alike; the comparison needs them equal to start.
        #expect(traced.parameterValues == eager.parameterValues)
        expectReplayEqualsEager(traced, eager, input: Tensor(zeros: [1]))
    }
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
