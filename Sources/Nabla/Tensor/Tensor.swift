/// An n-dimensional array of `Float` or `Double`, row-major, with value semantics.
///
/// A tensor is its ``shape`` and a view of shared storage (copy-on-write, like any Swift array).
/// Inside a differentiation scope such as ``valueWithGradient(at:creatingGraph:in:)-(Tensor<Scalar>,_,_)`` a
/// tensor also remembers where it sits in the recorded graph; outside one, ops run with no
/// bookkeeping at all.
///
/// ```swift
/// let x = Tensor<Double>([1, 2, 3, 4, 5, 6], shape: [2, 3])
/// let y = (x * 2 + 1).sum(alongAxis: 1)      // [2]: 15, 33
/// ```
///
/// Misuse that is a programming error (mismatched shapes, an axis out of range) stops the
/// program with a message that names the op and the shapes, like an out-of-bounds array index.
/// Problems with outside input (files, data) are thrown as errors instead.
public struct Tensor<Scalar: TensorScalar> {
    /// The size of each dimension; `[]` for a scalar.
    public let shape: [Int]
    /// The number of elements.
    public let count: Int
    /// The buffer this tensor views, and where in it the tensor's first element is.
    var storage: TensorStorage<Scalar>
    var offset: Int
    /// Where this tensor sits in a recorded graph, if it is being differentiated.
    var tracking: Tracking<Scalar>?

    /// A tensor of `shape` viewing `storage` from `offset`; the shape is trusted.
    init(shape: [Int], count: Int, storage: TensorStorage<Scalar>, offset: Int = 0) {
        self.shape = shape
        self.count = count
        self.storage = storage
        self.offset = offset
    }

    /// Creates an untracked tensor of `shape` whose elements `fill` writes, every one of them,
    /// into fresh uninitialised storage (no zeroing first).
    package init(shape: [Int], filling fill: (UnsafeMutablePointer<Scalar>) -> Void) {
        let count = shape.reduce(1, *)
        self.init(shape: shape, count: count, storage: .make(count: count))
        if count > 0 { fill(storage.elements) }
    }

    /// Creates a tensor of the given shape from its elements in row-major order.
    public init(_ scalars: [Scalar], shape: [Int]) {
        check(shape.allSatisfy { $0 >= 0 }, "Tensor: shape \(shape) has a negative dimension")
        let count = shape.reduce(1, *)
        check(scalars.count == count,
              "Tensor: \(scalars.count) scalars do not fill shape \(shape) (\(count) needed)")
        self.init(shape: shape) { out in
            scalars.withUnsafeBufferPointer { out.initialize(from: $0.baseAddress!, count: count) }
        }
    }

    /// Creates a one-dimensional tensor holding `scalars`.
    public init(_ scalars: [Scalar]) {
        self.init(scalars, shape: [scalars.count])
    }

    /// Creates a scalar (rank-0) tensor.
    public init(_ scalar: Scalar) {
        self.init(shape: []) { $0.initialize(to: scalar) }
    }

    /// Creates a tensor of `shape` with every element equal to `value`.
    public init(repeating value: Scalar, shape: [Int]) {
        check(shape.allSatisfy { $0 >= 0 }, "Tensor: shape \(shape) has a negative dimension")
        self.init(shape: shape) { $0.initialize(repeating: value, count: shape.reduce(1, *)) }
    }

    /// Creates a tensor of zeros.
    public init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

    /// Creates a tensor of ones.
    public init(ones shape: [Int]) { self.init(repeating: 1, shape: shape) }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// The elements in row-major order (the last dimension varies fastest), as a new array.
    ///
    /// Reading a tensor's values on the CPU is outside the recorded program: inside a
    /// ``TracedGradient``'s trace it makes the step run eagerly (see ``TracedGradient``).
    public var scalars: [Scalar] {
        Program<Scalar>.noteHostRead(of: self, by: "scalars")
        return Array(UnsafeBufferPointer(start: base, count: count))
    }

    /// The single element of a one-element tensor (any shape, such as `[]` or `[1, 1]`).
    public var scalar: Scalar {
        check(count == 1, "scalar: tensor of shape \(shape) has \(count) elements, not 1")
        Program<Scalar>.noteHostRead(of: self, by: "scalar")
        return base[0]
    }

    /// The element at a full multi-dimensional index, such as `t[1, 2]`.
    public subscript(index: Int...) -> Scalar {
        let flat = rowMajorOffset(of: index, in: shape, op: "subscript")
        Program<Scalar>.noteHostRead(of: self, by: "subscript")
        return base[flat]
    }

    /// The first element, for kernels: valid while this tensor (or its storage) lives.
    var base: UnsafeMutablePointer<Scalar> { storage.elements + offset }

    /// Gives this tensor storage of its own, copying its elements if any other tensor shares
    /// them: what writing in place needs to keep value semantics.
    mutating func makeUnique() {
        TensorStorage.makeUnique(&storage, offset: &offset, count: count)
    }
}

extension Tensor {
    /// Creates a tensor of samples from a normal distribution.
    public init(
        randomNormal shape: [Int], mean: Scalar = 0, standardDeviation: Scalar = 1,
        using generator: inout SeededGenerator
    ) {
        let (mu, sigma) = (Double(mean), Double(standardDeviation))
        self.init(shape: shape) { out in
            for i in 0..<shape.reduce(1, *) { out[i] = Scalar(mu + sigma * generator.nextNormal()) }
        }
    }

    /// Creates a tensor of samples drawn uniformly from `range`.
    public init(
        randomUniform shape: [Int], in range: ClosedRange<Scalar> = 0...1,
        using generator: inout SeededGenerator
    ) {
        let (low, width) = (Double(range.lowerBound), Double(range.upperBound - range.lowerBound))
        self.init(shape: shape) { out in
            for i in 0..<shape.reduce(1, *) { out[i] = Scalar(low + width * generator.nextUniform()) }
        }
    }
}

extension Tensor {
    /// Converts every element to another scalar type (untracked).
    public init<Other>(converting other: Tensor<Other>) {
        let source = other.base
        self.init(shape: other.shape) { out in
            for i in 0..<other.count { out[i] = Scalar(source[i]) }
        }
    }
}

extension Tensor: Equatable {
    /// Tensors are equal when their shapes and elements are; tracking is ignored.
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape else { return false }
        Program<Scalar>.noteHostRead(of: lhs, by: "==")
        Program<Scalar>.noteHostRead(of: rhs, by: "==")
        let (a, b) = (lhs.base, rhs.base)
        return (0..<lhs.count).allSatisfy { a[$0] == b[$0] }
    }
}

/// Where the element at a full multi-dimensional `index` lies in row-major elements of `shape`,
/// or a stop naming `op`, the index and the shape.
func rowMajorOffset(of index: [Int], in shape: [Int], op: String) -> Int {
    check(index.count == shape.count, "\(op): \(index.count) indices for a rank-\(shape.count) tensor of shape \(shape)")
    var flat = 0
    for (axis, i) in index.enumerated() {
        check(i >= 0 && i < shape[axis], "\(op): index \(index) is out of bounds for shape \(shape)")
        flat = flat * shape[axis] + i
    }
    return flat
}

/// Stops the program with `message` when `condition` is false.
///
/// Unlike `precondition`, the message is printed in optimised builds too: a shape error should
/// say which shapes, whatever the build configuration.
@inline(__always)
package func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

extension Tensor {
    /// Calls `body` with the elements' storage, for reading in bulk.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Scalar>) throws -> R) rethrows -> R {
        Program<Scalar>.noteHostRead(of: self, by: "withUnsafeBufferPointer")
        return try body(UnsafeBufferPointer(start: base, count: count))
    }

    /// Calls `body` with the elements' storage, for updating in place (after making it unique:
    /// no other tensor sees the change). The shape cannot change.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Scalar>) throws -> R
    ) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: base, count: count))
    }
}
