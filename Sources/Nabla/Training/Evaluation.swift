/// How a model does on a data set: its mean cost and how many examples it classifies correctly
/// (its answer the index of its largest output; the truth the target's class index, or the
/// largest entry of a one-hot target).
public struct Evaluation: Sendable, Equatable {
    /// The cost averaged over examples.
    public var cost: Double
    /// Examples classified correctly (0 when ``classified`` is false).
    public var correct: Int
    /// Examples evaluated.
    public var count: Int
    /// Whether the examples were classified: false for a ``Trainer`` made with a cost function,
    /// which only knows the cost.
    public var classified: Bool

    /// Creates an evaluation's figures.
    public init(cost: Double, correct: Int, count: Int, classified: Bool = true) {
        (self.cost, self.correct, self.count, self.classified) = (cost, correct, count, classified)
    }

    /// correct / count.
    public var accuracy: Double { count == 0 ? 0 : Double(correct) / Double(count) }
}

extension Layer {
    /// Evaluates the model on `data` (one input and one target an example) in inference mode,
    /// `batchSize` examples at a time (which bounds the memory a convolutional network's
    /// activations take).
    public func evaluate(on data: some MultiTensorDataset<Scalar>, loss: some Loss<Scalar>, batchSize: Int = 500) -> Evaluation {
        check(data.fieldCounts == (1, 1),
              "evaluate: a layer reads one input and one target an example; these examples have \(data.fieldCounts.inputs) inputs and \(data.fieldCounts.targets) targets")
        var result = Evaluation(cost: 0, correct: 0, count: data.count)
        data.forEachBatch(of: batchSize) { inputs, targets, _ in
            let outputs = self(inputs[0])
            result.cost += Double(loss(outputs, targets[0]).scalar) * Double(inputs[0].shape[0])
            let answers = outputs.argmax(alongAxis: -1)
            result.correct += zip(answers, trueClasses(targets[0], outputRank: outputs.rank)).filter { $0 == $1 }.count
        }
        if data.count > 0 { result.cost /= Double(data.count) }
        return result
    }
}

/// Each example's class: the target itself when targets are class indices (one rank below the
/// outputs), else the index of the target's largest entry (one-hot rows).
func trueClasses<Scalar>(_ targets: Tensor<Scalar>, outputRank: Int) -> [Int] {
    targets.rank == outputRank ? targets.argmax(alongAxis: -1) : targets.scalars.map { Int($0) }
}
