/// Examples for training or evaluation made of several tensors each — inputs, then targets:
/// token ids and a mask, a source sentence and its translation — every field of one shape across
/// examples, read a batch at a time.
///
/// ``Dataset`` is the common case, one input and one target; ``TensorTupleDataset`` holds any
/// number of fields as tensors. A ``Trainer`` made with a cost function trains on either.
public protocol MultiTensorDataset<Scalar> {
    /// The scalar type of the batches.
    associatedtype Scalar: TensorScalar

    /// The number of examples.
    var count: Int { get }

    /// How many tensors an example's inputs are, and how many its targets.
    var fieldCounts: (inputs: Int, targets: Int) { get }

    /// Writes the examples at `indices` into `inputs` and `targets`, one tensor per field
    /// ([batch, field shape…]). Arrays that already hold tensors of the batch's shapes are
    /// refilled in place, so that a training loop allocates nothing per batch.
    func batch(_ indices: ArraySlice<Int>, inputs: inout [Tensor<Scalar>], targets: inout [Tensor<Scalar>])
}

/// Examples for training or evaluation: an input and a target each, every input of one shape
/// and every target of one shape, read a batch at a time.
///
/// ``TensorDataset`` holds examples as tensors; a data set kept more compactly (MNIST's bytes,
/// in `NablaData`) or made on the fly conforms by writing a batch itself.
public protocol Dataset<Scalar>: MultiTensorDataset {
    /// The scalar type of the batches.
    associatedtype Scalar

    /// Writes the examples at `indices` into `inputs` ([batch, input shape…]) and `targets`
    /// ([batch, target shape…]: a class index per example is a target of shape []). A tensor
    /// that already has the batch's shape is refilled in place, so that a training loop
    /// allocates nothing per batch.
    func batch(_ indices: ArraySlice<Int>, inputs: inout Tensor<Scalar>, targets: inout Tensor<Scalar>)
}

extension Dataset {
    /// One input and one target.
    public var fieldCounts: (inputs: Int, targets: Int) { (1, 1) }

    /// The batch as one-element arrays, refilled in place.
    public func batch(_ indices: ArraySlice<Int>, inputs: inout [Tensor<Scalar>], targets: inout [Tensor<Scalar>]) {
        if inputs.count != 1 { inputs = [Tensor(zeros: [0])] }
        if targets.count != 1 { targets = [Tensor(zeros: [0])] }
        batch(indices, inputs: &inputs[0], targets: &targets[0])
    }
}

extension MultiTensorDataset {
    /// Calls `body` with each batch of up to `batchSize` examples in order — its inputs, its
    /// targets and its first example's index — refilling the same tensors, in inference mode.
    public func forEachBatch(of batchSize: Int, _ body: (_ inputs: [Tensor<Scalar>], _ targets: [Tensor<Scalar>], _ first: Int) -> Void) {
        check(batchSize > 0, "forEachBatch: batch size \(batchSize) must be positive")
        var (inputs, targets) = ([Tensor<Scalar>](), [Tensor<Scalar>]())
        let all = Array(0..<count)
        withLayerMode(.inference) {
            for start in stride(from: 0, to: count, by: batchSize) {
                batch(all[start ..< Swift.min(start + batchSize, count)], inputs: &inputs, targets: &targets)
                body(inputs, targets, start)
            }
        }
    }
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
        forEachBatch(of: batchSize) { (inputs: [Tensor<Scalar>], targets: [Tensor<Scalar>], first: Int) in
            body(inputs[0], targets[0], first)
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

/// Examples held as several tensors whose first dimension counts them: the inputs (ids [n, T]
/// and a mask [n, T], say), then the targets.
///
/// ```swift
/// let data = TensorTupleDataset(inputs: [ids, mask], targets: [labels])
/// ```
public struct TensorTupleDataset<Scalar: TensorScalar>: MultiTensorDataset {
    /// The input fields, each with one row per example.
    public let inputs: [Tensor<Scalar>]
    /// The target fields, each with one row per example.
    public let targets: [Tensor<Scalar>]

    /// Groups the fields, which must count the same examples (at least one input).
    public init(inputs: [Tensor<Scalar>], targets: [Tensor<Scalar>]) {
        check(!inputs.isEmpty, "TensorTupleDataset: an example needs at least one input")
        let fields = inputs + targets
        for (index, field) in fields.enumerated() {
            let name = index < inputs.count ? "input \(index)" : "target \(index - inputs.count)"
            check(field.rank >= 1 && field.shape[0] == fields[0].shape[0],
                  "TensorTupleDataset: \(name) has shape \(field.shape); every field's first dimension must be the number of examples, \(fields[0].shape[0])")
        }
        (self.inputs, self.targets) = (inputs, targets)
    }

    /// The number of examples.
    public var count: Int { inputs[0].shape[0] }

    /// The number of input and target tensors.
    public var fieldCounts: (inputs: Int, targets: Int) { (inputs.count, targets.count) }

    /// Copies the rows at `indices` of every field.
    public func batch(_ indices: ArraySlice<Int>, inputs batchInputs: inout [Tensor<Scalar>], targets batchTargets: inout [Tensor<Scalar>]) {
        copyRows(indices, of: inputs, into: &batchInputs)
        copyRows(indices, of: targets, into: &batchTargets)
    }
}

/// Copies rows `indices` of each of `sources` into `batches`, in place when it holds tensors of
/// the right shapes.
private func copyRows<Scalar: TensorScalar>(_ indices: ArraySlice<Int>, of sources: [Tensor<Scalar>], into batches: inout [Tensor<Scalar>]) {
    if batches.count != sources.count { batches = sources.map { _ in Tensor(zeros: [0]) } }
    for index in sources.indices { copyRows(indices, of: sources[index], into: &batches[index]) }
}

/// Copies rows `indices` of `source` into `batch`, in place when it has the right shape.
func copyRows<Scalar: TensorScalar>(_ indices: ArraySlice<Int>, of source: Tensor<Scalar>, into batch: inout Tensor<Scalar>) {
    let length = source.shape.dropFirst().reduce(1, *)
    // Compared in place: building the batch's shape as an array would allocate every batch.
    if batch.rank != source.rank || batch.shape.first != indices.count || batch.shape.dropFirst() != source.shape.dropFirst() {
        batch = Tensor(zeros: [indices.count] + source.shape.dropFirst())
    }
    source.withUnsafeBufferPointer { from in
        batch.withUnsafeMutableBufferPointer { to in
            for (row, index) in indices.enumerated() {
                check(index >= 0 && index < source.shape[0], "Dataset: index \(index) is out of bounds for \(source.shape[0]) examples")
                (to.baseAddress! + row * length).update(from: from.baseAddress! + index * length, count: length)
            }
        }
    }
}
