import ArgumentParser
import ExampleSupport
import Foundation
import Nabla
import NablaData

/// Trains one of the book's networks — chapter 1's by default — with Nabla's ``Trainer``.
struct Train: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a network of the book (the default subcommand).",
        discussion: """
            --network picks one of the book's networks, with its architecture and hyperparameters: \
            \(NetworkName.allCases.map(\.rawValue).joined(separator: ", ")). The default, chapter1, \
            is the 784-30-10 sigmoid network with the quadratic cost, SGD with η = 3.0, mini-batches \
            of 10, 30 epochs, N(0, 1) initialisation, evaluated on the 10,000 test images after each \
            epoch. The other options override the network's settings.
            """)

    @Option(help: "A directory of MNIST IDX files, or the book's mnist.pkl.gz. Default: $NABLA_MNIST, then the cache directory.")
    var data: String?

    @Option(help: "The book's network to train: \(NetworkName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var network: NetworkName = .chapter1

    @Option(help: "Hidden (or, for chapter 6, fully connected) layer sizes, comma-separated: 30, or 100,30.", transform: parseSizes)
    var hidden: [Int]?

    @Option(help: "Cost: quadratic (chapter 1), cross-entropy (chapter 3) or log-likelihood (softmax, chapter 6).")
    var loss: LossChoice?

    @Option(parsing: .unconditional, help: "Passes over the training images.")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Images per mini-batch.")
    var batchSize = 10

    @Option(parsing: .unconditional, help: "η, the learning rate.")
    var learningRate: Float?

    @Option(parsing: .unconditional, help: "λ, L2 regularization of the weights, as the network's chapter writes it.")
    var lambda: Float?

    @Option(help: "Optimizer: sgd, momentum (0.9) or adam.")
    var optimizer: OptimizerChoice = .sgd

    @Option(help: "Initial weights: book (N(0, 1)), scaled (N(0, 1/n_in), chapter 3) or network3 (chapter 6).")
    var initialization: InitChoice?

    @Option(help: "Seed for initial weights, shuffling and dropout; the same seed gives the same run.")
    var seed: UInt64 = 1

    @Option(help: "Evaluate on the test or the validation images.")
    var eval: EvalChoice?

    @Option(help: "Example order: shuffled each epoch (network2.py) or fixed (network3.py).")
    var order: ExampleOrderChoice?

    @Option(parsing: .unconditional, help: "Stop when evaluation accuracy has not improved for N epochs.")
    var earlyStop: Int?

    @Option(help: "Learning-rate schedule: constant, halving (the book's: halve η after 10 epochs without improvement, stop at η/128), step (×0.1 every 20 epochs) or cosine.")
    var schedule: ScheduleChoice = .constant

    @Option(parsing: .unconditional, help: "Train on only the first N training images.")
    var limit: Int?

    @Option(help: "Start from the parameters in this safetensors file (then evaluate, or continue training).")
    var load: String?

    @Flag(help: "Load --load's tensors even if the file describes another network (its shapes must still fit).")
    var weightsOnly = false

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
        if let epochs, epochs < 0 { throw ValidationError("--epochs must be 0 or more, got \(epochs)") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) {
            throw ValidationError("--learning-rate must be positive, got \(learningRate)")
        }
        if let lambda, !(lambda >= 0 && lambda.isFinite) { throw ValidationError("--lambda must be 0 or more, got \(lambda)") }
        if let limit, limit <= 0 { throw ValidationError("--limit must be positive, got \(limit)") }
        if let earlyStop, earlyStop <= 0 { throw ValidationError("--early-stop must be positive, got \(earlyStop)") }
        guard showMistakes >= 0 else { throw ValidationError("--show-mistakes must be 0 or more, got \(showMistakes)") }
        // Parameters, gradients and optimizer state: refuse sizes this machine cannot hold, in one
        // line, before allocating anything.
        let parameters = recipe.parameterEstimate
        let needed = parameters * Double(MemoryLayout<Float>.size) * 4, available = Double(ProcessInfo.processInfo.physicalMemory)
        if needed > available {
            throw ValidationError(String(format: "%@ has %.3g parameters, which need about %.0f GB to train; this machine has %.0f GB",
                                         describe(recipe.architecture), parameters, needed / 1e9, available / 1e9))
        }
    }

    /// The network's recipe with the options given on the command line.
    var recipe: Recipe {
        network.recipe.with { recipe in
            if let hidden {
                switch recipe.architecture {
                case .fullyConnected: recipe.architecture = .fullyConnected(hidden: hidden)
                case .convolutional(let activation, _, let dropout):
                    recipe.architecture = .convolutional(activation: activation, fullyConnected: hidden, dropout: dropout)
                }
            }
            if let loss { recipe.loss = loss }
            if let epochs { recipe.epochs = epochs }
            if let learningRate { recipe.learningRate = learningRate }
            if let lambda { recipe.lambda = lambda }
            if let initialization { recipe.initialization = initialization }
            if let eval { recipe.evaluation = eval }
            if let order { recipe.order = order }
        }
    }

    func run() async throws {
        #if DEBUG
        printError("note: this is a debug build; `swift run -c release Examples/mnist` is many times faster")
        #endif
        let recipe = self.recipe
        if case .convolutional = recipe.architecture, recipe.loss != .logLikelihood {
            throw failure("--loss \(recipe.loss.rawValue): the convolutional networks end in a softmax layer; use log-likelihood")
        }
        if optimizer == .adam && recipe.lambda != 0 {
            throw failure("--lambda applies to sgd and momentum; with adam, set --lambda 0")
        }
        let mnist: MNIST
        do {
            mnist = try await loadMNIST(explicit: data)
        } catch let error as DataError {
            throw failure(error.description)
        }
        if checkGradients {
            guard case .fullyConnected(let hidden) = recipe.architecture else {
                throw failure("--check-gradients compares the fully connected networks with the book's backprop; pick one of chapters 1 and 3")
            }
            if !GradientReport(mnist: mnist, hidden: hidden, seed: seed).run() { throw ExitCode.failure }
            return
        }
        do {
            try train(recipe, on: mnist)
        } catch let error as DataError {
            throw failure(error.description)
        } catch let error as TrainingError {
            throw failure(error.description + " (now \(recipe.learningRate))")
        }
    }

    /// Trains the network `recipe` describes and returns it, reporting to `output`.
    @discardableResult
    func train(_ recipe: Recipe, on mnist: MNIST, output: TrainingOutput = .terminal) throws -> Sequential<Float> {
        var rng = SeededGenerator(seed: seed)
        let model: Sequential<Float> = recipe.makeModel(using: &rng)
        if let load { try loadCheckpoint(load, into: model, network: network, weightsOnly: weightsOnly) }
        let cost: any Loss<Float> = recipe.makeLoss()
        var digits = limit.map { mnist.training.subset(0 ..< min($0, mnist.training.count)) } ?? mnist.training
        // Shifted copies only to train on: a network that is only evaluated does not need them.
        if recipe.expanded && recipe.epochs > 0 { digits = digits.expandedByShifts(seed: seed) }
        let labels: MNISTLabels = recipe.loss == .logLikelihood ? .classIndices : .oneHot
        let dataset = { (set: MNISTSet) in set.dataset(as: Float.self, imageShape: recipe.imageShape, labels: labels) }
        let evaluation = recipe.evaluation == .test ? mnist.test : mnist.validation
        let decay = recipe.weightDecay(trainingCount: digits.count, batchSize: batchSize)
        let weightsOnly: @Sendable (String) -> Bool = { $0.hasSuffix("weight") }  // the book's L2 spares biases
        let optimizer: any Optimizer<Float> = switch self.optimizer {
        case .sgd: SGD(learningRate: recipe.learningRate, weightDecay: decay, decays: weightsOnly)
        case .momentum: SGD(learningRate: recipe.learningRate, momentum: 0.9, weightDecay: decay, decays: weightsOnly)
        case .adam: Adam(learningRate: recipe.learningRate)
        }
        let architecture = describe(recipe.architecture)
        if recipe.epochs == 0, let load {
            output.say("Evaluating \(network.rawValue), \(architecture), loaded from \(load)")
        } else {
            output.say("Training \(network.rawValue), \(architecture), on \(digits.count) images: \(recipe.loss.rawValue) cost, "
                  + "\(self.optimizer.rawValue), η = \(recipe.learningRate)" + (recipe.lambda > 0 ? ", λ = \(recipe.lambda)" : "")
                  + ", mini-batch \(batchSize), seed \(seed)" + (load.map { ", starting from \($0)" } ?? ""))
        }
        let metadata = { (epoch: Int, correct: Int) in
            checkpointMetadata(network: network, recipe: recipe, epoch: epoch, correct: correct, total: evaluation.count)
        }
        if recipe.epochs == 0 {
            let result = model.evaluate(on: dataset(evaluation), loss: cost)
            output.say("Evaluation: \(result.correct) / \(result.count)")
            if let save { try model.save(to: save, metadata: metadata(0, result.correct)) }
            try showMistakes(of: model, on: evaluation, shape: recipe.imageShape, output: output)
            return model
        }

        // Each step — the cost, its gradients and the update — is recorded on the first batch and
        // replayed after that: no graph is built and nothing is allocated per step.
        let trainer = Trainer(model: model, loss: cost, optimizer: optimizer, batchSize: batchSize,
                              order: recipe.order == .fixed ? .fixed : .shuffledEachEpoch(rng))
        if output.showsProgress {
            var progress = ProgressBar(total: 1)
            trainer.progress = { step, steps in
                if step == 1 { progress = ProgressBar(total: steps) }
                progress.advance(to: step)
                if step == steps { progress.clear() }
            }
        }
        trainer.callbacks = [EpochPrinter(evaluationName: evaluation.name, reportsTest: recipe.reportsTestAtBestValidation,
                                          output: output)]
        if let saveBest {
            trainer.callbacks.append(SaveBestCheckpoint(of: model, to: saveBest, monitoring: evaluation.name, metadata: metadata(0, 0)))
        }
        if let earlyStop { trainer.callbacks.append(EarlyStopping(patience: earlyStop, monitoring: evaluation.name)) }
        switch schedule {
        case .constant: break
        case .halving: trainer.callbacks.append(HalvingOnPlateau(patience: earlyStop ?? 10, monitoring: evaluation.name))
        case .step: trainer.callbacks.append(StepSchedule(every: 20, factor: 0.1))
        case .cosine: trainer.callbacks.append(CosineSchedule(epochs: recipe.epochs))
        }
        var monitored: [(name: String, data: any Dataset<Float>)] = [(evaluation.name, dataset(evaluation))]
        if recipe.reportsTestAtBestValidation { monitored.append(("test", dataset(mnist.test))) }

        let start = Date()
        let history = try trainer.fit(dataset(digits), epochs: recipe.epochs, monitoring: monitored)
        let curve = LearningCurve(total: evaluation.count, history: history, evaluationName: evaluation.name)
        // network3.py keeps the test accuracy of the *last* epoch that reaches the best validation
        // accuracy (`>=`); network.py and network2.py report the first best.
        let accuracies = history.map { $0.evaluations[evaluation.name]!.correct }
        let lastBest = accuracies.lastIndex(of: accuracies.max() ?? 0)
        if let best = recipe.reportsTestAtBestValidation ? lastBest : curve.bestEpoch, let last = history.last?.evaluations[evaluation.name] {
            let percent = { (e: Evaluation) in String(format: "%.2f%%", 100 * e.accuracy) }
            let bestEvaluation = history[best].evaluations[evaluation.name]!
            var summary = "Best: \(bestEvaluation.correct) / \(bestEvaluation.count) (\(percent(bestEvaluation))) at epoch \(best); "
                + "final \(percent(last))"
            if let test = history[best].evaluations["test"], evaluation.name != "test" {
                summary += "; test accuracy at the best validation epoch: \(percent(test))"
            }
            output.say(summary + String(format: "; %.1f s in all", Date().timeIntervalSince(start)))
        }
        if history.count < recipe.epochs, let stop = trainer.stopReason { output.say("Stopped after epoch \(history.count - 1): \(stop)") }
        if let save {
            try model.save(to: save, metadata: metadata(history.count - 1, history.last?.evaluations[evaluation.name]?.correct ?? 0))
            output.say("Saved the final parameters to \(save)")
        }
        if let saveBest { output.say("Saved the best epoch's parameters to \(saveBest)") }
        if let plot {
            try curve.svg(title: "\(network.rawValue) (\(architecture)) on MNIST, \(recipe.loss.rawValue) cost, η = \(recipe.learningRate)",
                          evaluationName: evaluation.name).write(toFile: plot)
            output.say("Drew the learning curve to \(plot)")
        }
        try showMistakes(of: model, on: evaluation, shape: recipe.imageShape, output: output)
        return model
    }

    func showMistakes(of model: Sequential<Float>, on set: MNISTSet, shape: MNISTImageShape, output: TrainingOutput) throws {
        guard showMistakes > 0 else { return }
        var wrong: [(index: Int, predicted: Int, truth: Int)] = []
        set.dataset(as: Float.self, imageShape: shape, labels: .classIndices).forEachBatch(of: 500) { images, labels, first in
            guard wrong.count < showMistakes else { return }
            for (row, (predicted, truth)) in zip(model(images).argmax(alongAxis: 1), labels.scalars).enumerated()
            where predicted != Int(truth) && wrong.count < showMistakes {
                wrong.append((first + row, predicted, Int(truth)))
            }
        }
        output.say("\(wrong.count) of the misclassified \(set.name) digits:")
        for (i, predicted, truth) in wrong {
            output.say("\(set.name) image \(i): predicted \(predicted), true \(truth)\n"
                       + terminalPicture(of: Array(set.images(at: [i], as: Float.self).scalars)))
        }
    }
}

/// Prints each epoch as the book's programs do.
struct EpochPrinter: TrainingCallback {
    let evaluationName: String
    /// Chapter 6: the test accuracy, printed at each new best validation accuracy.
    let reportsTest: Bool
    let output: TrainingOutput
    private var best = -1

    init(evaluationName: String, reportsTest: Bool, output: TrainingOutput = .terminal) {
        (self.evaluationName, self.reportsTest, self.output) = (evaluationName, reportsTest, output)
    }

    mutating func epochEnded(_ report: EpochReport, history: [EpochReport], control: inout TrainingControl) throws {
        let result = report.evaluations[evaluationName]!
        var line = "Epoch \(report.epoch): \(result.correct) / \(result.count)"
            + String(format: "  [%.2f s training, cost %.4f]", report.trainingSeconds, report.trainingCost)
        // Chapter 6 follows network3.py, which takes a tie with the best as the new best.
        if result.correct > best || (reportsTest && result.correct == best) {
            best = result.correct
            if reportsTest, let test = report.evaluations["test"] { line += "  best so far; test \(test.correct) / \(test.count)" }
        }
        output.say(line)  // flushed: before any warning
        for warning in report.warnings { output.warn(warning) }
    }
}

/// "784-30-10" or "conv 20, conv 40, 100, softmax 10 (ReLU, dropout 0.5)".
func describe(_ architecture: Recipe.Architecture) -> String {
    switch architecture {
    case .fullyConnected(let hidden): return ([784] + hidden + [10]).map(String.init).joined(separator: "-")
    case .convolutional(let activation, let fullyConnected, let dropout):
        return "conv 20, conv 40, " + fullyConnected.map(String.init).joined(separator: ", ") + ", softmax 10 ("
            + activation.rawValue + (dropout > 0 ? ", dropout \(dropout)" : "") + ")"
    }
}

enum ScheduleChoice: String, ExpressibleByArgument, CaseIterable {
    case constant, halving, step, cosine
}

extension String {
    /// Writes the text atomically (a temporary file, then a rename), naming the file on failure.
    func write(toFile path: String) throws {
        try writeAtomically(Data(utf8), to: path)
    }
}
