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
            The network is built from the description of it that `train --save` wrote into the \
            checkpoint; a file without one (saved by PyTorch) needs --network. \
            A dark digit on a light background is inverted to MNIST's convention (ink bright).
            """)

    @Option(help: "A safetensors checkpoint written by `train --save` or `--save-best`.")
    var load: String

    @Option(help: "The network the file holds, for a checkpoint that does not describe its model (one saved by PyTorch): \(NetworkName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var network: NetworkName?

    @Flag(help: "With --network: load the file's tensors into that network even if the file describes another model.")
    var weightsOnly = false

    @Argument(help: "The image: a 28×28 PGM (P5 or P2) or 8-bit PNG file.")
    var image: String

    /// The network in the file: built from the description it holds, or, with `--network`, that
    /// network with the file's tensors loaded into it (checked against the description, if any).
    func model() throws -> Sequential<Float> {
        guard let network else {
            let file = try SafeTensors(contentsOf: load)
            guard try file.moduleDescription(file: load) != nil else {
                throw DataError(file: load, "does not describe its model (it was not saved by `train --save`); name the network with --network")
            }
            return try Sequential<Float>(file, from: load)
        }
        var rng = SeededGenerator(seed: 0)
        let model: Sequential<Float> = network.recipe.makeModel(using: &rng)
        try loadCheckpoint(load, into: model, network: network, weightsOnly: weightsOnly)
        return model
    }

    func run() throws {
        if weightsOnly && network == nil { throw failure("--weights-only loads the file's tensors into the network --network names; name one") }
        do {
            let model = try model()
            let shape: MNISTImageShape = model.layers.first is Conv2D<Float> ? .image : .flat
            let pixels = try GrayscaleImage(contentsOf: image).mnistPixels()
            let set = try MNISTSet(name: image, pixels: pixels, labels: [0])
            var (input, label) = (Tensor<Float>(zeros: [0]), Tensor<Float>(zeros: [0]))
            set.dataset(imageShape: shape).batch([0], inputs: &input, targets: &label)
            let output = model(input)
            // Sigmoid outputs (chapter 1's) are not a distribution: normalise them; logits go
            // through softmax.
            let scores = model.layers.last is Sigmoid<Float> ? (output / output.sum()).scalars : softmax(output).scalars
            print(terminalPicture(of: Array(set.images(at: [0], as: Float.self).scalars)))
            for (digit, probability) in scores.enumerated().sorted(by: { $0.element > $1.element }).prefix(3) {
                print("\(digit): " + String(format: "%5.1f%%", 100 * probability))
            }
        } catch let error as DataError {
            throw failure(error.description)
        }
    }
}
