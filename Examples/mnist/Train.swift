import ArgumentParser
import Foundation
import Nabla
import NablaData

/// The book's network.py loop: shuffle, mini-batches, update, evaluate, print.
struct Train: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the network (the default subcommand).",
        discussion: """
            The defaults are the book's: quadratic cost, SGD with η = 3.0, mini-batches of 10, \
            30 epochs, N(0, 1) initialisation, evaluated on the 10,000 test images after each epoch.
            """)

    @Option(help: "A directory of MNIST IDX files, or the book's mnist.pkl.gz. Default: $NABLA_MNIST, then the cache directory.")
    var data: String?

    @OptionGroup var network: NetworkOptions

    @Option(parsing: .unconditional, help: "Passes over the training images.")
    var epochs = 30

    @Option(parsing: .unconditional, help: "Images per mini-batch.")
    var batchSize = 10

    @Option(parsing: .unconditional, help: "η, the learning rate.")
    var learningRate: Float = 3.0

    @Option(help: "Optimizer: sgd, momentum (0.9) or adam.")
    var optimizer: OptimizerChoice = .sgd

    @Option(help: "Initial weights: book (N(0, 1)) or scaled (N(0, 1/n_in), chapter 3).")
    var initialization: InitChoice = .book

    @Option(help: "Seed for initial weights and shuffling; the same seed gives the same run.")
    var seed: UInt64 = 1

    @Option(help: "Evaluate on the test or the validation images.")
    var eval: EvalChoice = .test

    @Option(parsing: .unconditional, help: "Train on only the first N training images.")
    var limit: Int?

    @Option(help: "Start from the parameters in this safetensors file (then evaluate, or continue training).")
    var load: String?

    @Option(help: "Save the parameters after the last epoch to this safetensors file.")
    var save: String?

    @Option(help: "Save the parameters of the best-evaluating epoch to this safetensors file.")
    var saveBest: String?

    @Option(help: "Draw the learning curve (accuracy and cost per epoch) to this SVG file.")
    var plot: String?

    @Option(parsing: .unconditional, help: "Draw this many misclassified evaluation digits in the terminal at the end.")
    var showMistakes: Int = 0

    @Flag(help: "Compare autodiff gradients with the book's hand-written backprop and with finite differences, then exit.")
    var checkGradients = false

    mutating func validate() throws {
        guard epochs >= 0 else { throw ValidationError("--epochs must be 0 or more, got \(epochs)") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive, got \(learningRate)") }
        if let limit, limit <= 0 { throw ValidationError("--limit must be positive, got \(limit)") }
        guard showMistakes >= 0 else { throw ValidationError("--show-mistakes must be 0 or more, got \(showMistakes)") }
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
            let passed = GradientReport(mnist: mnist, hidden: network.hidden, seed: seed).run()
            if !passed { throw ExitCode.failure }
            return
        }
        do {
            try train(on: mnist)
        } catch let error as DataError {
            throw failure(error.description)
        }
    }

    func train(on mnist: MNIST) throws {
        var rng = SeededGenerator(seed: seed)
        let crossEntropy = network.loss == .crossEntropy
        let model: Sequential<Float> = makeNetwork(
            sizes: network.sizes, crossEntropy: crossEntropy,
            initializer: initialization == .book ? .standardNormal : .scaledNormal, using: &rng)
        if let load { try model.load(from: load) }
        let cost: any Loss<Float> = crossEntropy ? SigmoidCrossEntropyLoss() : QuadraticLoss()
        var optimizer: any Optimizer<Float> = switch self.optimizer {
        case .sgd: SGD(learningRate: learningRate)
        case .momentum: SGD(learningRate: learningRate, momentum: 0.9)
        case .adam: Adam(learningRate: learningRate)
        }
        let training = limit.map { mnist.training.subset(0 ..< min($0, mnist.training.count)) } ?? mnist.training
        let evaluation = eval == .test ? mnist.test : mnist.validation
        let metadata = { (epoch: Int, correct: Int) in
            checkpointMetadata(sizes: network.sizes, loss: network.loss, epoch: epoch, correct: correct, total: evaluation.count)
        }

        print("Training \(network.sizes.map(String.init).joined(separator: "-")) on \(training.count) images: "
              + "\(network.loss.rawValue) cost, \(self.optimizer.rawValue), η = \(learningRate), mini-batch \(batchSize), seed \(seed)"
              + (load.map { ", starting from \($0)" } ?? ""))
        if epochs == 0 {
            let correct = evaluation.correctCount(of: model)
            print("Evaluation: \(correct) / \(evaluation.count)")
            if let save { try model.save(to: save, metadata: metadata(0, correct)) }
            try showMistakes(of: model, on: evaluation)
            return
        }

        // The step — the cost, its gradients and the optimizer's update — recorded on the first
        // batch and replayed after that: no graph is built and nothing is allocated per step, and
        // plain SGD's update is applied as the gradients are formed. `valueWithGradient(at:in:)`
        // followed by `optimizer.update(&model, along:)` is the same computation, eagerly.
        let lossAndGradient = TracedGradient(of: model) { model, x, y in cost(model(x), y) }
        var x = Tensor<Float>(zeros: [batchSize, MNISTSet.pixelCount])
        var y = Tensor<Float>(zeros: [batchSize, MNISTSet.classCount])
        var curve = LearningCurve(total: evaluation.count)
        let start = Date()
        let steps = (training.count + batchSize - 1) / batchSize
        for epoch in 0..<epochs {
            let epochStart = Date()
            var progress = ProgressBar(total: steps)
            let order = rng.permutation(of: training.count)
            var totalCost: Float = 0
            for step in 0..<steps {
                let first = step * batchSize
                let batch = order[first ..< min(first + batchSize, training.count)]
                training.images(at: batch, into: &x)
                training.oneHotLabels(at: batch, into: &y)
                let value = lossAndGradient.step(x, y, optimizer: &optimizer)
                guard value.scalar.isFinite else {
                    progress.clear()
                    throw failure("training diverged at epoch \(epoch), step \(step): the cost is \(value.scalar). "
                                  + "Try a smaller --learning-rate (now \(learningRate)).")
                }
                totalCost += value.scalar * Float(batch.count)
                progress.advance(to: step + 1)
            }
            progress.clear()
            let trainSeconds = Date().timeIntervalSince(epochStart)
            let correct = evaluation.correctCount(of: model)
            let meanCost = totalCost / Float(training.count)
            curve.append(correct: correct, cost: Double(meanCost))
            print("Epoch \(epoch): \(correct) / \(evaluation.count)"
                  + String(format: "  [%.2f s training, cost %.4f]", trainSeconds, meanCost))
            if let saveBest, curve.bestEpoch == epoch {  // better than every earlier epoch
                try model.save(to: saveBest, metadata: metadata(epoch, correct))
            }
        }
        if let bestEpoch = curve.bestEpoch, let last = curve.points.last {
            let percent = { (c: Int) in String(format: "%.2f%%", 100 * Double(c) / Double(evaluation.count)) }
            print("Best: \(curve.points[bestEpoch].correct) / \(evaluation.count) (\(percent(curve.points[bestEpoch].correct))) at epoch \(bestEpoch); "
                  + "final \(percent(last.correct)); " + String(format: "%.1f s in all", Date().timeIntervalSince(start)))
        }
        if let save {
            try model.save(to: save, metadata: metadata(epochs - 1, curve.points.last?.correct ?? 0))
            print("Saved the final parameters to \(save)")
        }
        if let saveBest { print("Saved the best epoch's parameters to \(saveBest)") }
        if let plot {
            try curve.svg(title: "\(network.sizes.map(String.init).joined(separator: "-")) on MNIST, \(network.loss.rawValue) cost, η = \(learningRate)",
                          evaluationName: evaluation.name).write(toFile: plot)
            print("Drew the learning curve to \(plot)")
        }
        try showMistakes(of: model, on: evaluation)
    }

    func showMistakes(of model: Sequential<Float>, on set: MNISTSet) throws {
        guard showMistakes > 0 else { return }
        let outputs = model(set.allImages(as: Float.self))
        let predictions = outputs.argmax(alongAxis: 1)
        let truth = set.labels(at: 0..<set.count)
        let wrong = (0..<set.count).filter { predictions[$0] != truth[$0] }.prefix(showMistakes)
        print("\(wrong.count) of the misclassified \(set.name) digits:")
        for i in wrong {
            print("\(set.name) image \(i): predicted \(predictions[i]), true \(truth[i])")
            print(terminalPicture(of: Array(set.images(at: [i], as: Float.self).scalars)))
        }
    }
}

extension String {
    /// Writes the text atomically (a temporary file, then a rename), naming the file on failure.
    func write(toFile path: String) throws {
        try writeAtomically(Data(utf8), to: path)
    }
}
