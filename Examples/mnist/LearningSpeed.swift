import ArgumentParser
import ExampleSupport
import Foundation
import Nabla
import NablaData

/// `Examples/mnist learning-speed --hidden 30,30`: chapter 5's measure of how fast each hidden
/// layer learns, ‖∂C/∂b‖ for the layer's biases, at initialisation and as the network trains.
struct LearningSpeed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learning-speed",
        abstract: "Chapter 5: the speed of learning of each hidden layer, at initialisation and while training.",
        discussion: """
            The book's measurement (fig/generate_gradient.py): a network2 network (sigmoid, cross-entropy, \
            weights N(0, 1/n_in), biases N(0, 1)) on the first 1,000 training images. A layer's speed is \
            the norm of the gradient of the cost with respect to its biases, averaged over the 1,000 \
            images. Training is the book's: full-batch gradient descent on those images, η = 0.1, λ = 5.0.
            """)

    @Option(help: "A directory of MNIST IDX files, or the book's mnist.pkl.gz. Default: $NABLA_MNIST, then the cache directory.")
    var data: String?

    @Option(help: "Hidden layer sizes, comma-separated: 30,30 (the book's figures: 30,30; 30,30,30; 30,30,30,30).", transform: parseSizes)
    var hidden: [Int] = [30, 30]

    @Option(parsing: .unconditional, help: "Epochs of full-batch training after the measurement at initialisation (the book: 500).")
    var epochs = 500

    @Option(parsing: .unconditional, help: "Print a row of the table every N epochs (every epoch is plotted).")
    var printEvery = 50

    @Option(help: "Seed for the initial weights.")
    var seed: UInt64 = 1

    @Option(help: "Draw the speeds against epoch, log scale, to this SVG file.")
    var plot: String?

    mutating func validate() throws {
        guard epochs >= 0 else { throw ValidationError("--epochs must be 0 or more, got \(epochs)") }
        guard printEvery > 0 else { throw ValidationError("--print-every must be positive, got \(printEvery)") }
    }

    func run() throws {
        let mnist: MNIST
        do {
            mnist = try MNIST(searching: data)
        } catch let error as DataError {
            throw failure(error.description)
        }
        var rng = SeededGenerator(seed: seed)
        let sizes = [784] + hidden + [10]
        let model: Sequential<Double> = makeNetwork(sizes: sizes, crossEntropy: true, initializer: .scaledNormal, using: &rng)
        let images = mnist.training.subset(0..<1000)
        let cost = SigmoidCrossEntropyLoss<Double>()
        let (x, y) = (images.images(at: 0..<1000, as: Double.self), images.oneHotLabels(at: 0..<1000, as: Double.self))
        // The hidden layers' biases: every Dense but the last (the output layer, which the book leaves out).
        let biases = model.parameters.map(\.name).filter { $0.hasSuffix("bias") }.dropLast()
        let speeds = { () -> [Double] in
            let (_, gradients) = valueWithGradient(at: model) { cost($0(x), y) }
            return biases.map { name in gradients[name]!.scalars.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        }

        print("Speed of learning ‖∂C/∂b‖ of each hidden layer, network \(sizes.map(String.init).joined(separator: "-")), seed \(seed):")
        print("epoch" + hidden.indices.map { String(repeating: " ", count: 6) + "layer \($0 + 1)" }.joined())
        var rows = [speeds()]
        let printRow = { (epoch: Int, row: [Double]) in
            print(String(format: "%5d", epoch) + row.map { String(format: "%13.6f", $0) }.joined())
        }
        printRow(0, rows[0])
        if epochs > 0 {
            let trainer = Trainer(model: model, loss: cost, optimizer: SGD(learningRate: 0.1, weightDecay: 5.0 / 1000, decays: { $0.hasSuffix("weight") }),
                                  batchSize: 1000, order: .fixed)
            trainer.callbacks = [SpeedRecorder { epoch in
                rows.append(speeds())
                if (epoch + 1) % printEvery == 0 || epoch + 1 == epochs { printRow(epoch + 1, rows.last!) }
            }]
            try trainer.fit(TensorDataset(inputs: x, targets: y), epochs: epochs)
        }
        if let plot {
            try speedPlot(rows, title: "Speed of learning: \(sizes.map(String.init).joined(separator: "-")), seed \(seed)").write(toFile: plot)
            print("Drew the speeds to \(plot)")
        }
    }
}

/// Calls back after each epoch.
struct SpeedRecorder: TrainingCallback {
    let record: (Int) -> Void
    func epochEnded(_ report: EpochReport, history: [EpochReport], control: inout TrainingControl) { record(report.epoch) }
}

/// One line per hidden layer, speed against epoch, on a logarithmic axis, like the book's figures.
func speedPlot(_ rows: [[Double]], title: String) -> String {
    let (width, height, left, right, top, bottom) = (720.0, 420.0, 80.0, 130.0, 50.0, 50.0)
    let (plotWidth, plotHeight) = (width - left - right, height - top - bottom)
    let values = rows.flatMap { $0 }.filter { $0 > 0 }
    let (low, high) = ((values.min() ?? 1e-6).log10Floor, (values.max() ?? 1).log10Ceiling)
    let lastEpoch = max(rows.count - 1, 1)
    let x = { (epoch: Int) in left + plotWidth * Double(epoch) / Double(lastEpoch) }
    let y = { (v: Double) in top + plotHeight * (1 - (log10(max(v, 1e-300)) - low) / max(high - low, 1)) }
    let colors = ["#1f5fbf", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#2c3e50"]
    var svg = [String(format: #"<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="Helvetica, Arial, sans-serif" font-size="12">"#, width, height),
               #"<rect width="100%" height="100%" fill="white"/>"#,
               String(format: #"<text x="%.0f" y="28" text-anchor="middle" font-size="15">%@</text>"#, width / 2, title)]
    for power in stride(from: Int(low), through: Int(high), by: 1) {
        let v = pow(10, Double(power))
        svg.append(String(format: ##"<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#e5e5e5"/>"##, left, left + plotWidth, y(v), y(v)))
        svg.append(String(format: #"<text x="%.1f" y="%.1f" text-anchor="end">1e%d</text>"#, left - 8, y(v) + 4, power))
    }
    for epoch in stride(from: 0, through: lastEpoch, by: max(1, lastEpoch / 10)) {
        svg.append(String(format: #"<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>"#, x(epoch), top + plotHeight + 18, epoch))
    }
    svg.append(String(format: ##"<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>"##, left, top, plotWidth, plotHeight))
    svg.append(String(format: #"<text x="%.1f" y="%.1f" text-anchor="middle">epoch</text>"#, left + plotWidth / 2, height - 12))
    for layer in rows[0].indices {
        let color = colors[layer % colors.count]
        let path = rows.enumerated().map { String(format: "%@%.1f,%.1f", $0.offset == 0 ? "M" : "L", x($0.offset), y($0.element[layer])) }
        svg.append(##"<path d="\##(path.joined(separator: " "))" fill="none" stroke="\##(color)" stroke-width="2"/>"##)
        svg.append(String(format: ##"<text x="%.1f" y="%.1f" fill="%@">hidden layer %d</text>"##, left + plotWidth + 10, top + 20 + 18 * Double(layer), color, layer + 1))
    }
    svg.append("</svg>")
    return svg.joined(separator: "\n") + "\n"
}

extension Double {
    /// ⌊log₁₀⌋ and ⌈log₁₀⌉, for a logarithmic axis's range.
    var log10Floor: Double { Foundation.log10(self).rounded(.down) }
    var log10Ceiling: Double { Foundation.log10(self).rounded(.up) }
}
