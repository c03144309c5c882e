import ArgumentParser
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

    func run() throws {
        do {
            let checkpoint = try SafeTensors(contentsOf: load)
            let sizes = try (checkpoint.metadata["sizes"] ?? "784,30,10").split(separator: ",").map { text -> Int in
                guard let n = Int(text), n > 0 else { throw DataError(file: load, "metadata sizes '\(checkpoint.metadata["sizes"]!)' is not a list of sizes") }
                return n
            }
            let logits = checkpoint.metadata["loss"] == LossChoice.crossEntropy.rawValue
            var rng = SeededGenerator(seed: 0)
            let model: Sequential<Float> = makeNetwork(sizes: sizes, crossEntropy: logits, using: &rng)
            try model.load(from: load)
            let pixels = try GrayscaleImage(contentsOf: image).mnistPixels()
            let set = try MNISTSet(name: image, pixels: pixels, labels: [0])
            let output = model(set.images(at: [0], as: Float.self))
            // Sigmoid outputs are not a distribution: normalise them; logits go through softmax.
            let scores = logits ? softmax(output).scalars : (output / output.sum()).scalars
            print(terminalPicture(of: Array(set.images(at: [0], as: Float.self).scalars)))
            for (digit, probability) in scores.enumerated().sorted(by: { $0.element > $1.element }).prefix(3) {
                print("\(digit): " + String(format: "%5.1f%%", 100 * probability))
            }
        } catch let error as DataError {
            throw failure(error.description)
        }
    }
}
