import ArgumentParser
import Nabla

/// The runs `--config` names.
enum ConfigurationName: String, CaseIterable, ExpressibleByArgument, Sendable {
    case shakespeareCPU = "shakespeare-cpu"
    case shakespeareSmall = "shakespeare-small"
    case shakespeareLSTM = "shakespeare-lstm"
    case namesMLP = "names-mlp"
    case namesWaveNet = "names-wavenet"
}

/// Which text a run reads, and how.
enum Corpus: Sendable {
    /// Tiny Shakespeare as one stream of characters, random blocks (nanoGPT).
    case shakespeare
    /// makemore's names, each a sequence of contexts and next characters.
    case names

    var fileName: String { self == .shakespeare ? "tinyshakespeare.txt" : "names.txt" }
}

/// The model a run trains.
enum Architecture: Sendable, Equatable {
    /// nanoGPT's GPT (the vocabulary size is filled in from the data).
    case gpt(layers: Int, heads: Int, width: Int, dropout: Double)
    /// makemore part 2's MLP: embedding, a tanh layer, logits.
    case mlp(embedding: Int, hidden: Int)
    /// makemore part 5's WaveNet: pairs of positions fused level by level, batch-normalised.
    case wavenet(embedding: Int, hidden: Int)
    /// An embedding, a stacked LSTM, logits.
    case lstm(embedding: Int, hidden: Int, layers: Int)
}

/// How the parameters move.
enum Recipe: Sendable {
    /// AdamW with nanoGPT's warmup and cosine decay, clipped to a global norm.
    case adamW(schedule: WarmupCosineSchedule, beta2: Float, weightDecay: Float, clipNorm: Float)
    /// Plain SGD whose rate drops by steps (makemore): `rates[i]` until iteration `until[i]`.
    case steppedSGD(rates: [Float], until: [Int])

    /// The learning rate at `iteration`.
    func rate(at iteration: Int) -> Float {
        switch self {
        case .adamW(let schedule, _, _, _): return Float(schedule(iteration))
        case .steppedSGD(let rates, let until): return rates[until.firstIndex { iteration < $0 } ?? rates.count - 1]
        }
    }
}

/// Everything a run needs but the data.
struct RunConfiguration: Sendable {
    var corpus: Corpus
    var architecture: Architecture
    var contextLength: Int
    var batchSize: Int
    var iterations: Int
    var evaluationInterval: Int
    /// Batches per split in an estimate (nanoGPT's `eval_iters`); names evaluate the whole split.
    var evaluationBatches: Int
    var recipe: Recipe

    static func named(_ name: ConfigurationName) -> RunConfiguration {
        switch name {
        case .shakespeareCPU:
            // nanoGPT's README CPU run: train_shakespeare_char with 4 × 4 × 128, context 64, batch 12,
            // 2,000 iterations, dropout 0, learning rate decayed over the 2,000 to 1e-4.
            return nanoGPT(.gpt(layers: 4, heads: 4, width: 128, dropout: 0), contextLength: 64, batchSize: 12,
                           iterations: 2000, peak: 1e-3)
        case .shakespeareSmall:
            // train_shakespeare_char.py as written: 6 × 6 × 384, context 256, batch 64, dropout 0.2, 5,000 iterations.
            return nanoGPT(.gpt(layers: 6, heads: 6, width: 384, dropout: 0.2), contextLength: 256, batchSize: 64,
                           iterations: 5000, peak: 1e-3)
        case .shakespeareLSTM:
            return nanoGPT(.lstm(embedding: 64, hidden: 256, layers: 2), contextLength: 64, batchSize: 32,
                           iterations: 2000, peak: 2e-3)
        case .namesMLP:
            // makemore part 2: context 3, embedding 10, 200 tanh units; the rate drops at 100,000.
            return makemore(.mlp(embedding: 10, hidden: 200), contextLength: 3, rateDropsAt: 100_000)
        case .namesWaveNet:
            // makemore part 5: context 8, embedding 24, 128 units; the rate drops at 150,000.
            return makemore(.wavenet(embedding: 24, hidden: 128), contextLength: 8, rateDropsAt: 150_000)
        }
    }

    /// nanoGPT's recipe for a Shakespeare run: AdamW (β₂ 0.99, weight decay 0.1), the rate warmed
    /// up over 100 iterations from `peak` and decayed by a cosine to peak/10 over the run,
    /// gradients clipped to norm 1, 200 batches a split every 250 iterations.
    private static func nanoGPT(_ architecture: Architecture, contextLength: Int, batchSize: Int,
                                iterations: Int, peak: Double) -> RunConfiguration {
        let schedule = WarmupCosineSchedule(peak: peak, floor: peak / 10, warmupIterations: 100, decayIterations: iterations)
        return RunConfiguration(corpus: .shakespeare, architecture: architecture, contextLength: contextLength, batchSize: batchSize,
                                iterations: iterations, evaluationInterval: 250, evaluationBatches: 200,
                                recipe: .adamW(schedule: schedule, beta2: 0.99, weightDecay: 0.1, clipNorm: 1))
    }

    /// makemore's recipe: 200,000 steps of 32 examples, SGD at 0.1 and then 0.01, the dev split
    /// evaluated whole every 20,000 steps.
    private static func makemore(_ architecture: Architecture, contextLength: Int, rateDropsAt drop: Int) -> RunConfiguration {
        RunConfiguration(corpus: .names, architecture: architecture, contextLength: contextLength, batchSize: 32,
                         iterations: 200_000, evaluationInterval: 20_000, evaluationBatches: 0,
                         recipe: .steppedSGD(rates: [0.1, 0.01], until: [drop, Int.max]))
    }
}
