/// Examples for training or evaluation: an input and a target each, every input of one shape
/// and every target of one shape, read a batch at a time.
///
/// ``TensorDataset`` holds examples as tensors; a data set kept more compactly (MNIST's bytes,
/// in `NablaData`) or made on the fly conforms by writing a batch itself.
public protocol Dataset<Scalar> {
    /// The scalar type of the batches.
    associatedtype Scalar: TensorScalar

    /// The number of examples.
    var count: Int { get }

    /// Writes the examples at `indices` into `inputs` ([batch, input shape…]) and `targets`
    /// ([batch, target shape…]: a class index per example is a target of shape []). A tensor
    /// that already has the batch's shape is refilled in place, so that a training loop
    /// allocates nothing per batch.
    func batch(_ indices: ArraySlice<Int>, inputs: inout Tensor<Scalar>, targets: inout Tensor<Scalar>)
}

extension Dataset {
    /// Calls `body` with each batch of up to `batchSize` examples in order — its inputs, its
    /// targets and its first example's index — refilling the same two tensors, in inference mode:
    /// how a model is evaluated over a whole set without holding its activations at once.
    ///
    /// ```swift
    /// data.forEachBatch(of: 500) { inputs, targets, first in predictions += model(inputs).argmax(alongAxis: -1) }
    /// ```
    public func forEachBatch(of batchSize: Int, _ body: (_ inputs: Tensor<Scalar>, _ targets: Tensor<Scalar>, _ first: Int) -> Void) {
        check(batchSize > 0, "forEachBatch: batch size \(batchSize) must be positive")
        var (inputs, targets) = (Tensor<Scalar>(zeros: [0]), Tensor<Scalar>(zeros: [0]))
        let all = Array(0..<count)
        withLayerMode(.inference) {
            for start in stride(from: 0, to: count, by: batchSize) {
                batch(all[start ..< Swift.min(start + batchSize, count)], inputs: &inputs, targets: &targets)
                body(inputs, targets, start)
            }
        }
    }
}

/// Examples held as two tensors whose first dimension counts them: inputs [n, …] and targets
/// [n, …] (class indices [n], or one-hot rows [n, classes], or any values).
///
/// ```swift
/// let data = TensorDataset(inputs: Tensor(features, shape: [100, 3]), targets: Tensor(labels))
/// ```
public struct TensorDataset<Scalar: TensorScalar>: Dataset {
    /// The inputs, one per row.
    public let inputs: Tensor<Scalar>
    /// The targets, one per row.
    public let targets: Tensor<Scalar>

    /// Pairs inputs and targets, which must count the same examples.
    public init(inputs: Tensor<Scalar>, targets: Tensor<Scalar>) {
        check(inputs.rank >= 1 && targets.rank >= 1 && inputs.shape[0] == targets.shape[0],
              "TensorDataset: inputs \(inputs.shape) and targets \(targets.shape) must have one first dimension, the number of examples")
        (self.inputs, self.targets) = (inputs, targets)
    }

    /// The number of examples.
    public var count: Int { inputs.shape[0] }

    /// Copies the rows at `indices`.
    public func batch(_ indices: ArraySlice<Int>, inputs batchInputs: inout Tensor<Scalar>, targets batchTargets: inout Tensor<Scalar>) {
        copyRows(indices, of: inputs, into: &batchInputs)
        copyRows(indices, of: targets, into: &batchTargets)
    }
}

/// Copies rows `indices` of `source` into `batch`, in place when it has the right shape.
func copyRows<Scalar: TensorScalar>(_ indices: ArraySlice<Int>, of source: Tensor<Scalar>, into batch: inout Tensor<Scalar>) {
    let rowShape = Array(source.shape.dropFirst()), length = source.shape.dropFirst().reduce(1, *)
    let shape = [indices.count] + rowShape
    if batch.shape != shape { batch = Tensor(zeros: shape) }
    source.withUnsafeBufferPointer { from in
        batch.withUnsafeMutableBufferPointer { to in
            for (row, index) in indices.enumerated() {
                check(index >= 0 && index < source.shape[0], "Dataset: index \(index) is out of bounds for \(source.shape[0]) examples")
                (to.baseAddress! + row * length).update(from: from.baseAddress! + index * length, count: length)
            }
        }
    }
}
