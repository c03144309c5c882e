/// Examples for training or evaluation made of several tensors each — inputs, then targets:
/// features and a mask, a source sentence and its translation — and of index tensors (token ids,
/// class labels), every field of one shape across examples, read a batch at a time.
///
/// ``Dataset`` is the common case, one input and one target; ``TensorTupleDataset`` holds any
/// number of fields as tensors and index tensors. A ``Trainer`` made with a cost function trains
/// on either.
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

    /// How many index tensors an example's inputs have besides its tensors, and its targets;
    /// none unless the set has them.
    var indexFieldCounts: (inputs: Int, targets: Int) { get }

    /// Writes the index fields of the examples at `indices` into `inputs` and `targets`, refilled
    /// in place as ``batch(_:inputs:targets:)`` does.
    func batch(_ indices: ArraySlice<Int>, indexInputs inputs: inout [IndexTensor], indexTargets targets: inout [IndexTensor])
}

extension MultiTensorDataset {
    /// No index fields.
    public var indexFieldCounts: (inputs: Int, targets: Int) { (0, 0) }

    /// No index fields: the arrays are emptied.
    public func batch(_ indices: ArraySlice<Int>, indexInputs inputs: inout [IndexTensor], indexTargets targets: inout [IndexTensor]) {
        if !inputs.isEmpty { inputs = [] }
        if !targets.isEmpty { targets = [] }
    }

    /// Writes every field of the examples at `indices` into `batch`, refilled in place.
    public func batch(_ indices: ArraySlice<Int>, into batch: inout DatasetBatch<Scalar>) {
        self.batch(indices, inputs: &batch.inputs, targets: &batch.targets)
        self.batch(indices, indexInputs: &batch.indexInputs, indexTargets: &batch.indexTargets)
    }
}

/// A batch of every field of a ``MultiTensorDataset``: its tensors and its index tensors, inputs
/// and targets, each [batch, field shape…].
public struct DatasetBatch<Scalar: TensorScalar> {
    /// The input tensors.
    public var inputs: [Tensor<Scalar>]
    /// The target tensors.
    public var targets: [Tensor<Scalar>]
    /// The input index tensors (token ids, say).
    public var indexInputs: [IndexTensor]
    /// The target index tensors (class labels, next tokens).
    public var indexTargets: [IndexTensor]

    /// A batch of these fields.
    public init(inputs: [Tensor<Scalar>] = [], targets: [Tensor<Scalar>] = [],
                indexInputs: [IndexTensor] = [], indexTargets: [IndexTensor] = []) {
        (self.inputs, self.targets, self.indexInputs, self.indexTargets) = (inputs, targets, indexInputs, indexTargets)
    }

    /// How many examples it holds: the first dimension of its first field.
    public var count: Int { (inputs.first?.shape ?? indexInputs.first?.shape ?? targets.first?.shape ?? indexTargets.first?.shape)?.first ?? 0 }
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
    /// Calls `body` with each batch of up to `batchSize` examples in order — all its fields, and
    /// its first example's index — refilling the same tensors, in inference mode.
    public func forEachBatch(of batchSize: Int, _ body: (_ batch: DatasetBatch<Scalar>, _ first: Int) -> Void) {
        check(batchSize > 0, "forEachBatch: batch size \(batchSize) must be positive")
        var fields = DatasetBatch<Scalar>()
        let all = Array(0..<count)
        withLayerMode(.inference) {
            for start in stride(from: 0, to: count, by: batchSize) {
                batch(all[start ..< Swift.min(start + batchSize, count)], into: &fields)
                body(fields, start)
            }
        }
    }

    /// Calls `body` with each batch of up to `batchSize` examples in order — its inputs, its
    /// targets and its first example's index — refilling the same tensors, in inference mode.
    public func forEachBatch(of batchSize: Int, _ body: (_ inputs: [Tensor<Scalar>], _ targets: [Tensor<Scalar>], _ first: Int) -> Void) {
        forEachBatch(of: batchSize) { (fields: DatasetBatch<Scalar>, first: Int) in body(fields.inputs, fields.targets, first) }
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
        forEachBatch(of: batchSize) { (fields: DatasetBatch<Scalar>, first: Int) in
            body(fields.inputs[0], fields.targets[0], first)
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

/// Examples held as several tensors and index tensors whose first dimension counts them: the
/// inputs (features [n, d] and a mask [n, d], token ids [n, T]), then the targets (values, class
/// labels [n]).
///
/// ```swift
/// let data = TensorTupleDataset(inputs: [features, mask], targets: [values])
/// let text = TensorTupleDataset<Float>(indexInputs: [ids], indexTargets: [nextIDs])
/// ```
public struct TensorTupleDataset<Scalar: TensorScalar>: MultiTensorDataset {
    /// The input fields, each with one row per example.
    public let inputs: [Tensor<Scalar>]
    /// The target fields, each with one row per example.
    public let targets: [Tensor<Scalar>]
    /// The input index fields, each with one row per example.
    public let indexInputs: [IndexTensor]
    /// The target index fields, each with one row per example.
    public let indexTargets: [IndexTensor]
    /// The number of examples.
    public let count: Int

    /// Groups the fields, which must count the same examples (at least one input of either kind).
    public init(inputs: [Tensor<Scalar>] = [], targets: [Tensor<Scalar>] = [],
                indexInputs: [IndexTensor] = [], indexTargets: [IndexTensor] = []) {
        check(!inputs.isEmpty || !indexInputs.isEmpty, "TensorTupleDataset: an example needs at least one input")
        let shapes = [("input", inputs.map(\.shape)), ("target", targets.map(\.shape)),
                      ("index input", indexInputs.map(\.shape)), ("index target", indexTargets.map(\.shape))]
        let count = (inputs.first?.shape ?? indexInputs[0].shape).first ?? 0
        for (kind, fields) in shapes {
            for (index, shape) in fields.enumerated() {
                check(shape.count >= 1 && shape[0] == count,
                      "TensorTupleDataset: \(kind) \(index) has shape \(shape); every field's first dimension must be the number of examples, \(count)")
            }
        }
        (self.inputs, self.targets, self.indexInputs, self.indexTargets, self.count) = (inputs, targets, indexInputs, indexTargets, count)
    }

    /// The number of input and target tensors.
    public var fieldCounts: (inputs: Int, targets: Int) { (inputs.count, targets.count) }

    /// The number of input and target index tensors.
    public var indexFieldCounts: (inputs: Int, targets: Int) { (indexInputs.count, indexTargets.count) }

    /// Copies the rows at `indices` of every tensor field.
    public func batch(_ indices: ArraySlice<Int>, inputs batchInputs: inout [Tensor<Scalar>], targets batchTargets: inout [Tensor<Scalar>]) {
        copyRows(indices, of: inputs, into: &batchInputs)
        copyRows(indices, of: targets, into: &batchTargets)
    }

    /// Copies the rows at `indices` of every index field.
    public func batch(_ indices: ArraySlice<Int>, indexInputs batchInputs: inout [IndexTensor], indexTargets batchTargets: inout [IndexTensor]) {
        copyRows(indices, of: indexInputs, into: &batchInputs)
        copyRows(indices, of: indexTargets, into: &batchTargets)
    }
}

/// Copies rows `indices` of each of `sources` into `batches`, in place when it holds tensors of
/// the right shapes.
private func copyRows<Field: RowCopyable>(_ indices: ArraySlice<Int>, of sources: [Field], into batches: inout [Field]) {
    if batches.count != sources.count { batches = sources.map { _ in Field(zeros: [0]) } }
    for index in sources.indices { copyRows(indices, of: sources[index], into: &batches[index]) }
}

/// Copies rows `indices` of `source` into `batch`, in place when it has the right shape.
func copyRows<Field: RowCopyable>(_ indices: ArraySlice<Int>, of source: Field, into batch: inout Field) {
    let length = source.shape.dropFirst().reduce(1, *)
    // Compared in place: building the batch's shape as an array would allocate every batch.
    if batch.shape.count != source.shape.count || batch.shape.first != indices.count || batch.shape.dropFirst() != source.shape.dropFirst() {
        batch = Field(zeros: [indices.count] + source.shape.dropFirst())
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

/// A field a data set copies rows of: a tensor, or an index tensor.
protocol RowCopyable {
    associatedtype Element
    var shape: [Int] { get }
    init(zeros shape: [Int])
    func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R
    mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Element>) throws -> R) rethrows -> R
}

extension Tensor: RowCopyable {}

extension IndexTensor: RowCopyable {
    /// Zeros of `shape`.
    init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }
}
