import RealModule

/// Something done after each epoch of ``Trainer/fit(_:epochs:monitoring:)``: printing,
/// saving, stopping early, changing the learning rate.
public protocol TrainingCallback {
    /// Sees the epoch's report (the last of `history`) and may change `control`.
    mutating func epochEnded(_ report: EpochReport, history: [EpochReport], control: inout TrainingControl) throws
}

/// Epochs since the best accuracy on a monitored set: the book's "no improvement in n epochs".
func epochsSinceBest(of name: String, in history: ArraySlice<EpochReport>) -> Int {
    let accuracies = history.map { report -> Int in
        guard let evaluation = report.evaluations[name] else {
            fatalError("no evaluation named '\(name)' to monitor: the trainer monitors \(report.evaluations.keys.sorted())")
        }
        check(evaluation.classified, "'\(name)' was evaluated by its cost alone (a trainer made with a cost function classifies nothing): there is no accuracy to monitor")
        return evaluation.correct
    }
    guard let best = accuracies.indices.max(by: { accuracies[$0] < accuracies[$1] || (accuracies[$0] == accuracies[$1] && $0 > $1) })
    else { return 0 }
    return accuracies.count - 1 - best
}

/// Stops training when the accuracy on a monitored set has not improved for `patience` epochs
/// (the book's chapter 3: "no-improvement-in-ten").
public struct EarlyStopping: TrainingCallback {
    /// Epochs without improvement that stop training.
    public let patience: Int
    /// The monitored set's name.
    public let monitoring: String

    /// Creates the rule.
    public init(patience: Int, monitoring: String = "validation") {
        check(patience > 0, "EarlyStopping: patience \(patience) must be positive")
        (self.patience, self.monitoring) = (patience, monitoring)
    }

    /// Stops after `patience` epochs without a new best.
    public func epochEnded(_ report: EpochReport, history: [EpochReport], control: inout TrainingControl) {
        if epochsSinceBest(of: monitoring, in: history[...]) >= patience {
            control.stopReason = "no improvement in \(monitoring) accuracy for \(patience) epochs"
        }
    }
}

/// The book's learning-rate schedule (chapter 3): halve η each time the accuracy on a monitored
/// set has not improved for `patience` epochs, counting afresh after each halving, and stop once
/// η has fallen to 1/`floor` of its first value (the book: no-improvement-in-ten, 1/128).
public struct HalvingOnPlateau: TrainingCallback {
    /// Epochs without improvement that halve the learning rate.
    public let patience: Int
    /// The monitored set's name.
    public let monitoring: String
    /// Training stops when η reaches η₀/floor.
    public let floor: Double
    private var initialRate: Double?
    private var sinceChange = 0

    /// Creates the schedule.
    public init(patience: Int = 10, monitoring: String = "validation", floor: Double = 128) {
        check(patience > 0 && floor > 1, "HalvingOnPlateau: patience \(patience) must be positive and floor \(floor) above 1")
        (self.patience, self.monitoring, self.floor) = (patience, monitoring, floor)
    }

    /// Halves η after `patience` epochs of no improvement since the last change.
    public mutating func epochEnded(_ report: EpochReport, history: [EpochReport], control: inout TrainingControl) {
        let initial = initialRate ?? report.learningRate
        initialRate = initial
        sinceChange += 1
        // Epochs since the best accuracy, or since the last halving if that came later.
        guard min(sinceChange, epochsSinceBest(of: monitoring, in: history[...])) >= patience else { return }
        control.learningRate /= 2
        sinceChange = 0
        if control.learningRate <= initial / floor * (1 + 1e-9) {
            control.stopReason = "the learning rate fell to 1/\(Int(floor)) of its first value"
        }
    }
}

/// Multiplies the learning rate by `factor` every `epochs` epochs.
public struct StepSchedule: TrainingCallback {
    /// Epochs between changes.
    public let epochs: Int
    /// What η is multiplied by.
    public let factor: Double

    /// Creates the schedule.
    public init(every epochs: Int, factor: Double) {
        check(epochs > 0 && factor > 0, "StepSchedule: every \(epochs) epochs and factor \(factor) must be positive")
        (self.epochs, self.factor) = (epochs, factor)
    }

    /// Multiplies η after every `epochs`th epoch.
    public func epochEnded(_ report: EpochReport, history: [EpochReport], control: inout TrainingControl) {
        if (report.epoch + 1) % epochs == 0 { control.learningRate *= factor }
    }
}

/// Cosine annealing: η follows half a cosine from its first value down to `minimum` over
/// `epochs` epochs, then stays there.
public struct CosineSchedule: TrainingCallback {
    /// The length of the descent.
    public let epochs: Int
    /// The final learning rate.
    public let minimum: Double
    private var initialRate: Double?

    /// Creates the schedule.
    public init(epochs: Int, minimum: Double = 0) {
        check(epochs > 0 && minimum >= 0, "CosineSchedule: epochs \(epochs) must be positive and minimum \(minimum) not negative")
        (self.epochs, self.minimum) = (epochs, minimum)
    }

    /// Sets η for the next epoch.
    public mutating func epochEnded(_ report: EpochReport, history: [EpochReport], control: inout TrainingControl) {
        let initial = initialRate ?? report.learningRate
        initialRate = initial
        let progress = min(1, Double(report.epoch + 1) / Double(epochs))
        control.learningRate = minimum + (initial - minimum) * (1 + Double.cos(Double.pi * progress)) / 2
    }
}

/// Saves the model's parameters (and states) whenever the accuracy on a monitored set is the
/// best so far: after training, the file holds the best epoch's network.
///
/// ```swift
/// trainer.callbacks.append(SaveBestCheckpoint(of: model, to: "best.safetensors", monitoring: "validation"))
/// ```
public struct SaveBestCheckpoint<Model: Module>: TrainingCallback {
    /// The model saved.
    public let model: Model
    /// Where (written atomically: a temporary file, then a rename).
    public let path: String
    /// The monitored set's name.
    public let monitoring: String
    /// Saved with each checkpoint, besides its `epoch` and `accuracy`.
    public let metadata: [String: String]
    private var best = -1

    /// Creates the callback.
    public init(of model: Model, to path: String, monitoring: String = "validation", metadata: [String: String] = [:]) {
        (self.model, self.path, self.monitoring, self.metadata) = (model, path, monitoring, metadata)
    }

    /// Saves when the epoch beats every earlier one, with its epoch and accuracy as metadata.
    public mutating func epochEnded(_ report: EpochReport, history: [EpochReport], control: inout TrainingControl) throws {
        guard let evaluation = report.evaluations[monitoring] else {
            fatalError("SaveBestCheckpoint: no evaluation named '\(monitoring)': the trainer monitors \(report.evaluations.keys.sorted())")
        }
        check(evaluation.classified, "SaveBestCheckpoint: '\(monitoring)' was evaluated by its cost alone (a trainer made with a cost function classifies nothing): there is no accuracy to monitor")
        guard evaluation.correct > best else { return }
        best = evaluation.correct
        try model.save(to: path, metadata: metadata.merging(
            ["epoch": String(report.epoch), "accuracy": "\(evaluation.correct)/\(evaluation.count)"]) { _, new in new })
    }
}
