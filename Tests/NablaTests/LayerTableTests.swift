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

    @Test(arguments: layerTable)
    func replayEqualsEagerAndAllocatesNothing(_ row: LayerRow) {
        let (traced, eager) = (row.make(), row.make())
        // Two layers made alike are alike; the comparison needs them equal to start.
        #expect(traced.parameterValues == eager.parameterValues)
        expectReplayEqualsEager(AnyLayer(traced), AnyLayer(eager), input: random(row.inputShape, seed: 6))
    }
}

/// A layer of any type, for the generic helpers.
struct AnyLayer: Layer {
    let layer: any Layer<Double>
    init(_ layer: any Layer<Double>) { self.layer = layer }
    func callAsFunction(_ input: Tensor<Double>) -> Tensor<Double> { layer(input) }
    var parameters: [NamedParameter<Double>] { layer.parameters }
    var states: [NamedState<Double>] { layer.states }
}
