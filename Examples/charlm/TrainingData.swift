import Nabla
import NablaData

/// A run's data: batches to train on and a loss estimate on each split.
enum TrainingData {
    case shakespeare(vocabulary: CharacterVocabulary, training: TokenBlocks, validation: TokenBlocks)
    case names(vocabulary: CharacterVocabulary, training: NameExamples, development: NameExamples)

    /// Reads the corpus of `configuration` from `path` (or where `findTextFile` looks).
    static func load(_ configuration: RunConfiguration, path: String?) throws -> TrainingData {
        let file = try findTextFile(named: configuration.corpus.fileName, given: path)
        let text = try readText(file)
        switch configuration.corpus {
        case .shakespeare:
            let vocabulary = CharacterVocabulary(text: text)
            do {
                let (training, validation) = try TokenBlocks.split(vocabulary.encode(text), contextLength: configuration.contextLength)
                return .shakespeare(vocabulary: vocabulary, training: training, validation: validation)
            } catch let error as VocabularyError {
                throw DataError(file: file, error.description)
            }
        case .names:
            let words = try NameExamples.words(in: text, file: file)
            // makemore's split: shuffled (its lectures seed 42), 80% train, 10% dev, 10% test.
            let (training, development, _) = try NameExamples.splits(words: words, contextLength: configuration.contextLength, seed: 42)
            guard training.count > 0, development.count > 0 else { throw DataError(file: file, "has too few words for an 80/10/10 split") }
            return .names(vocabulary: training.vocabulary, training: training, development: development)
        }
    }

    var vocabulary: CharacterVocabulary {
        switch self {
        case .shakespeare(let vocabulary, _, _), .names(let vocabulary, _, _): vocabulary
        }
    }

    /// Fills a training batch in place; `indices` is scratch for the names' random picks, reused
    /// from step to step.
    func trainingBatch(_ size: Int, using rng: inout SeededGenerator, indices: inout [Int],
                       inputs: inout IndexTensor, targets: inout IndexTensor) {
        switch self {
        case .shakespeare(_, let training, _):
            training.batch(size, using: &rng, inputs: &inputs, targets: &targets)
        case .names(_, let training, _):
            if indices.count != size { indices = Array(repeating: 0, count: size) }
            for i in 0..<size { indices[i] = rng.nextInt(below: training.count) }
            training.batch(indices[...], inputs: &inputs, targets: &targets)
        }
    }

    /// The mean of `loss` (the training step's, evaluated: in inference mode, replayed) on each
    /// split: nanoGPT's `estimate_loss` over `batches` random batches of each split; for names,
    /// the whole training and dev splits.
    func estimateLoss(_ loss: TracedGradient<Float>, batches: Int, batchSize: Int, using rng: inout SeededGenerator)
        -> (training: Double, validation: Double) {
        switch self {
        case .shakespeare(_, let training, let validation):
            func estimate(_ split: TokenBlocks) -> Double {
                var (x, y) = (IndexTensor(shape: [0]), IndexTensor(shape: [0]))
                var total = 0.0
                for _ in 0..<batches {
                    split.batch(batchSize, using: &rng, inputs: &x, targets: &y)
                    total += Double(loss.evaluate(indices: x, y).scalar)
                }
                return total / Double(batches)
            }
            return (estimate(training), estimate(validation))
        case .names(_, let training, let development):
            func mean(_ split: NameExamples) -> Double {
                var (x, y, total) = (IndexTensor(shape: [0]), IndexTensor(shape: [0]), 0.0)
                for start in stride(from: 0, to: split.count, by: 4096) {
                    split.batch(Array(start ..< min(start + 4096, split.count))[...], inputs: &x, targets: &y)
                    total += Double(loss.evaluate(indices: x, y).scalar) * Double(y.count)
                }
                return total / Double(split.count)
            }
            return (mean(training), mean(development))
        }
    }
}
