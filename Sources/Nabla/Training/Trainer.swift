import Foundation

/// Mini-batch training, epoch after epoch: the loop of the book's `network2.SGD`, for any
/// model, loss, optimizer and data.
///
/// Each epoch takes the training examples in an order (shuffled afresh, or fixed as
/// `network3.py` does), runs one replayed step (``TracedGradient``) per mini-batch, evaluates
/// the model on the monitored sets, and hands the epoch's ``EpochReport`` to each callback,
/// which may lower the learning rate or stop training.
///
/// ```swift
/// let trainer = Trainer(model: model, loss: SoftmaxCrossEntropyLoss(), optimizer: SGD(learningRate: 0.1))
/// trainer.callbacks = [EarlyStopping(patience: 10, monitoring: "validation")]
/// let history = try trainer.fit(training, epochs: 60, monitoring: [("validation", validation)])
/// ```
///
/// A model of several inputs — features and a mask, say — trains on a ``MultiTensorDataset``
/// with a cost function of the model and a batch's fields:
///
/// ```swift
/// let trainer = Trainer(model: classifier, optimizer: AdamW(learningRate: 1e-3)) { model, inputs, targets in
///     SoftmaxCrossEntropyLoss()(model(inputs[0], mask: inputs[1]), targets[0])
/// }
/// try trainer.fit(TensorTupleDataset(inputs: [features, masks], targets: [labels]), epochs: 5)
/// ```
///
/// and one whose fields include index tensors (token ids, class labels) with a cost of the
/// model and the whole ``DatasetBatch``:
///
/// ```swift
/// let trainer = Trainer(model: gpt, optimizer: AdamW(learningRate: 1e-3)) { (model, batch: DatasetBatch<Float>) in
///     SoftmaxCrossEntropyLoss()(model(batch.indexInputs[0]), batch.indexTargets[0])
/// }
/// try trainer.fit(TensorTupleDataset(indexInputs: [ids], indexTargets: [nextIDs]), epochs: 1)
/// ```
public final class Trainer<Model: Module> {
    /// The scalar type.
    public typealias Scalar = Model.Scalar

    /// The model, trained in place (its parameters are shared objects).
    public let model: Model
    /// The cost minimised, for a trainer made with a model's layer and a loss; nil for one made
    /// with a cost function.
    public let loss: (any Loss<Scalar>)?
    /// The update rule; callbacks change its learning rate.
    public var optimizer: any Optimizer<Scalar>
    /// Examples per mini-batch; the last batch of an epoch may be smaller.
    public var batchSize: Int
    /// The order examples are visited in.
    public var order: ExampleOrder
    /// Called after each epoch, in order.
    public var callbacks: [any TrainingCallback] = []
    /// Called after each step with (steps done, steps in the epoch), for a progress display.
    public var progress: ((_ step: Int, _ steps: Int) -> Void)?
    /// Examples per batch when evaluating.
    public var evaluationBatchSize = 500
    /// How each step clips the gradients before the update, if at all (see ``GradientClipping``).
    public var clipping: GradientClipping<Scalar>? {
        get { stepper.clipping }
        set { stepper.clipping = newValue }
    }
    /// Why the last ``fit(_:epochs:monitoring:)`` stopped before its last epoch, if a callback
    /// stopped it.
    public private(set) var stopReason: String?

    private let stepper: TracedGradient<Scalar>
    /// How the monitored sets are evaluated: a layer's outputs, classified, or the cost alone.
    private let evaluation: (_ model: Model, _ data: any MultiTensorDataset<Scalar>, _ batchSize: Int) -> Evaluation
    /// How many input and target tensors an example must have, for a trainer of a layer and a loss.
    private let fieldCounts: (inputs: Int, targets: Int)?

    /// Creates a trainer of a layer on a ``Dataset``, minimising `loss` of its output and the
    /// target; evaluations count the examples it classifies correctly.
    public convenience init(model: Model, loss: some Loss<Scalar>, optimizer: some Optimizer<Scalar>,
                            batchSize: Int = 10, order: ExampleOrder = .shuffledEachEpoch(seed: 1)) where Model: Layer {
        self.init(model: model, loss: loss, optimizer: optimizer, batchSize: batchSize, order: order, fieldCounts: (1, 1),
                  stepper: TracedGradient(of: model) { model, x, y in loss(model(x), y) }) { model, data, batchSize in
            model.evaluate(on: data, loss: loss, batchSize: batchSize)
        }
    }

    /// Creates a trainer that minimises `cost` of the model and a batch's inputs and targets, on
    /// any ``MultiTensorDataset`` (the cost function says how many fields it reads). Evaluations
    /// report the mean cost; they classify nothing, so callbacks that follow accuracy cannot
    /// monitor them.
    public convenience init(model: Model, optimizer: some Optimizer<Scalar>, batchSize: Int = 10,
                            order: ExampleOrder = .shuffledEachEpoch(seed: 1),
                            cost: @escaping (_ model: Model, _ inputs: [Tensor<Scalar>], _ targets: [Tensor<Scalar>]) -> Tensor<Scalar>) {
        self.init(model: model, optimizer: optimizer, batchSize: batchSize, order: order) { (model, batch: DatasetBatch<Scalar>) in
            cost(model, batch.inputs, batch.targets)
        }
    }

    /// Creates a trainer that minimises `cost` of the model and a batch's fields — tensors and
    /// index tensors — on any ``MultiTensorDataset``. Evaluations report the mean cost, as for
    /// ``init(model:optimizer:batchSize:order:cost:)-(_,_,_,_,(Model,[Tensor<Trainer<Model>.Scalar>],[Tensor<Trainer<Model>.Scalar>])->Tensor<Trainer<Model>.Scalar>)``.
    public convenience init(model: Model, optimizer: some Optimizer<Scalar>, batchSize: Int = 10,
                            order: ExampleOrder = .shuffledEachEpoch(seed: 1),
                            cost: @escaping (_ model: Model, _ batch: DatasetBatch<Scalar>) -> Tensor<Scalar>) {
        // Recorded once and replayed: the split of the step's tensors and index tensors into
        // inputs and targets runs only when a step is recorded.
        let split = Split()
        let stepper = TracedGradient(of: model, withIndices: { model, tensors, indices in
            let (inputs, indexInputs) = split.counts!
            return cost(model, DatasetBatch(inputs: Array(tensors[..<inputs]), targets: Array(tensors[inputs...]),
                                            indexInputs: Array(indices[..<indexInputs]), indexTargets: Array(indices[indexInputs...])))
        })
        self.init(model: model, loss: nil, optimizer: optimizer, batchSize: batchSize, order: order, fieldCounts: nil,
                  stepper: stepper, split: split) { model, data, batchSize in
            var result = Evaluation(cost: 0, correct: 0, count: data.count, classified: false)
            data.forEachBatch(of: batchSize) { (batch: DatasetBatch<Scalar>, _) in
                result.cost += Double(cost(model, batch).scalar) * Double(batch.count)
            }
            if data.count > 0 { result.cost /= Double(data.count) }
            return result
        }
    }

    private init(model: Model, loss: (any Loss<Scalar>)?, optimizer: some Optimizer<Scalar>, batchSize: Int, order: ExampleOrder,
                 fieldCounts: (inputs: Int, targets: Int)?, stepper: TracedGradient<Scalar>, split: Split? = nil,
                 evaluation: @escaping (Model, any MultiTensorDataset<Scalar>, Int) -> Evaluation) {
        check(batchSize > 0, "Trainer: batch size \(batchSize) must be positive")
        (self.model, self.loss, self.optimizer, self.batchSize, self.order) = (model, loss, optimizer, batchSize, order)
        (self.fieldCounts, self.stepper, self.split, self.evaluation) = (fieldCounts, stepper, split, evaluation)
    }

    /// Where a cost function's step finds how many of its tensors, and of its index tensors, are
    /// inputs: set at the first fit (nil before), read when a step is recorded.
    private final class Split {
        var counts: (tensors: Int, indices: Int)?
    }
    private let split: Split?

    /// Trains for up to `epochs` epochs on `training`, evaluating on each of `monitoring` (by
    /// name) after every epoch, and returns the reports of the epochs run.
    ///
    /// - Throws: ``TrainingError/diverged(epoch:step:cost:)`` when a step's cost is not finite:
    ///   the parameters are then no longer meaningful.
    @discardableResult
    public func fit(_ training: some MultiTensorDataset<Scalar>, epochs: Int,
                    monitoring: [(name: String, data: any MultiTensorDataset<Scalar>)] = []) throws -> [EpochReport] {
        check(epochs >= 0, "fit: epochs \(epochs) must not be negative")
        check(training.count > 0, "fit: the training set is empty")
        for (name, data) in [("training", training as any MultiTensorDataset<Scalar>)] + monitoring {
            check(data.fieldCounts.inputs + data.indexFieldCounts.inputs > 0, "fit: the \(name) set's examples have no input")
            if let fieldCounts {
                check(data.fieldCounts == fieldCounts && data.indexFieldCounts == (0, 0),
                      "fit: the \(name) set's examples have \(data.fieldCounts.inputs) inputs and \(data.fieldCounts.targets) targets"
                      + (data.indexFieldCounts == (0, 0) ? "" : " and index fields")
                      + "; a trainer of a layer and a loss takes one tensor of each (make it with a cost function for more)")
            }
        }
        stopReason = nil
        var history: [EpochReport] = []
        var fields = DatasetBatch<Scalar>()
        var examples = Array(0..<training.count)
        var generator: SeededGenerator? = nil
        if case .shuffledEachEpoch(let start) = order { generator = start }
        let steps = (training.count + batchSize - 1) / batchSize
        if let split {
            // A recorded step knows its tensors only by their shapes: a set that split the same
            // shapes otherwise into inputs and targets would replay the wrong cost.
            let (inputs, indexInputs) = (training.fieldCounts.inputs, training.indexFieldCounts.inputs)
            if let (tensors, indices) = split.counts {
                check((tensors, indices) == (inputs, indexInputs),
                      "fit: this trainer's steps take \(tensors) input tensors and \(indices) input index tensors, "
                      + "as its first training set's; this one's examples have \(inputs) and \(indexInputs)")
            }
            split.counts = (inputs, indexInputs)
        }
        for epoch in 0..<epochs {
            let start = Date()
            if generator != nil { examples = generator!.permutation(of: training.count) }
            var totalCost = 0.0
            for step in 0..<steps {
                let batch = examples[step * batchSize ..< min((step + 1) * batchSize, training.count)]
                training.batch(batch, into: &fields)
                let cost = Double(stepper.step(fields, optimizer: &optimizer).scalar)
                guard cost.isFinite else { throw TrainingError.diverged(epoch: epoch, step: step, cost: cost) }
                totalCost += cost * Double(batch.count)
                progress?(step + 1, steps)
            }
            let trainingSeconds = Date().timeIntervalSince(start)
            let largest = try largestParameter(after: epoch)
            var warnings: [String] = []   // each kind once per fit: the first sign is the news
            if largest > Self.saneParameterLimit && !history.contains(where: { $0.warnings.contains { $0.contains("parameter") } }) {
                warnings.append("after epoch \(epoch) a parameter has grown to \(largest): training is likely diverging; try a smaller learning rate")
            }
            if let first = history.first?.trainingCost, first > 0, totalCost / Double(training.count) > 100 * first,
               !history.contains(where: { $0.warnings.contains { $0.contains("training cost") } }) {
                warnings.append("after epoch \(epoch) the training cost is \(totalCost / Double(training.count)), over 100 times epoch 0's \(first)")
            }
            var evaluations: [String: Evaluation] = [:]
            for (name, data) in monitoring {
                evaluations[name] = evaluation(model, data, evaluationBatchSize)
            }
            let report = EpochReport(epoch: epoch, trainingCost: totalCost / Double(training.count),
                                     evaluations: evaluations, learningRate: Double(optimizer.learningRate),
                                     trainingSeconds: trainingSeconds, warnings: warnings)
            history.append(report)
            var control = TrainingControl(learningRate: report.learningRate)
            for index in callbacks.indices { try callbacks[index].epochEnded(report, history: history, control: &control) }
            if control.learningRate != report.learningRate { optimizer.learningRate = Scalar(control.learningRate) }
            if let reason = control.stopReason {
                stopReason = reason
                break
            }
        }
        if generator != nil { order = .shuffledEachEpoch(generator!) }  // a second fit continues the sequence
        return history
    }

    /// Beyond this magnitude a parameter is taken as a sign of divergence, and reported.
    public static var saneParameterLimit: Double { 1e6 }

    /// The largest magnitude of any parameter; a NaN or infinite one ends training, named.
    private func largestParameter(after epoch: Int) throws -> Double {
        var largest = 0.0
        for p in model.parameters {
            let value = p.parameter.wrappedValue
            try value.withUnsafeBufferPointer { elements in
                for (index, element) in elements.enumerated() {
                    guard element.isFinite else {
                        throw TrainingError.nonFiniteParameter(epoch: epoch, name: p.name, element: multiIndex(index, in: value.shape),
                                                               value: Double(element))
                    }
                    largest = Swift.max(largest, Double(Swift.abs(element)))
                }
            }
        }
        return largest
    }
}

/// The order a ``Trainer`` takes examples in.
public enum ExampleOrder: Sendable {
    /// A fresh permutation every epoch, drawn from this generator (the book's `network2.py`).
    case shuffledEachEpoch(SeededGenerator)
    /// The data set's own order, every epoch (the book's `network3.py`).
    case fixed

    /// A fresh permutation every epoch, from a generator seeded with `seed`.
    public static func shuffledEachEpoch(seed: UInt64) -> ExampleOrder { .shuffledEachEpoch(SeededGenerator(seed: seed)) }
}

/// What one epoch of training did.
public struct EpochReport: Sendable {
    /// Counting from 0.
    public let epoch: Int
    /// The mean over the epoch's examples of the mini-batch costs as they were trained (the
    /// parameters moving during the epoch).
    public let trainingCost: Double
    /// The model on each monitored set after the epoch, by name.
    public let evaluations: [String: Evaluation]
    /// The learning rate the epoch ran with.
    public let learningRate: Double
    /// Seconds spent in training steps (not evaluating).
    public let trainingSeconds: Double
    /// Signs that training is going wrong — a parameter beyond ``Trainer/saneParameterLimit``,
    /// a training cost a hundred times epoch 0's — for the program to show.
    public let warnings: [String]

    /// Creates a report (the trainer makes them; a callback's tests may too).
    public init(epoch: Int, trainingCost: Double, evaluations: [String: Evaluation], learningRate: Double,
                trainingSeconds: Double, warnings: [String] = []) {
        (self.epoch, self.trainingCost, self.evaluations) = (epoch, trainingCost, evaluations)
        (self.learningRate, self.trainingSeconds, self.warnings) = (learningRate, trainingSeconds, warnings)
    }
}

/// What a callback may change after an epoch.
public struct TrainingControl: Sendable {
    /// The learning rate for the next epoch.
    public var learningRate: Double
    /// Set to stop training, saying why.
    public var stopReason: String?

    /// Starts from the current learning rate, not stopping.
    public init(learningRate: Double) { self.learningRate = learningRate }
}

/// Why training stopped early.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// A step's cost was infinite or NaN.
    case diverged(epoch: Int, step: Int, cost: Double)
    /// After an epoch, a parameter was infinite or NaN (the cost can stay finite meanwhile).
    case nonFiniteParameter(epoch: Int, name: String, element: [Int], value: Double)

    /// Names the epoch and step or parameter, and what to try.
    public var description: String {
        switch self {
        case .diverged(let epoch, let step, let cost):
            "training diverged at epoch \(epoch), step \(step): the cost is \(cost); try a smaller learning rate"
        case .nonFiniteParameter(let epoch, let name, let element, let value):
            "training diverged by epoch \(epoch): parameter \(name) holds \(value) at element \(element); try a smaller learning rate"
        }
    }
}
