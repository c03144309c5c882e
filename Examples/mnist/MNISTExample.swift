import ArgumentParser
import Foundation
import Nabla

/// `swift run -c release Examples/mnist`: the network of chapter 1 of Michael Nielsen's
/// *Neural Networks and Deep Learning*, trained on MNIST with Nabla.
@main
struct MNISTExample: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mnist",
        abstract: "Train the book's 784-30-10 sigmoid network on MNIST.",
        discussion: """
            The defaults are the book's: quadratic cost, SGD with η = 3.0, mini-batches of 10, \
            30 epochs, N(0, 1) initialisation, evaluated on the 10,000 test images after each epoch.
            """)

    @Option(help: "A directory of MNIST IDX files, or the book's mnist.pkl.gz. Default: $NABLA_MNIST, then the cache directory.")
    var data: String?

    @Option(help: "Passes over the training images.")
    var epochs = 30

    @Option(help: "Images per mini-batch.")
    var batchSize = 10

    @Option(help: "η, the learning rate.")
    var learningRate: Float = 3.0

    @Option(help: "Hidden layer sizes, comma-separated: 30, or 100,30.", transform: parseSizes)
    var hidden: [Int] = [30]

    @Option(help: "Cost: quadratic (the book's chapter 1) or cross-entropy (chapter 3).")
    var loss: LossChoice = .quadratic

    @Option(help: "Optimizer: sgd, momentum (0.9) or adam.")
    var optimizer: OptimizerChoice = .sgd

    @Option(help: "Initial weights: book (N(0, 1)) or scaled (N(0, 1/n_in), chapter 3).")
    var initialization: InitChoice = .book

    @Option(help: "Seed for initial weights and shuffling; the same seed gives the same run.")
    var seed: UInt64 = 1

    @Option(help: "Evaluate on the test or the validation images.")
    var eval: EvalChoice = .test

    @Option(help: "Train on only the first N training images.")
    var limit: Int?

    @Flag(help: "Compare autodiff gradients with the book's hand-written backprop and with finite differences, then exit.")
    var checkGradients = false

    mutating func validate() throws {
        guard epochs >= 0 else { throw ValidationError("--epochs must be 0 or more, got \(epochs)") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive, got \(learningRate)") }
        if let limit, limit <= 0 { throw ValidationError("--limit must be positive, got \(limit)") }
    }

    func run() async throws {
        #if DEBUG
        printError("note: this is a debug build; `swift run -c release Examples/mnist` is many times faster")
        #endif
        let mnist: MNIST
        do {
            mnist = try await loadMNIST(explicit: data)
        } catch let error as DataError {
            throw failure(error.description)
        }
        if checkGradients {
            let passed = GradientReport(mnist: mnist, hidden: hidden, seed: seed).run()
            if !passed { throw ExitCode.failure }
            return
        }
        try train(on: mnist)
    }

    /// The book's network.py loop: shuffle, mini-batches, update, evaluate, print.
    func train(on mnist: MNIST) throws {
        var rng = SeededGenerator(seed: seed)
        var model: Sequential<Float> = makeNetwork(sizes: [784] + hidden + [10], crossEntropy: loss == .crossEntropy,
                                initializer: initialization == .book ? .standardNormal : .scaledNormal, using: &rng)
        let cost: any Loss<Float> = loss == .quadratic ? QuadraticLoss() : SigmoidCrossEntropyLoss()
        var optimizer: any Optimizer<Float> = switch self.optimizer {
        case .sgd: SGD(learningRate: learningRate)
        case .momentum: SGD(learningRate: learningRate, momentum: 0.9)
        case .adam: Adam(learningRate: learningRate)
        }
        let training = limit.map { mnist.training.subset(0 ..< min($0, mnist.training.count)) } ?? mnist.training
        let evaluation = eval == .test ? mnist.test : mnist.validation

        print("Training \((([784] + hidden + [10]).map(String.init)).joined(separator: "-")) on \(training.count) images: "
              + "\(loss.rawValue) cost, \(self.optimizer.rawValue), η = \(learningRate), mini-batch \(batchSize), seed \(seed)")
        var history: [(epoch: Int, correct: Int)] = []
        let start = Date()
        for epoch in 0..<epochs {
            let epochStart = Date()
            let order = rng.permutation(of: training.count)
            var totalCost: Float = 0
            for (step, first) in stride(from: 0, to: training.count, by: batchSize).enumerated() {
                let batch = order[first ..< min(first + batchSize, training.count)]
                let x: Tensor<Float> = training.images(at: batch)
                let y: Tensor<Float> = training.oneHotLabels(at: batch)
                let (value, gradients) = valueWithGradient(at: model) { cost($0(x), y) }
                guard value.scalar.isFinite else {
                    throw failure("training diverged at epoch \(epoch), step \(step): the cost is \(value.scalar). "
                                  + "Try a smaller --learning-rate (now \(learningRate)).")
                }
                totalCost += value.scalar * Float(batch.count)
                optimizer.update(&model, along: gradients)
            }
            let trainSeconds = Date().timeIntervalSince(epochStart)
            let correct = evaluation.correctCount(of: model)
            history.append((epoch, correct))
            print("Epoch \(epoch): \(correct) / \(evaluation.count)" + String(
                format: "  [%.2f s training, cost %.4f]", trainSeconds, totalCost / Float(training.count)))
        }
        if let best = history.max(by: { $0.correct < $1.correct }), let last = history.last {
            let percent = { (c: Int) in String(format: "%.2f%%", 100 * Double(c) / Double(evaluation.count)) }
            print("Best: \(best.correct) / \(evaluation.count) (\(percent(best.correct))) at epoch \(best.epoch); "
                  + "final \(percent(last.correct)); " + String(format: "%.1f s in all", Date().timeIntervalSince(start)))
        }
    }
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

enum LossChoice: String, ExpressibleByArgument, CaseIterable {
    case quadratic, crossEntropy = "cross-entropy"
}

enum OptimizerChoice: String, ExpressibleByArgument, CaseIterable {
    case sgd, momentum, adam
}

enum InitChoice: String, ExpressibleByArgument, CaseIterable {
    case book, scaled
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

/// Prints to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Reports a failure as one line on standard error and exits non-zero.
func failure(_ message: String) -> ExitCode {
    printError("error: " + message)
    return ExitCode.failure
}
