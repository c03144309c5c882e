import ExampleSupport
import Nabla
import NablaData

/// A model read back from a checkpoint: one `charlm train` saved (its configuration in the
/// metadata), or a nanoGPT state dict saved by PyTorch (`Benchmarks/pytorch_nanogpt.py`: nanoGPT's
/// names, its `model_args` and the vocabulary in the metadata).
struct SavedModel {
    let model: CharacterModel
    let vocabulary: CharacterVocabulary
    let contextLength: Int
    /// The configuration that trained it, for a charlm checkpoint.
    let configuration: ConfigurationName?

    init(path: String) throws {
        let file = try SafeTensors(contentsOf: path)
        guard let characters = file.metadata["vocabulary"] else {
            throw failure("\(path) was not saved by charlm train or pytorch_nanogpt.py: its metadata has no vocabulary")
        }
        vocabulary = CharacterVocabulary(characters: Array(characters.unicodeScalars))
        var rng = SeededGenerator(seed: 0)
        if file.tensors["transformer.wte.weight"] != nil {
            let number = { (key: String) throws -> Int in
                guard let value = file.metadata[key].flatMap(Int.init), value > 0 else {
                    throw failure("\(path) holds nanoGPT's tensors but no positive \(key) in its metadata (nanoGPT's model_args)")
                }
                return value
            }
            let gpt = GPT<Float>(GPTConfiguration(vocabularySize: try number("vocab_size"), contextLength: try number("block_size"),
                                                  layers: try number("n_layer"), heads: try number("n_head"), width: try number("n_embd"),
                                                  bias: file.metadata["bias"] == "True"), using: &rng)
            guard gpt.configuration.vocabularySize == vocabulary.count else {
                throw failure("\(path): vocab_size \(gpt.configuration.vocabularySize) differs from its vocabulary of \(vocabulary.count) characters")
            }
            do { try gpt.loadNanoGPT(file, from: path) } catch let error as DataError { throw failure("\(error)") }
            (model, contextLength, configuration) = (CharacterModel(network: gpt, predictsEveryPosition: true), gpt.configuration.contextLength, nil)
            return
        }
        guard let name = file.metadata["config"], let config = ConfigurationName(rawValue: name),
              let context = file.metadata["context"].flatMap(Int.init), context > 0 else {
            throw failure("\(path) was not saved by charlm train: its metadata has no config and context")
        }
        let settings = RunConfiguration.named(config)
        model = CharacterModel(settings.architecture, vocabularySize: vocabulary.count, contextLength: context, using: &rng)
        do {
            try model.load(file, from: path)
        } catch let error as DataError {
            throw failure("\(error) — it does not fit the \(config.rawValue) model (\(describe(settings.architecture)))")
        }
        (contextLength, configuration) = (context, config)
    }
}
