/// An n-dimensional array of whole numbers — token ids, class labels, positions — for the ops
/// that pick by index: ``Tensor/gathering(_:alongAxis:)-(IndexTensor,_)`` (an embedding lookup),
/// and the class-index targets of ``SoftmaxCrossEntropyLoss``.
///
/// Its elements are `Int32` (PyTorch and mlx take `int64`/`int32` indices the same way), stored
/// like a ``Tensor``'s: row-major, copy-on-write, at an address that stays put. So an index tensor
/// is an ordinary input of a recorded step: refilled in place each step
/// (``withUnsafeMutableBufferPointer(_:)``), or a new one each step, it replays with no CPU read.
/// It is never differentiated, and ops read it without converting it.
///
/// ```swift
/// let ids = IndexTensor([5, 0, 12, 7], shape: [2, 2])
/// let vectors = table.gathering(ids)            // [2, 2, width]
/// ```
public struct IndexTensor {
    /// The size of each dimension; `[]` for a single index.
    public let shape: [Int]
    /// The number of elements.
    public let count: Int
    var storage: TensorStorage<Int32>
    var offset: Int

    init(shape: [Int], count: Int, storage: TensorStorage<Int32>, offset: Int = 0) {
        (self.shape, self.count, self.storage, self.offset) = (shape, count, storage, offset)
    }

    /// Creates an index tensor of the given shape from its elements in row-major order; each must
    /// fit in an `Int32`.
    public init(_ indices: [Int], shape: [Int]) {
        check(shape.allSatisfy { $0 >= 0 }, "IndexTensor: shape \(shape) has a negative dimension")
        let count = shape.reduce(1, *)
        check(indices.count == count, "IndexTensor: \(indices.count) indices do not fill shape \(shape) (\(count) needed)")
        self.init(shape: shape, count: count, storage: .make(count: count))
        for (i, index) in indices.enumerated() {
            check(Int(Int32.min)...Int(Int32.max) ~= index, "IndexTensor: \(index) (element \(i)) does not fit in an Int32")
            storage.elements[i] = Int32(index)
        }
    }

    /// Creates a one-dimensional index tensor.
    public init(_ indices: [Int]) { self.init(indices, shape: [indices.count]) }

    /// Creates an index tensor of `shape` with every element `index`: storage to fill in place.
    public init(repeating index: Int32 = 0, shape: [Int]) {
        check(shape.allSatisfy { $0 >= 0 }, "IndexTensor: shape \(shape) has a negative dimension")
        let count = shape.reduce(1, *)
        self.init(shape: shape, count: count, storage: .make(count: count))
        storage.elements.initialize(repeating: index, count: count)
    }

    /// The indices a tensor of whole numbers holds (labels read from a file as floats, say); any
    /// other value stops the program, naming it.
    public init<Scalar: TensorScalar>(converting tensor: Tensor<Scalar>) {
        let values = tensor.scalars
        self.init(values.enumerated().map { i, value in
            check(value.rounded(.towardZero) == value && Swift.abs(value) <= Scalar(Int32.max),
                  "IndexTensor(converting:): element \(i), \(value), is not a whole number that fits in an Int32")
            return Int(value)
        }, shape: tensor.shape)
    }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// The elements in row-major order, as a new array (a CPU read: see ``Tensor/scalars``).
    public var scalars: [Int] {
        noteHostRead(by: "scalars")
        return UnsafeBufferPointer(start: base, count: count).map(Int.init)
    }

    /// The element at a full multi-dimensional index, such as `ids[1, 2]`.
    public subscript(index: Int...) -> Int {
        let flat = rowMajorOffset(of: index, in: shape, op: "IndexTensor subscript")
        noteHostRead(by: "subscript")
        return Int(base[flat])
    }

    /// The same elements in another shape of as many elements (no copy).
    public func reshaped(to newShape: [Int]) -> IndexTensor {
        check(newShape.allSatisfy { $0 >= 0 } && newShape.reduce(1, *) == count,
              "IndexTensor.reshaped(to:): cannot reshape \(shape) (\(count) elements) to \(newShape)")
        return IndexTensor(shape: newShape, count: count, storage: storage, offset: offset)
    }

    /// Rows `range` along the first axis (no copy: a view that a recorded step follows).
    public func rows(_ range: Range<Int>) -> IndexTensor {
        check(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0],
              "IndexTensor.rows: rows \(range) out of bounds for shape \(shape)")
        let rowCount = shape.dropFirst().reduce(1, *)
        return IndexTensor(shape: [range.count] + shape.dropFirst(), count: range.count * rowCount,
                           storage: storage, offset: offset + range.lowerBound * rowCount)
    }

    /// Calls `body` with the elements' storage, for reading in bulk.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Int32>) throws -> R) rethrows -> R {
        noteHostRead(by: "withUnsafeBufferPointer")
        return try body(UnsafeBufferPointer(start: base, count: count))
    }

    /// Calls `body` with the elements' storage, for filling in place (a batch of ids each step),
    /// after making it unique: no other tensor sees the change.
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Int32>) throws -> R) rethrows -> R {
        TensorStorage.makeUnique(&storage, offset: &offset, count: count)
        return try body(UnsafeMutableBufferPointer(start: base, count: count))
    }

    /// The first element, for kernels: valid while this tensor (or its storage) lives.
    var base: UnsafeMutablePointer<Int32> { storage.elements + offset }

    /// The first element as raw memory: how a program knows the buffer.
    var firstStorageByte: UnsafeMutableRawPointer { UnsafeMutableRawPointer(storage.elements) }

    /// Tells a program recording on this thread that these indices are being read on the CPU.
    private func noteHostRead(by accessor: String) {
        (ThreadContext.program.currentObject as? any HostReadWatching)?.noteHostRead(of: storage.elements, by: accessor)
    }
}

extension IndexTensor: Equatable {
    /// Index tensors are equal when their shapes and elements are.
    public static func == (lhs: IndexTensor, rhs: IndexTensor) -> Bool {
        lhs.shape == rhs.shape && lhs.scalars == rhs.scalars
    }
}

extension IndexTensor: CustomStringConvertible {
    /// The shape and the indices, nested by dimension, as ``Tensor/description``.
    public var description: String {
        let values = scalars
        return "IndexTensor \(shape)\n" + nestedDescription(shape: shape) { "\(values[$0])" }
    }
}

extension Tensor {
    /// The indices as scalars (exact up to 2²⁴ in Float, 2⁵³ in Double), untracked: a class-index
    /// tensor as numbers, to compare with a model's predictions.
    public init(converting indices: IndexTensor) {
        self = indices.withUnsafeBufferPointer { source in
            Tensor(shape: indices.shape) { out in
                for i in source.indices { out[i] = Scalar(source[i]) }
            }
        }
    }
}

extension UnsafeMutablePointer<Int32> {
    /// This address as an operand of an op over `Scalar`s, which reads it back as indices
    /// (``OperationBuffers/indices(_:)``); never dereferenced as a `Scalar`.
    func operand<Scalar>() -> UnsafeMutablePointer<Scalar> {
        UnsafeMutableRawPointer(self).assumingMemoryBound(to: Scalar.self)
    }
}
