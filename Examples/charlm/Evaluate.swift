import ArgumentParser
import ExampleSupport
import Foundation
import Nabla
import NablaData

/// The exact validation loss of a Shakespeare checkpoint: every consecutive block of the
/// validation split, not a random estimate, so that two frameworks can be compared to the digit.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The validation loss of a Shakespeare model over every consecutive block of the validation split.",
        discussion: "Reads charlm checkpoints and nanoGPT state dicts saved by Benchmarks/pytorch_nanogpt.py.")

    @Option(help: "The checkpoint (safetensors).")
    var load: String

    @Option(help: "tinyshakespeare.txt (or its directory). Default: $NABLA_TEXT, then ../shared/text.")
    var data: String?

    @Option(help: "Also save the model under nanoGPT's names, for PyTorch to load (a GPT only).")
    var exportNanogpt: String?

    func run() throws {
        let saved = try SavedModel(path: load)
        guard saved.model.predictsEveryPosition else { throw failure("\(load) is a names model: evaluate reads Shakespeare models") }
        let text = try readText(try findTextFile(named: "tinyshakespeare.txt", given: data))
        guard CharacterVocabulary(text: text) == saved.vocabulary else {
            throw failure("\(load) was trained on another text: its vocabulary differs from tiny Shakespeare's")
        }
        let tokens = try saved.vocabulary.encode(text)
        let validation = Array(tokens[Int(Double(tokens.count) * 0.9)...])
        let (loss, count) = consecutiveBlockLoss(saved.model, tokens: validation, contextLength: saved.contextLength)
        print(String(format: "validation loss %.6f over %d tokens", loss, count))
        if let exportNanogpt {
            guard let gpt = saved.model.network as? GPT<Float> else { throw failure("--export-nanogpt: \(load) is not a GPT") }
            let c = gpt.configuration
            let metadata = ["vocabulary": saved.vocabulary.joined, "vocab_size": String(c.vocabularySize), "block_size": String(c.contextLength),
                            "n_layer": String(c.layers), "n_head": String(c.heads), "n_embd": String(c.width),
                            "bias": c.bias ? "True" : "False", "dropout": String(c.dropout)]
            try SafeTensors(gpt.nanoGPTStateDict, metadata: metadata).write(to: exportNanogpt)
            print("saved under nanoGPT's names to \(exportNanogpt)")
        }
    }
}

/// The mean cross-entropy over blocks tokens[i·T ..< (i+1)·T] predicting the tokens one later,
/// for every whole block, 64 blocks to a batch; and how many tokens were predicted.
func consecutiveBlockLoss(_ model: CharacterModel, tokens: [Int], contextLength: Int) -> (loss: Double, count: Int) {
    let blocks = (tokens.count - 1) / contextLength
    var total = 0.0
    withLayerMode(.inference) {
        for first in stride(from: 0, to: blocks, by: 64) {
            let rows = min(64, blocks - first)
            let start = first * contextLength, length = rows * contextLength
            let x = IndexTensor(Array(tokens[start ..< start + length]), shape: [rows, contextLength])
            let y = IndexTensor(Array(tokens[start + 1 ..< start + length + 1]), shape: [rows, contextLength])
            total += Double(SoftmaxCrossEntropyLoss<Float>()(model(x), y).scalar) * Double(length)
        }
    }
    return (total / Double(blocks * contextLength), blocks * contextLength)
}
