/// An n-dimensional array of `Float` or `Double`, row-major, with value semantics.
///
/// A tensor is its ``shape`` and its ``scalars`` (copy-on-write, like any Swift array). Inside a
/// differentiation scope such as ``valueWithGradient(at:in:)->(_,Tensor<Scalar>)`` a tensor also remembers where it
/// sits in the recorded graph; outside one, ops run with no bookkeeping at all.
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
    /// The elements in row-major order (the last dimension varies fastest).
    public internal(set) var scalars: [Scalar]
    /// Where this tensor sits in a recorded graph, if it is being differentiated.
    var tracking: Tracking<Scalar>?

    /// Creates a tensor of the given shape from its elements in row-major order.
    public init(_ scalars: [Scalar], shape: [Int]) {
        check(shape.allSatisfy { $0 >= 0 }, "Tensor: shape \(shape) has a negative dimension")
        let count = shape.reduce(1, *)
        check(scalars.count == count,
              "Tensor: \(scalars.count) scalars do not fill shape \(shape) (\(count) needed)")
        self.shape = shape
        self.scalars = scalars
    }

    /// Creates a one-dimensional tensor holding `scalars`.
    public init(_ scalars: [Scalar]) {
        self.init(scalars, shape: [scalars.count])
    }

    /// Creates a scalar (rank-0) tensor.
    public init(_ scalar: Scalar) {
        self.init([scalar], shape: [])
    }

    /// Creates a tensor of `shape` with every element equal to `value`.
    public init(repeating value: Scalar, shape: [Int]) {
        self.init([Scalar](repeating: value, count: shape.reduce(1, *)), shape: shape)
    }

    /// Creates a tensor of zeros.
    public init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

    /// Creates a tensor of ones.
    public init(ones shape: [Int]) { self.init(repeating: 1, shape: shape) }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// The number of elements.
    public var count: Int { scalars.count }

    /// The single element of a one-element tensor (any shape, such as `[]` or `[1, 1]`).
    public var scalar: Scalar {
        check(count == 1, "scalar: tensor of shape \(shape) has \(count) elements, not 1")
        return scalars[0]
    }

    /// The element at a full multi-dimensional index, such as `t[1, 2]`.
    public subscript(index: Int...) -> Scalar {
        check(index.count == rank, "subscript: \(index.count) indices for a rank-\(rank) tensor of shape \(shape)")
        var offset = 0
        for (axis, i) in index.enumerated() {
            check(i >= 0 && i < shape[axis], "subscript: index \(index) is out of bounds for shape \(shape)")
            offset = offset * shape[axis] + i
        }
        return scalars[offset]
    }

    /// Creates an untracked tensor from a computed shape and buffer; the ops' common exit.
    init(shape: [Int], unchecked scalars: [Scalar]) {
        self.shape = shape
        self.scalars = scalars
    }

    /// Creates an untracked tensor of `shape` whose elements `fill` writes, every one of them,
    /// into fresh uninitialised storage (no zeroing first).
    init(shape: [Int], filling fill: (UnsafeMutablePointer<Scalar>) -> Void) {
        let count = shape.reduce(1, *)
        let values = [Scalar](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { fill(buffer.baseAddress!) }
            initialized = count
        }
        self.init(shape: shape, unchecked: values)
    }
}

extension Tensor {
    /// Creates a tensor of samples from a normal distribution.
    public init(
        randomNormal shape: [Int], mean: Scalar = 0, standardDeviation: Scalar = 1,
        using generator: inout SeededGenerator
    ) {
        let count = shape.reduce(1, *)
        var values = [Scalar]()
        values.reserveCapacity(count)
        let (mu, sigma) = (Double(mean), Double(standardDeviation))
        for _ in 0..<count { values.append(Scalar(mu + sigma * generator.nextNormal())) }
        self.init(values, shape: shape)
    }

    /// Creates a tensor of samples drawn uniformly from `range`.
    public init(
        randomUniform shape: [Int], in range: ClosedRange<Scalar> = 0...1,
        using generator: inout SeededGenerator
    ) {
        let count = shape.reduce(1, *)
        let (low, width) = (Double(range.lowerBound), Double(range.upperBound - range.lowerBound))
        var values = [Scalar]()
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(Scalar(low + width * generator.nextUniform())) }
        self.init(values, shape: shape)
    }
}

extension Tensor {
    /// Converts every element to another scalar type (untracked).
    public init<Other>(converting other: Tensor<Other>) {
        self.init(shape: other.shape, unchecked: other.scalars.map { Scalar($0) })
    }
}

extension Tensor: Equatable {
    /// Tensors are equal when their shapes and elements are; tracking is ignored.
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        lhs.shape == rhs.shape && lhs.scalars == rhs.scalars
    }
}

/// Stops the program with `message` when `condition` is false.
///
/// Unlike `precondition`, the message is printed in optimised builds too: a shape error should
/// say which shapes, whatever the build configuration.
@inline(__always)
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

extension Tensor {
    /// Calls `body` with the elements' storage, for reading in bulk.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Scalar>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with the elements' storage, for updating in place (optimizers do). The shape
    /// cannot change.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Scalar>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer { try body($0) }
    }
}
