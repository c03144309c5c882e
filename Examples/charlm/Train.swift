import ArgumentParser
import ExampleSupport
import Foundation
import Nabla
import NablaData

/// Trains a configuration, printing the loss estimates, saving the best checkpoint, and ending
/// with a sample.
struct Train: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a character-level model (the default subcommand).",
        discussion: """
            --config picks the run: shakespeare-cpu (the default: nanoGPT's CPU run, a 4-layer GPT, \
            2,000 iterations), shakespeare-small (nanoGPT's 6 × 6 × 384 GPT: hours here, cut it short \
            with --iterations), shakespeare-lstm (2 × 256 LSTM), names-mlp (makemore's MLP) and \
            names-wavenet (makemore's WaveNet). The other options override the configuration's settings.
            """)

    @Option(help: "The run: \(ConfigurationName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var config: ConfigurationName = .shakespeareCPU

    @Option(help: "The text file (or its directory). Default: $NABLA_TEXT, then ../shared/text.")
    var data: String?

    @Option(parsing: .unconditional, help: "Training iterations.")
    var iterations: Int?

    @Option(parsing: .unconditional, help: "Sequences (or contexts) per iteration.")
    var batchSize: Int?

    @Option(parsing: .unconditional, help: "Iterations between loss estimates (and checkpoints).")
    var evalInterval: Int?

    @Option(parsing: .unconditional, help: "Batches per split in a loss estimate (Shakespeare runs).")
    var evalBatches: Int?

    @Option(help: "Seed for the initial weights, the batches and the sample; the same seed gives the same run.")
    var seed: UInt64 = 1

    @Option(help: "Where to save the best checkpoint (safetensors). Default: charlm-CONFIG.safetensors.")
    var out: String?

    @Option(parsing: .unconditional, help: "Characters to sample at the end (0: none).")
    var sampleLength = 500

    mutating func run() async throws {
        var settings = RunConfiguration.named(config)
        if let iterations { settings.iterations = iterations }
        if let batchSize { settings.batchSize = batchSize }
        if let evalInterval { settings.evaluationInterval = evalInterval }
        if let evalBatches { settings.evaluationBatches = evalBatches }
        guard settings.iterations >= 0, settings.batchSize > 0, settings.evaluationInterval > 0, settings.evaluationBatches >= 0 else {
            throw failure("--iterations and --eval-batches must not be negative, --batch-size and --eval-interval must be positive")
        }
        if case .shakespeare = settings.corpus, settings.evaluationBatches == 0 {
            throw failure("--eval-batches must be positive for a Shakespeare run")
        }
        let data = try TrainingData.load(settings, path: self.data)
        var rng = SeededGenerator(seed: seed)
        let model = CharacterModel(settings.architecture, vocabularySize: data.vocabulary.count,
                                   contextLength: settings.contextLength, using: &rng)
        let path = out ?? "charlm-\(config.rawValue).safetensors"
        printNow("\(config.rawValue): \(describe(settings.architecture)), \(model.parameterCount) parameters, "
              + "vocabulary \(data.vocabulary.count), context \(settings.contextLength), batch \(settings.batchSize), "
              + "\(settings.iterations) iterations")

        let stepper = TracedGradient(of: model, withIndices: { model, _, ids in SoftmaxCrossEntropyLoss()(model(ids[0]), ids[1]) })
        switch settings.recipe {
        case .adamW(_, let beta2, let weightDecay, let clipNorm):
            stepper.clipping = .globalNorm(clipNorm)
            var optimizer = AdamW<Float>(beta2: beta2, weightDecay: weightDecay, decays: AdamW<Float>.decaysMatrices)
            try train(model, stepper, &optimizer, settings, data, path: path)
        case .steppedSGD:
            var optimizer = SGD<Float>(learningRate: 0.1)
            try train(model, stepper, &optimizer, settings, data, path: path)
        }
        if sampleLength > 0 {
            try model.load(from: path)
            var sampler = SeededGenerator(seed: seed &+ 1)
            let prompt = settings.corpus == .shakespeare ? "\n" : ""
            let text = try generate(model, vocabulary: data.vocabulary, contextLength: settings.contextLength, prompt: prompt,
                                    count: sampleLength, temperature: 0.8, topK: 200, using: &sampler)
            print("sample from the best checkpoint:\n" + text)
        }
    }

    /// The training loop: a loss estimate every `evaluationInterval` iterations and at the end,
    /// the checkpoint saved whenever the validation loss is the best so far.
    func train<Opt: Optimizer<Float>>(_ model: CharacterModel, _ stepper: TracedGradient<Float>, _ optimizer: inout Opt,
                                      _ settings: RunConfiguration, _ data: TrainingData, path: String) throws {
        var (batches, estimates) = (SeededGenerator(seed: seed &+ 2), SeededGenerator(seed: seed &+ 3))
        var (x, y, indices) = (IndexTensor(shape: [0]), IndexTensor(shape: [0]), [Int]())
        var best = Double.infinity
        var progress = ProgressBar(total: settings.iterations)
        let start = Date()
        for iteration in 0...settings.iterations {
            if iteration % settings.evaluationInterval == 0 || iteration == settings.iterations {
                let (training, validation) = data.estimateLoss(stepper, batches: settings.evaluationBatches,
                                                               batchSize: settings.batchSize, using: &estimates)
                progress.clear()
                let elapsed = Date().timeIntervalSince(start)
                printNow(String(format: "iteration %d: train loss %.4f, val loss %.4f (%.1f s)", iteration, training, validation, elapsed))
                if validation < best {
                    best = validation
                    try model.save(to: path, metadata: checkpointMetadata(settings, data.vocabulary, iteration: iteration, validation: validation))
                }
            }
            if iteration == settings.iterations { break }
            optimizer.learningRate = settings.recipe.rate(at: iteration)
            data.trainingBatch(settings.batchSize, using: &batches, indices: &indices, inputs: &x, targets: &y)
            stepper.step(indices: x, y, optimizer: &optimizer)
            progress.advance(to: iteration + 1)
        }
        if let reason = stepper.eagerReason { printError("note: steps ran eagerly: \(reason)") }
        print(String(format: "best val loss %.4f, saved to %@ (%.1f s)", best, path, Date().timeIntervalSince(start)))
    }

    func checkpointMetadata(_ settings: RunConfiguration, _ vocabulary: CharacterVocabulary, iteration: Int, validation: Double) -> [String: String] {
        ["config": config.rawValue, "vocabulary": vocabulary.joined, "context": String(settings.contextLength),
         "model": describe(settings.architecture), "iteration": String(iteration), "val_loss": String(format: "%.4f", validation)]
    }
}

/// The architecture in words, for the first line and checkpoints.
func describe(_ architecture: Architecture) -> String {
    switch architecture {
    case .gpt(let layers, let heads, let width, let dropout): "GPT \(layers) layers × \(heads) heads × \(width), dropout \(dropout)"
    case .mlp(let embedding, let hidden): "MLP, embedding \(embedding), \(hidden) tanh units"
    case .wavenet(let embedding, let hidden): "WaveNet, embedding \(embedding), \(hidden) units, batch norm"
    case .lstm(let embedding, let hidden, let layers): "LSTM \(layers) × \(hidden), embedding \(embedding)"
    }
}
