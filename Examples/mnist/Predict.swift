import ArgumentParser
import ExampleSupport
import Foundation
import Nabla
import NablaData

/// `Examples/mnist predict --load model.safetensors digit.pgm`: classifies a 28×28 digit.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify a 28×28 image (PGM or PNG) with a trained network.",
        discussion: """
            The network's shape is read from the checkpoint that `train --save` wrote. \
            A dark digit on a light background is inverted to MNIST's convention (ink bright).
            """)

    @Option(help: "A safetensors checkpoint written by `train --save` or `--save-best`.")
    var load: String

    @Argument(help: "The image: a 28×28 PGM (P5 or P2) or 8-bit PNG file.")
    var image: String

    /// The network a checkpoint's metadata describes: its `network` (chapter1 if absent, as in
    /// older checkpoints), with the `sizes` or `hidden` layers and the `loss` it records.
    func recipe(of checkpoint: SafeTensors) throws -> Recipe {
        let metadata = checkpoint.metadata
        guard let network = NetworkName(rawValue: metadata["network"] ?? "chapter1") else {
            throw DataError(file: load, "metadata network '\(metadata["network"]!)' is none of \(NetworkName.allCases.map(\.rawValue))")
        }
        let stored = checkpoint.tensors.values.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let sizes = { (key: String) throws -> [Int]? in
            try metadata[key].map { text in
                // A layer larger than the file's tensors cannot be right (and its count could overflow).
                guard let sizes = try? parseSizes(text), sizes.allSatisfy({ $0 <= stored }) else {
                    throw DataError(file: load, "metadata \(key) '\(text)' is not a list of sizes the file's \(stored) parameters could hold")
                }
                return sizes
            }
        }
        return try network.recipe.with { recipe in
            if let loss = metadata["loss"] {
                guard let choice = LossChoice(rawValue: loss) else { throw DataError(file: load, "metadata loss '\(loss)' is unknown") }
                recipe.loss = choice
            }
            switch recipe.architecture {
            case .fullyConnected:
                if let sizes = try sizes("sizes") {
                    guard sizes.count >= 2, sizes.first == 784, sizes.last == 10 else {
                        throw DataError(file: load, "metadata sizes \(sizes) do not run from 784 inputs to 10 outputs")
                    }
                    recipe.architecture = .fullyConnected(hidden: Array(sizes.dropFirst().dropLast()))
                }
            case .convolutional(let activation, _, let dropout):
                if let hidden = try sizes("hidden") {
                    recipe.architecture = .convolutional(activation: activation, fullyConnected: hidden, dropout: dropout)
                }
            }
        }
    }

    func run() throws {
        do {
            let checkpoint = try SafeTensors(contentsOf: load)
            let recipe = try recipe(of: checkpoint)
            // The sizes come from the file: check them against its tensors before building anything.
            let stored = checkpoint.tensors.values.reduce(0) { $0 + $1.shape.reduce(1, *) }
            guard recipe.checkpointCount == stored else {
                throw DataError(file: load, "its metadata describes \(describe(recipe.architecture)), "
                                + "\(recipe.checkpointCount) values, but it holds \(stored)")
            }
            var rng = SeededGenerator(seed: 0)
            let model: Sequential<Float> = recipe.makeModel(using: &rng)
            try model.load(from: load)
            let pixels = try GrayscaleImage(contentsOf: image).mnistPixels()
            let set = try MNISTSet(name: image, pixels: pixels, labels: [0])
            var (input, label) = (Tensor<Float>(zeros: [0]), Tensor<Float>(zeros: [0]))
            set.dataset(imageShape: recipe.imageShape).batch([0], inputs: &input, targets: &label)
            let output = model(input)
            // Sigmoid outputs are not a distribution: normalise them; logits go through softmax.
            let scores = recipe.loss == .quadratic ? (output / output.sum()).scalars : softmax(output).scalars
            print(terminalPicture(of: Array(set.images(at: [0], as: Float.self).scalars)))
            for (digit, probability) in scores.enumerated().sorted(by: { $0.element > $1.element }).prefix(3) {
                print("\(digit): " + String(format: "%5.1f%%", 100 * probability))
            }
        } catch let error as DataError {
            throw failure(error.description)
        }
    }
}
