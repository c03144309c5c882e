import Foundation
import Nabla
import Testing

/// A model describes itself; a checkpoint carries the description; loading checks it and
/// ``Sequential/init(contentsOf:)`` builds from it.
@Suite struct ModuleDescriptionTests {
    func temporaryPath(_ name: String) -> String {
        NSTemporaryDirectory() + "nabla-\(UUID().uuidString)-\(name)"
    }

    /// One of each layer Nabla can rebuild, with settings away from their defaults.
    func everyBuildableLayer<S: TensorScalar>(_: S.Type, seed: UInt64 = 1) -> Sequential<S> {
        var rng = SeededGenerator(seed: seed)
        return Sequential<S> {
            Conv2D(inputChannels: 1, outputChannels: 3, kernelSize: 3, stride: 2, padding: 1, using: &rng)
            MaxPool2D(kernelSize: 2, stride: 1)
            Tanh()
            Flatten()
            Dropout(probability: 0.25, scaling: .atEvaluation, using: &rng)
            Dense(inputSize: 12, outputSize: 8, using: &rng)
            Sequential { ReLU(); LayerNorm(size: 8, bias: false, epsilon: 1e-3) }
            BatchNorm1D(features: 8, momentum: 0.2)
            GELU(approximation: .tanh)
            Dense(inputSize: 8, outputSize: 4, bias: false, using: &rng)
            Sigmoid()
            Softmax()
        }
    }

    @Test func aDescriptionNamesKindsSettingsAndShapes() throws {
        let description = everyBuildableLayer(Float.self).moduleDescription
        #expect(description.kind == "Sequential" && description.children.map(\.name) == (0..<12).map(String.init))
        let conv = description.children[0].module
        #expect(conv.kind == "Conv2D" && conv.settings == ["stride": .integer(2), "padding": .integer(1)])
        #expect(conv.tensors == ["weight": [3, 1, 3, 3], "bias": [3]])
        #expect(description.children[4].module.settings == ["probability": .number(0.25), "scaling": .text("atEvaluation")])
        #expect(description.children[6].module.children[1].module
            == ModuleDescription(kind: "LayerNorm", settings: ["epsilon": .number(1e-3)], tensors: ["weight": [8]]))
        #expect(description.children[9].module.tensors == ["weight": [4, 8]])  // no bias
        #expect(description.children[7].module.tensors == ["weight": [8], "bias": [8], "runningMean": [8], "runningVariance": [8]])
        #expect("\(description.children[0].module)" == "Conv2D(padding 1, stride 2, bias [3], weight [3, 1, 3, 3])")
        // The same model in either precision, and after training, is described the same.
        #expect(everyBuildableLayer(Double.self, seed: 2).moduleDescription == description)
        // JSON, with sorted keys: the same text for the same model, read back as it was.
        #expect(try ModuleDescription(json: description.json) == description)
        #expect(everyBuildableLayer(Double.self).moduleDescription.json == description.json)
        #expect(ModuleDescription(of: ReLU<Float>()).json == #"{"kind":"ReLU"}"#)
    }

    @Test func nestedModulesAreFoundByReflection() throws {
        var rng = SeededGenerator(seed: 1)
        let gpt = GPT<Float>(GPTConfiguration(vocabularySize: 11, contextLength: 8, layers: 2, heads: 2, width: 8), using: &rng)
        let description = gpt.moduleDescription
        #expect(description.kind == "GPT")
        #expect(description.children.map(\.name) == ["tokenEmbedding", "positionEmbedding", "dropout", "blocks.0", "blocks.1", "finalNorm"])
        let attention = try #require(description.children[3].module.children.first { $0.name == "attention" }?.module)
        #expect(attention.settings == ["heads": .integer(2), "causal": .flag(true)])
        #expect(attention.children.map(\.name) == ["queryKeyValue", "output", "attentionDropout", "outputDropout"])
        // An LSTM's layers sit in its stack.
        let lstm = LSTM<Float>(inputSize: 3, hiddenSize: 4, layerCount: 2, using: &rng).moduleDescription
        #expect(lstm.children.first?.module.children.map(\.name) == ["layers.0", "layers.1", "dropouts.0"])
    }

    @Test func loadingRefusesAFileSavedFromAnotherModel() throws {
        let path = temporaryPath("model.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var rng = SeededGenerator(seed: 1)
        let sigmoid = Sequential<Float> { Dense(inputSize: 4, outputSize: 3, using: &rng); Sigmoid(); Dense(inputSize: 3, outputSize: 2, using: &rng) }
        let relu = Sequential<Float> { Dense(inputSize: 4, outputSize: 3, using: &rng); ReLU(); Dense(inputSize: 3, outputSize: 2, using: &rng) }
        try sigmoid.save(to: path, metadata: ["epochs": "3"])
        #expect(try SafeTensors(contentsOf: path).metadata == ["epochs": "3", ModuleDescription.metadataKey: sigmoid.moduleDescription.json])
        let before = relu.parameterValues
        #expect(throws: ModelMismatch(file: path, place: "1", saved: "Sigmoid", model: "ReLU")) { try relu.load(from: path) }
        #expect(relu.parameterValues == before)
        // Asked to, the tensors load: names and shapes fit.
        try relu.load(from: path, weightsOnly: true)
        #expect(relu.parameterValues == sigmoid.parameterValues)

        // Attention with 4 heads or 2 has the same tensors; the description tells them apart.
        let config = GPTConfiguration(vocabularySize: 11, contextLength: 8, layers: 1, heads: 4, width: 8)
        try GPT<Float>(config, using: &rng).save(to: path)
        var twoHeads = config
        twoHeads.heads = 2
        #expect { try GPT<Float>(twoHeads, using: &rng).load(from: path) } throws: { error in
            let mismatch = error as? ModelMismatch
            return mismatch?.place == "blocks.0.attention.heads" && mismatch?.saved == "heads 4" && mismatch?.model == "heads 2"
                && "\(error)".hasSuffix("load with weightsOnly: true to load its tensors anyway")
        }
        try GPT<Float>(config, using: &rng).load(from: path)
    }

    @Test func aFileWithoutADescriptionLoadsByNamesAndShapes() throws {
        let path = temporaryPath("plain.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var rng = SeededGenerator(seed: 1)
        let model = Sequential<Float> { Dense(inputSize: 4, outputSize: 3, using: &rng); Sigmoid() }
        try SafeTensors(["0.weight": Tensor<Float>(ones: [3, 4]), "0.bias": Tensor<Float>(zeros: [3])]).write(to: path)
        try model.load(from: path)
        #expect(model.parameterValues["0.weight"] == Tensor(ones: [3, 4]))
        #expect(throws: DataError.self) { try Sequential<Float>(contentsOf: path) }
    }

    @Test func aModelIsRebuiltFromItsCheckpoint() throws {
        let path = temporaryPath("model.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = everyBuildableLayer(Float.self)
        var rng = SeededGenerator(seed: 7)
        let input = Tensor<Float>(randomNormal: [5, 1, 6, 6], using: &rng)
        // Running statistics and a drawn mask away from their initial values, so that states count.
        withLayerMode(.training) { _ = model(input) }
        try model.save(to: path)
        let rebuilt = try Sequential<Float>(contentsOf: path)
        #expect(rebuilt.moduleDescription == model.moduleDescription)
        #expect(rebuilt.parameterValues == model.parameterValues)
        #expect(rebuilt.states.map(\.state.wrappedValue) == model.states.map(\.state.wrappedValue))
        withLayerMode(.inference) { #expect(rebuilt(input) == model(input)) }
        // A Float file builds a Double model too.
        let double = try Sequential<Double>(contentsOf: path)
        #expect(double.parameterValues["5.weight"] == Tensor<Double>(converting: model.parameterValues["5.weight"]!))
    }

    /// A description that cannot be built, or does not fit its file, is refused naming the file
    /// and the layer, before anything is allocated.
    @Test(arguments: [
        ("\"kind\":\"Dense\"", "\"kind\":\"Highway\"", "layer 0 is a Highway, which Nabla cannot build from a description"),
        ("\"bias\":[3]", "\"bias\":[2]", "layer 0 (Dense) has bias of shape [2]; its other tensors need [3]"),
        ("\"weight\":[3,4]", "\"weight\":[3,-4]", "layer 0 (Dense) has weight of shape [3, -4]; it needs 2 positive sizes"),
        ("\"weight\":[3,4]", "\"weight\":[3000000,4000000]", "its description claims 12000000000004 values, but it holds 16"),
        ("\"probability\":0.5", "\"probability\":1.5", "layer 1 (Dropout) has probability 1.5, outside [0, 1)"),
        ("\"scaling\":\"inverted\"", "\"scaling\":\"sideways\"", "layer 1 (Dropout) has scaling sideways, none of [\"atEvaluation\", \"inverted\"]"),
        ("\"probability\":0.5", "\"probability\":0.5,\"seed\":3", "at 1.seed it describes seed 3, which builds as no seed"),
        ("\"kind\":\"Sequential\"}", "\"kind\":\"Stack\"}", "the top is a Stack, not a Sequential"),
        ("{\"children\"", "[", "metadata nabla.module is not a model description"),
    ])
    func aDescriptionThatDoesNotFitIsRefused(original: String, forged: String, message: String) throws {
        let path = temporaryPath("forged.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var rng = SeededGenerator(seed: 1)
        try Sequential<Float> { Dense(inputSize: 4, outputSize: 3, using: &rng); Dropout(probability: 0.5, using: &rng) }.save(to: path)
        var file = try SafeTensors(contentsOf: path)
        let json = try #require(file.metadata[ModuleDescription.metadataKey])
        try #require(json.contains(original), "\(json)")
        file.metadata[ModuleDescription.metadataKey] = json.replacingOccurrences(of: original, with: forged)
        try file.write(to: path)
        #expect { try Sequential<Float>(contentsOf: path) } throws: { error in
            (error as? DataError)?.file == path && "\(error)".contains(message)
        }
    }
}
