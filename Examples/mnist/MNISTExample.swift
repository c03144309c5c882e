import ArgumentParser
import Foundation
import Nabla
import NablaData
import ExampleSupport

/// `swift run -c release Examples/mnist`: the network of chapter 1 of Michael Nielsen's
/// *Neural Networks and Deep Learning*, trained on MNIST with Nabla.
@main
struct MNISTExample: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mnist",
        abstract: "Train the book's networks on MNIST, or classify an image with a trained one.",
        discussion: "The book's networks, for `--network NAME`: " + NetworkName.allCases.map(\.rawValue).joined(separator: ", ")
            + ". `mnist train --help` lists every training option.",
        subcommands: [Train.self, LearningSpeed.self, EnsembleCommand.self, Predict.self],
        defaultSubcommand: Train.self)

    /// Runs the command; every failure is one line on standard error and a non-zero exit code.
    static func main() async { await runCommandLine(Self.self) }
}

/// The book's network: Dense and Sigmoid layers, without the last sigmoid for cross-entropy
/// (``SigmoidCrossEntropyLoss`` takes logits; the prediction, an argmax, is the same).
func makeNetwork<S: TensorScalar>(sizes: [Int], crossEntropy: Bool = false, initializer: Initializer<S> = .standardNormal,
                                  using rng: inout SeededGenerator) -> Sequential<S> {
    Sequential<S> {
        for (i, (n, next)) in zip(sizes, sizes.dropFirst()).enumerated() {
            Dense(inputSize: n, outputSize: next, weightInitializer: initializer, using: &rng)
            if !(crossEntropy && i == sizes.count - 2) { Sigmoid() }
        }
    }
}

/// What a checkpoint records about the network, beside the model's description that
/// ``Module/save(to:metadata:)`` adds (from which `predict` rebuilds it): its name, cost and
/// accuracy, and the sizes older versions of this example read.
func checkpointMetadata(network: NetworkName, recipe: Recipe, epoch: Int, correct: Int, total: Int) -> [String: String] {
    var metadata = ["network": network.rawValue, "loss": recipe.loss.rawValue, "epoch": String(epoch), "accuracy": "\(correct)/\(total)"]
    switch recipe.architecture {
    case .fullyConnected(let hidden):
        metadata["sizes"] = ([784] + hidden + [10]).map(String.init).joined(separator: ",")
    case .convolutional(_, let fullyConnected, _):
        metadata["hidden"] = fullyConnected.map(String.init).joined(separator: ",")
    }
    return metadata
}

/// Loads the checkpoint at `path` into `model`, the network `network` names; a file saved from
/// another network, or labelled with a network there is no such thing as, is one line naming both
/// (and where they differ), unless `weightsOnly`.
func loadCheckpoint(_ path: String, into model: Sequential<Float>, network: NetworkName, weightsOnly: Bool) throws {
    let file = try SafeTensors(contentsOf: path)
    if !weightsOnly, let label = file.metadata["network"], NetworkName(rawValue: label) == nil {
        throw failure("\(path)'s metadata names network '\(label)', none of \(NetworkName.allCases.map(\.rawValue).joined(separator: ", ")); "
                      + "--weights-only loads its tensors anyway")
    }
    do {
        try model.load(file, from: path, weightsOnly: weightsOnly)
    } catch let mismatch as ModelMismatch {
        let saved = file.metadata["network"].map { "saved by \($0)" } ?? "saved from another network"
        throw failure("\(path) was \(saved) (at \(mismatch.place): \(mismatch.saved)); this model is \(network.rawValue) "
                      + "(\(mismatch.model)); --weights-only loads its tensors anyway")
    }
}

enum LossChoice: String, ExpressibleByArgument, CaseIterable {
    case quadratic, crossEntropy = "cross-entropy", logLikelihood = "log-likelihood"
}

enum OptimizerChoice: String, ExpressibleByArgument, CaseIterable {
    case sgd, momentum, adam
}

enum InitChoice: String, ExpressibleByArgument, CaseIterable {
    case book, scaled, network3
}

enum EvalChoice: String, ExpressibleByArgument, CaseIterable {
    case test, validation
}

func parseSizes(_ text: String) throws -> [Int] {
    let sizes = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else {
        throw ValidationError("--hidden takes positive sizes separated by commas, such as 30 or 100,30; got '\(text)'")
    }
    return sizes.map { $0! }
}
