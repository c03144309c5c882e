import ArgumentParser
import ExampleSupport
import Foundation
import Nabla
import NablaData

/// Samples text from a saved checkpoint.
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sample text from a checkpoint that `train` saved.")

    @Option(help: "The checkpoint (safetensors) to sample from.")
    var load: String

    @Option(help: "Text to continue (Shakespeare), or the start of a name (names). Default: a newline, or nothing.")
    var prompt: String?

    @Option(parsing: .unconditional, help: "Characters to generate.")
    var tokens = 500

    @Option(parsing: .unconditional, help: "Divides the logits: below 1 sharper, above 1 more varied.")
    var temperature: Float = 0.8

    @Option(parsing: .unconditional, help: "Sample only among the K likeliest characters.")
    var topK = 200

    @Option(help: "Seed of the sample.")
    var seed: UInt64 = 1

    func run() throws {
        guard tokens >= 0 else { throw failure("--tokens must not be negative, got \(tokens)") }
        guard temperature > 0, temperature.isFinite else { throw failure("--temperature must be positive, got \(temperature)") }
        guard topK >= 1 else { throw failure("--top-k must be at least 1, got \(topK)") }
        let saved = try SavedModel(path: load)
        let (model, vocabulary, context) = (saved.model, saved.vocabulary, saved.contextLength)
        var sampler = SeededGenerator(seed: seed)
        let text: String
        do {
            text = try generate(model, vocabulary: vocabulary, contextLength: context,
                                prompt: prompt ?? (model.predictsEveryPosition ? "\n" : ""),
                                count: tokens, temperature: temperature, topK: topK, using: &sampler)
        } catch let error as VocabularyError {
            throw failure("--prompt: \(error.description)")
        }
        print(text)
    }
}

/// The prompt followed by `count` sampled characters. A sequence model reads the last
/// `contextLength` characters and predicts the next; a names model reads a context window
/// (padded with "."), and each "." ends a name and starts the next on a new line.
func generate(_ model: CharacterModel, vocabulary: CharacterVocabulary, contextLength: Int, prompt: String,
              count: Int, temperature: Float, topK: Int, using rng: inout SeededGenerator) throws -> String {
    var ids = try vocabulary.encode(prompt)
    if model.predictsEveryPosition && ids.isEmpty {
        throw VocabularyError(description: "a sequence model needs a prompt of at least one character")
    }
    var names: [String] = []
    // The next character's logits: a sequence model's after its last position only. The forward
    // pass is recorded and replayed once the window is full (every call is then of one shape); a
    // window still filling up, of a new length each time, runs eagerly.
    let nextLogits = { (model: CharacterModel, ids: IndexTensor) in model.predictsEveryPosition ? model.nextTokenLogits(ids) : model(ids) }
    let forward = TracedGradient(of: model, withIndices: { model, _, ids in nextLogits(model, ids[0]) })
    for _ in 0..<count {
        let window = model.predictsEveryPosition ? Array(ids.suffix(contextLength))
            : Array((Array(repeating: 0, count: contextLength) + ids).suffix(contextLength))
        let input = IndexTensor(window, shape: [1, window.count])
        let logits = window.count == contextLength ? forward.evaluate(indices: [input]).scalars
            : withLayerMode(.inference) { nextLogits(model, input) }.scalars
        let next = sampleIndex(logits, temperature: temperature, topK: topK, using: &rng)
        if !model.predictsEveryPosition && next == 0 {
            names.append(vocabulary.decode(ids))
            ids = []
        } else {
            ids.append(next)
        }
    }
    if model.predictsEveryPosition { return vocabulary.decode(ids) }
    return (names + (ids.isEmpty ? [] : [vocabulary.decode(ids) + "…"])).joined(separator: "\n")
}

/// A draw from softmax(logits / temperature) restricted to the `topK` largest logits.
func sampleIndex(_ logits: [Float], temperature: Float, topK: Int, using rng: inout SeededGenerator) -> Int {
    let scaled = logits.map { Double($0 / temperature) }
    let threshold = topK >= scaled.count ? -Double.infinity : scaled.sorted(by: >)[topK - 1]
    let top = scaled.max()!
    let weights = scaled.map { $0 >= threshold ? Foundation.exp($0 - top) : 0 }
    var u = rng.nextUniform() * weights.reduce(0, +)
    for (index, weight) in weights.enumerated() where weight > 0 {
        u -= weight
        if u <= 0 { return index }
    }
    return weights.lastIndex { $0 > 0 }!
}
