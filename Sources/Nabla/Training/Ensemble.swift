/// Several trained models voting: each example's answer is the class most of them predict —
/// the book's ensemble of five chapter-6 networks (99.67%). A tie goes to the smallest class.
///
/// ```swift
/// let vote = Ensemble(members: networks).evaluate(on: test)
/// ```
public struct Ensemble<Scalar: TensorScalar> {
    /// The voters.
    public let members: [any Layer<Scalar>]

    /// Creates an ensemble of at least one model.
    public init(members: [any Layer<Scalar>]) {
        check(!members.isEmpty, "Ensemble: no members")
        self.members = members
    }

    /// The plurality vote of `predictions` (one list per member, one class per example) for each
    /// example; ties go to the smallest class.
    public static func pluralityVote(_ predictions: [[Int]]) -> [Int] {
        guard let count = predictions.first?.count else { return [] }
        check(predictions.allSatisfy { $0.count == count }, "pluralityVote: members predicted different numbers of examples")
        return (0..<count).map { example in
            var tally: [Int: Int] = [:]
            for member in predictions { tally[member[example], default: 0] += 1 }
            return tally.max { ($0.value, -$0.key) < ($1.value, -$1.key) }!.key
        }
    }

    /// Each member's classes for `data`'s examples, and the true classes (from the targets:
    /// class indices, or the largest entry of one-hot rows), in inference mode, `batchSize` at a time.
    public func predictions(on data: some Dataset<Scalar>, batchSize: Int = 500) -> (members: [[Int]], truth: [Int]) {
        var (answers, truth) = ([[Int]](repeating: [], count: members.count), [Int]())
        data.forEachBatch(of: batchSize) { inputs, targets, _ in
            var outputRank = 0
            for (index, member) in members.enumerated() {
                let outputs = member(inputs)
                answers[index] += outputs.argmax(alongAxis: -1)
                outputRank = outputs.rank
            }
            truth += trueClasses(targets, outputRank: outputRank)
        }
        return (answers, truth)
    }

    /// How many of `data`'s examples the vote gets right (a vote has no cost: 0).
    public func evaluate(on data: some Dataset<Scalar>, batchSize: Int = 500) -> Evaluation {
        let (answers, truth) = predictions(on: data, batchSize: batchSize)
        let votes = Self.pluralityVote(answers)
        return Evaluation(cost: 0, correct: zip(votes, truth).filter { $0 == $1 }.count, count: data.count)
    }
}
