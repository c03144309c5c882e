// + − × ÷, maximum and minimum, and comparisons, with NumPy broadcasting. Each gradient is
// computed at the broadcast shape and summed back to its input's shape, so [3, 4] + [4] gives the
// bias a gradient of shape [4].

/// An element-wise op on two tensors, broadcasting.
struct Arithmetic<Scalar: TensorScalar>: TensorOperation {
    enum Function {
        case add, subtract, multiply, divide, maximum, minimum
        /// Comparisons give 1 where they hold and 0 elsewhere (NaN compares unequal to everything).
        case less, lessOrEqual, greater, greaterOrEqual, equal, notEqual
    }
    let function: Function
    let shape: [Int]
    let lhsShape, rhsShape: [Int]
    /// How the operands are read across the result, chosen once.
    private let path: Path
    /// How each operand is read across the result on the ``Path/rows`` path.
    private let lhsStrides, rhsStrides: [Int]

    /// The loop that combines the operands.
    private enum Path {
        /// Equal shapes: element by element.
        case equal
        /// One operand a single value, the other of the result's shape (attention's 1/√d).
        case scalarRight, scalarLeft
        /// The right operand repeats over the left's trailing elements (a bias row), `period` long.
        case suffix(period: Int)
        /// Anything else, by rows of the result, each run straight or with a value repeated.
        case rows
    }

    init(_ function: Function, _ lhsShape: [Int], _ rhsShape: [Int], symbol: String) {
        (self.function, self.lhsShape, self.rhsShape) = (function, lhsShape, rhsShape)
        let (lhsCount, rhsCount) = (lhsShape.reduce(1, *), rhsShape.reduce(1, *))
        if lhsShape == rhsShape || rhsShape.isSuffix(of: lhsShape) {
            (shape, lhsStrides, rhsStrides) = (lhsShape, [], [])
            path = lhsShape == rhsShape ? .equal : rhsCount == 1 ? .scalarRight : .suffix(period: rhsCount)
            return
        }
        shape = broadcastShape(lhsShape, rhsShape, op: symbol)
        lhsStrides = broadcastStrides(from: lhsShape, to: shape)
        rhsStrides = broadcastStrides(from: rhsShape, to: shape)
        path = rhsCount == 1 && shape == lhsShape ? .scalarRight : lhsCount == 1 && shape == rhsShape ? .scalarLeft : .rows
    }

    var name: String { "\(function)" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (a, b, out) = (buffers.input(0), buffers.input(1), buffers.output)
        switch function {
        case .add: combine(a, b, out, Add.self)
        case .subtract: combine(a, b, out, Subtract.self)
        case .multiply: combine(a, b, out, Multiply.self)
        case .divide: combine(a, b, out, Divide.self)
        case .maximum: combine(a, b, out, Maximum.self)
        case .minimum: combine(a, b, out, Minimum.self)
        case .less: combine(a, b, out, Less.self)
        case .lessOrEqual: combine(a, b, out, LessOrEqual.self)
        case .greater: combine(a, b, out, Greater.self)
        case .greaterOrEqual: combine(a, b, out, GreaterOrEqual.self)
        case .equal: combine(a, b, out, Equal.self)
        case .notEqual: combine(a, b, out, NotEqual.self)
        }
    }

    /// `out = f(a, b)` over the broadcast shape. Generic over the function's type, so that each
    /// function gets loops of its own with it inlined (a closure would be a call per element),
    /// which the compiler can vectorise: straight runs where both operands advance, or one
    /// repeats a value along the row (a [B, T, 1] statistic against [B, T, C]).
    private func combine<F: BinaryScalarFunction>(_ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>,
                                                  _ out: UnsafeMutablePointer<Scalar>, _: F.Type) {
        let count = shape.reduce(1, *)
        switch path {
        case .equal:
            forEachChunk(count, (a, b, out)) { operands, chunk in
                let (a, b, out) = operands
                for i in chunk { out[i] = F.value(a[i], b[i]) }
            }
        case .scalarRight:
            forEachChunk(count, (a, b[0], out)) { operands, chunk in
                let (a, y, out) = operands
                for i in chunk { out[i] = F.value(a[i], y) }
            }
        case .scalarLeft:
            forEachChunk(count, (a[0], b, out)) { operands, chunk in
                let (x, b, out) = operands
                for i in chunk { out[i] = F.value(x, b[i]) }
            }
        case .suffix(let period):
            // In chunks of whole rows.
            forEachChunk(count / period, unitSize: period, (a, b, out, period)) { operands, rows in
                let (a, b, out, period) = operands
                for row in rows {
                    let base = row * period
                    for j in 0..<period { out[base + j] = F.value(a[base + j], b[j]) }
                }
            }
        case .rows:
            guard let inner = shape.last else { out[0] = F.value(a[0], b[0]); return }
            let (innerA, innerB) = (lhsStrides[shape.count - 1], rhsStrides[shape.count - 1])
            forEachChunk(broadcastRowCount(shape), unitSize: inner, (a, b, out, self, inner, innerA, innerB)) { operands, rows in
                let (a, b, out, op, inner, innerA, innerB) = operands
                forEachBroadcastRow(op.shape, op.lhsStrides, op.rhsStrides, rows: rows) { o, i, j in
                    switch (innerA, innerB) {
                    case (1, 1): for k in 0..<inner { out[o + k] = F.value(a[i + k], b[j + k]) }
                    case (1, 0): let y = b[j]; for k in 0..<inner { out[o + k] = F.value(a[i + k], y) }
                    case (0, 1): let x = a[i]; for k in 0..<inner { out[o + k] = F.value(x, b[j + k]) }
                    default: for k in 0..<inner { out[o + k] = F.value(a[i + k * innerA], b[j + k * innerB]) }
                    }
                }
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let (a, b) = (call.inputs[0], call.inputs[1])
        let lhs: () -> Tensor<Scalar>, rhs: () -> Tensor<Scalar>
        switch function {
        case .add: (lhs, rhs) = ({ g }, { g })
        case .subtract: (lhs, rhs) = ({ g }, { -g })
        case .multiply: (lhs, rhs) = ({ g * b }, { g * a })
        case .divide: (lhs, rhs) = ({ g / b }, { -(g * call.output) / b })  // ∂(a/b)/∂b = −(a/b)/b
        // The larger operand takes the gradient; a tie splits it in halves, as in PyTorch.
        case .maximum: (lhs, rhs) = ({ Self.winnerShare(g, a .> b, a .== b) }, { Self.winnerShare(g, b .> a, a .== b) })
        case .minimum: (lhs, rhs) = ({ Self.winnerShare(g, a .< b, a .== b) }, { Self.winnerShare(g, b .< a, a .== b) })
        case .less, .lessOrEqual, .greater, .greaterOrEqual, .equal, .notEqual: return [nil, nil]  // piecewise constant
        }
        return [call.needsGradient(0) ? lhs().sum(toShape: lhsShape) : nil,
                call.needsGradient(1) ? rhs().sum(toShape: rhsShape) : nil]
    }
}

/// A function of two scalars, as a type: see ``Arithmetic``'s `combine`.
protocol BinaryScalarFunction {
    static func value<Scalar: TensorScalar>(_ x: Scalar, _ y: Scalar) -> Scalar
}

extension Arithmetic {
    enum Add: BinaryScalarFunction { @inline(__always) static func value<S: TensorScalar>(_ x: S, _ y: S) -> S { x + y } }
    enum Subtract: BinaryScalarFunction { @inline(__always) static func value<S: TensorScalar>(_ x: S, _ y: S) -> S { x - y } }
    enum Multiply: BinaryScalarFunction { @inline(__always) static func value<S: TensorScalar>(_ x: S, _ y: S) -> S { x * y } }
    enum Divide: BinaryScalarFunction { @inline(__always) static func value<S: TensorScalar>(_ x: S, _ y: S) -> S { x / y } }
    // NaN in either operand gives NaN, as PyTorch's maximum and minimum do.
    enum Maximum: BinaryScalarFunction { @inline(__always) static func value<S: TensorScalar>(_ x: S, _ y: S) -> S { x.isNaN || x > y ? x : y } }
    enum Minimum: BinaryScalarFunction { @inline(__always) static func value<S: TensorScalar>(_ x: S, _ y: S) -> S { x.isNaN || x < y ? x : y } }
    enum Less: BinaryScalarFunction { @inline(__always) static func value<S: TensorScalar>(_ x: S, _ y: S) -> S { x < y ? 1 : 0 } }
    enum LessOrEqual: BinaryScalarFunction { @inline(__always) static func value<S: TensorScalar>(_ x: S, _ y: S) -> S { x <= y ? 1 : 0 } }
    enum Greater: BinaryScalarFunction { @inline(__always) static func value<S: TensorScalar>(_ x: S, _ y: S) -> S { x > y ? 1 : 0 } }
    enum GreaterOrEqual: BinaryScalarFunction { @inline(__always) static func value<S: TensorScalar>(_ x: S, _ y: S) -> S { x >= y ? 1 : 0 } }
    enum Equal: BinaryScalarFunction { @inline(__always) static func value<S: TensorScalar>(_ x: S, _ y: S) -> S { x == y ? 1 : 0 } }
    enum NotEqual: BinaryScalarFunction { @inline(__always) static func value<S: TensorScalar>(_ x: S, _ y: S) -> S { x != y ? 1 : 0 } }
}

extension Arithmetic {
    /// g where an operand won, g/2 where it tied, 0 elsewhere (even where g is infinite).
    static func winnerShare(_ g: Tensor<Scalar>, _ won: Tensor<Scalar>, _ tied: Tensor<Scalar>) -> Tensor<Scalar> {
        Tensor.where(won, g, Tensor.where(tied, g * 0.5, Tensor(0)))
    }
}

extension Tensor {
    static func apply(_ function: Arithmetic<Scalar>.Function, _ lhs: Tensor, _ rhs: Tensor, _ symbol: String) -> Tensor {
        let op = Arithmetic<Scalar>(function, lhs.shape, rhs.shape, symbol: symbol)
        return op([lhs, rhs], shape: op.shape)
    }

    /// Element-wise sum, broadcasting.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { apply(.add, lhs, rhs, "+") }
    /// Element-wise difference, broadcasting.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { apply(.subtract, lhs, rhs, "-") }
    /// Element-wise product, broadcasting.
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor { apply(.multiply, lhs, rhs, "*") }
    /// Element-wise quotient, broadcasting.
    public static func / (lhs: Tensor, rhs: Tensor) -> Tensor { apply(.divide, lhs, rhs, "/") }

    /// Element-wise negation.
    public static prefix func - (x: Tensor) -> Tensor { ElementwiseFunction(.negate, count: x.count)([x], shape: x.shape) }

    /// Adds a scalar to every element.
    public static func + (lhs: Tensor, rhs: Scalar) -> Tensor { lhs + Tensor(rhs) }
    /// Adds a scalar to every element.
    public static func + (lhs: Scalar, rhs: Tensor) -> Tensor { Tensor(lhs) + rhs }
    /// Subtracts a scalar from every element.
    public static func - (lhs: Tensor, rhs: Scalar) -> Tensor { lhs - Tensor(rhs) }
    /// Subtracts every element from a scalar.
    public static func - (lhs: Scalar, rhs: Tensor) -> Tensor { Tensor(lhs) - rhs }
    /// Multiplies every element by a scalar.
    public static func * (lhs: Tensor, rhs: Scalar) -> Tensor { lhs * Tensor(rhs) }
    /// Multiplies every element by a scalar.
    public static func * (lhs: Scalar, rhs: Tensor) -> Tensor { Tensor(lhs) * rhs }
    /// Divides every element by a scalar.
    public static func / (lhs: Tensor, rhs: Scalar) -> Tensor { lhs / Tensor(rhs) }
    /// Divides a scalar by every element.
    public static func / (lhs: Scalar, rhs: Tensor) -> Tensor { Tensor(lhs) / rhs }

    /// `lhs = lhs + rhs`.
    public static func += (lhs: inout Tensor, rhs: Tensor) { lhs = lhs + rhs }
    /// `lhs = lhs - rhs`.
    public static func -= (lhs: inout Tensor, rhs: Tensor) { lhs = lhs - rhs }
    /// `lhs = lhs * rhs`.
    public static func *= (lhs: inout Tensor, rhs: Tensor) { lhs = lhs * rhs }
    /// `lhs = lhs / rhs`.
    public static func /= (lhs: inout Tensor, rhs: Tensor) { lhs = lhs / rhs }
}

/// The element-wise maximum of two tensors, broadcasting; NaN if either element is NaN. The
/// gradient goes to the larger element, half to each on a tie (PyTorch's rule).
public func maximum<Scalar>(_ a: Tensor<Scalar>, _ b: Tensor<Scalar>) -> Tensor<Scalar> { Tensor.apply(.maximum, a, b, "maximum") }

/// The element-wise minimum of two tensors, broadcasting; NaN if either element is NaN. The
/// gradient goes to the smaller element, half to each on a tie (PyTorch's rule).
public func minimum<Scalar>(_ a: Tensor<Scalar>, _ b: Tensor<Scalar>) -> Tensor<Scalar> { Tensor.apply(.minimum, a, b, "minimum") }
