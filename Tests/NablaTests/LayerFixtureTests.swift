import Foundation
import Nabla
import Testing

/// `Tests/Fixtures/layer_fixtures.json`, written by `make_layer_fixtures.py` with PyTorch.
struct LayerFixtures: Decodable {
    struct Values: Decodable {
        let shape: [Int]
        let values: [Double]
        var tensor: Tensor<Double> { Tensor(values, shape: shape) }
    }
    struct Case: Decodable, CustomTestStringConvertible, Sendable {
        let name: String
        let layer: String
        let parameters: [String: Values]
        let input: Values
        let upstream: [Values]
        let outputs: [Values]
        let gradients: [String: Values]
        let targets: Values?
        let states: [String: Values]?
        let statesAfter: [String: Values]?
        var testDescription: String { name }
    }
    let cases: [Case]

    static let shared: LayerFixtures = decodedFixture("layer_fixtures.json")
}

extension LayerFixtures.Values: Sendable {}

/// A layer of the fixture's kind and how its outputs are read: `outputs` returns what PyTorch's
/// case returns, in order.
private func fixtureLayer(_ kind: String, targets: Tensor<Double>?) -> (module: any Module<Double>, outputs: (Tensor<Double>) -> [Tensor<Double>]) {
    var rng = SeededGenerator(seed: 1)
    func unary<L: Layer<Double>>(_ layer: L) -> (any Module<Double>, (Tensor<Double>) -> [Tensor<Double>]) {
        (layer, { [layer($0)] })
    }
    switch kind {
    case "layerNorm": return unary(LayerNorm<Double>(size: 5))
    case "layerNormNoBias": return unary(LayerNorm<Double>(size: 5, bias: false))
    case "gelu": return unary(GELU<Double>())
    case "geluTanh": return unary(GELU<Double>(approximation: .tanh))
    case "attention": return unary(MultiHeadAttention<Double>(width: 8, heads: 2, using: &rng))
    case "attentionNotCausal": return unary(MultiHeadAttention<Double>(width: 8, heads: 4, causal: false, using: &rng))
    case "block": return unary(TransformerBlock<Double>(width: 8, heads: 2, bias: false, using: &rng))
    case "blockBias": return unary(TransformerBlock<Double>(width: 8, heads: 2, using: &rng))
    case "embedding": return unary(Embedding<Double>(count: 6, dimension: 4, using: &rng))
    case "batchNorm": return unary(BatchNorm1D<Double>(features: 3))
    case "gpt":
        let gpt = GPT<Double>(GPTConfiguration(vocabularySize: 11, contextLength: 6, layers: 2, heads: 2, width: 8), using: &rng)
        return (gpt, { ids in
            let logits = gpt(ids)
            return [logits, SoftmaxCrossEntropyLoss()(logits, targets!)]
        })
    case "lstm":
        let lstm = LSTM<Double>(inputSize: 4, hiddenSize: 3, layerCount: 2, using: &rng)
        return (lstm, { x in
            let (output, state) = lstm(x, state: nil)
            return [output, state.hidden, state.cell]
        })
    case "gru":
        let gru = GRU<Double>(inputSize: 4, hiddenSize: 3, layerCount: 2, using: &rng)
        return (gru, { x in
            let (output, state) = gru(x, state: nil)
            return [output, state]
        })
    default: fatalError("no layer for fixture kind \(kind)")
    }
}

/// A module and an input held as a parameter, so that one differentiation gives both gradients.
private struct Probe: Module {
    typealias Scalar = Double
    @Parameter var input: Tensor<Double>
    let layer: any Module<Double>
}

@Suite struct LayerFixtureTests {
    func expectClose(_ actual: Tensor<Double>, _ expected: LayerFixtures.Values, _ what: String) {
        #expect(actual.shape == expected.shape, "\(what): shape \(actual.shape), PyTorch \(expected.shape)")
        let values = actual.scalars
        if let i = values.indices.first(where: { abs(values[$0] - expected.values[$0]) > 1e-11 + 1e-9 * abs(expected.values[$0]) }) {
            Issue.record("\(what): element \(i) is \(values[i]), PyTorch \(expected.values[i])")
        }
    }

    /// Every sequence layer against PyTorch: the outputs, and the gradients of the input and of
    /// every parameter — found under the fixture's names, which are Nabla's (PyTorch's own for the
    /// recurrent layers).
    @Test(arguments: LayerFixtures.shared.cases)
    func layerMatchesPyTorch(_ fixture: LayerFixtures.Case) {
        let (module, outputs) = fixtureLayer(fixture.layer, targets: fixture.targets?.tensor)
        let names = module.parameters.map(\.name)
        guard Set(names) == Set(fixture.parameters.keys) else {
            Issue.record("parameter names \(names.sorted()), PyTorch's case \(fixture.parameters.keys.sorted())")
            return
        }
        for p in module.parameters { p.parameter.wrappedValue = fixture.parameters[p.name]!.tensor }
        for s in module.states { if let value = fixture.states?[s.name] { s.state.wrappedValue = value.tensor } }
        let upstream = fixture.upstream.map(\.tensor)
        let ids = fixture.gradients["input"] == nil
        let probe = Probe(input: fixture.input.tensor, layer: module)
        var values: [Tensor<Double>] = []
        let (_, gradients) = withLayerMode(fixture.statesAfter == nil ? .inference : .training) {
            valueWithGradient(at: probe) { probe in
                values = outputs(ids ? fixture.input.tensor : probe.input)
                return zip(values, upstream).map { ($0 * $1).sum() }.reduce(Tensor(0), +)
            }
        }
        #expect(values.count == fixture.outputs.count)
        for (index, (value, expected)) in zip(values, fixture.outputs).enumerated() {
            expectClose(value.detached, expected, "output \(index)")
        }
        for (name, expected) in fixture.gradients {
            expectClose(gradients[name == "input" ? "input" : "layer." + name]!, expected, "gradient of \(name)")
        }
        for (name, expected) in fixture.statesAfter ?? [:] {
            expectClose(module.states.first { $0.name == name }!.state.wrappedValue, expected, "state \(name) after the step")
        }
    }
}
