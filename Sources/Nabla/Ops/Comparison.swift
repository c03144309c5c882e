extension Tensor {
    /// How many elements equal those of `other` at the same position (same shape required).
    /// With predictions and labels as tensors, this is the count of correct answers.
    public func countEqual(_ other: Tensor) -> Int {
        check(shape == other.shape, "countEqual: shapes \(shape) and \(other.shape) differ")
        return zip(scalars, other.scalars).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
    }
}

extension Array where Element == Int {
    /// How many positions hold the same value in both arrays, such as predicted and true
    /// labels: `outputs.argmax(alongAxis: 1).countEqual(labels)`.
    public func countEqual(_ other: [Int]) -> Int {
        check(count == other.count, "countEqual: \(count) values against \(other.count)")
        return zip(self, other).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
    }
}
