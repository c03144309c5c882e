import CNablaKernels
import RealModule

/// A function applied to every element, y = f(x), with its derivative.
struct ElementwiseFunction<Scalar: TensorScalar>: TensorOperation {
    enum Function {
        case negate, exp, log, squareRoot, square, absoluteValue, sign
        case power(Scalar)
        case clamp(Scalar, Scalar)
        case sigmoid, tanh, relu
    }
    let function: Function
    let count: Int

    init(_ function: Function, count: Int) {
        (self.function, self.count) = (function, count)
    }

    var name: String { "\(function)" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y) = (buffers.input(0), buffers.output)
        // Large tensors (an evaluation batch) are split over the cores.
        forEachChunk(count, (self, x, y)) { operands, chunk in
            let (op, x, y) = operands
            switch op.function {
            case .negate: for i in chunk { y[i] = -x[i] }
            case .exp: for i in chunk { y[i] = .exp(x[i]) }
            case .log: for i in chunk { y[i] = .log(x[i]) }
            case .squareRoot:
                let (x, y, count) = (x + chunk.lowerBound, y + chunk.lowerBound, chunk.count)
                if Scalar.isFloat { nabla_sqrt_f32(x.assuming(Float.self), y.assuming(Float.self), count) }
                else { nabla_sqrt_f64(x.assuming(Double.self), y.assuming(Double.self), count) }
            case .square: for i in chunk { y[i] = x[i] * x[i] }
            case .absoluteValue: for i in chunk { y[i] = Swift.abs(x[i]) }
            case .sign: for i in chunk { y[i] = x[i] > 0 ? 1 : (x[i] < 0 ? -1 : x[i] == 0 ? 0 : x[i]) }
            case .power(let exponent): for i in chunk { y[i] = .pow(x[i], exponent) }
            case .clamp(let lower, let upper): for i in chunk { y[i] = x[i].isNaN ? x[i] : Swift.min(Swift.max(x[i], lower), upper) }
            case .sigmoid: op.sigmoid(x + chunk.lowerBound, y + chunk.lowerBound, chunk.count)
            case .tanh: for i in chunk { y[i] = .tanh(x[i]) }
            case .relu: for i in chunk { y[i] = x[i] > 0 || x[i].isNaN ? x[i] : 0 }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    /// σ over `count` elements: for Float a vectorised C kernel (relative error about 2e-7); for
    /// Double exactly as libm's exp allows, since gradient checks run in Double, written per sign
    /// so that e^|x| never overflows.
    @inline(__always)
    private func sigmoid(_ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, _ count: Int) {
        if Scalar.isFloat { return nabla_sigmoid_f32(x.assuming(Float.self), y.assuming(Float.self), count) }
        for i in 0..<count {
            let v = x[i]
            y[i] = v >= 0 ? 1 / (1 + .exp(-v)) : .exp(v) / (1 + .exp(v))
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let (x, y) = (call.inputs[0], call.output)
        switch function {
        case .negate: return [-g]
        case .exp: return [g * y]
        case .log: return [g / x]
        case .squareRoot: return [g / (2 * y)]
        case .square: return [2 * g * x]
        case .absoluteValue: return [g * sign(x)]
        case .sign: return [Tensor(zeros: x.shape)]
        case .power(let exponent): return [g * exponent * pow(x, exponent - 1)]
        case .clamp(let lower, let upper): return [Tensor.where((x .>= lower) * (x .<= upper), g, Tensor(0))]
        case .sigmoid: return [ActivationDerivative(function: .sigmoid, count: count)([y, g], shape: y.shape)]
        case .tanh: return [ActivationDerivative(function: .tanh, count: count)([y, g], shape: y.shape)]
        case .relu: return [ActivationDerivative(function: .relu, count: count)([y, g], shape: y.shape)]
        }
    }
}

/// The gradient of an activation from its output y and upstream gradient g, in one pass: each
/// derivative is written in terms of y (or, for ReLU, its sign), so f is never evaluated again.
struct ActivationDerivative<Scalar: TensorScalar>: TensorOperation {
    enum Function { case sigmoid, tanh, relu }
    let function: Function
    let count: Int

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (y, g, dx) = (buffers.input(0), buffers.input(1), buffers.output)
        forEachChunk(count, (function, y, g, dx)) { operands, chunk in
            let (function, y, g, dx) = operands
            switch function {
            case .sigmoid: for i in chunk { dx[i] = g[i] * y[i] * (1 - y[i]) }
            case .tanh: for i in chunk { dx[i] = g[i] * (1 - y[i] * y[i]) }
            case .relu:
                let (y, g, dx) = (y + chunk.lowerBound, g + chunk.lowerBound, dx + chunk.lowerBound)
                if Scalar.isFloat {
                    nabla_relu_gradient_f32(y.assuming(Float.self), g.assuming(Float.self), dx.assuming(Float.self), chunk.count)
                } else {
                    nabla_relu_gradient_f64(y.assuming(Double.self), g.assuming(Double.self), dx.assuming(Double.self), chunk.count)
                }
            }
        }
    }

    /// The second derivative, for gradients of gradients: with dx = g·f′(y), ∂/∂g is this op
    /// again, and ∂/∂y is g·∂f′/∂y (sigmoid: 1 − 2y; tanh: −2y; ReLU: 0).
    func gradients(_ u: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let (y, g) = (call.inputs[0], call.inputs[1])
        let dy: Tensor<Scalar>? = switch function {
        case .sigmoid: u * g * (1 - 2 * y)
        case .tanh: -2 * u * g * y
        case .relu: nil
        }
        return [call.needsGradient(0) ? dy : nil, call.needsGradient(1) ? self([y, u], shape: y.shape) : nil]
    }
}

extension Tensor {
    /// Applies an element-wise function.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func applying(_ function: ElementwiseFunction<Scalar>.Function) -> Tensor {
        ElementwiseFunction(function, count: count)([self], shape: shape)
    }

    /// Each element squared.
    public func squared() -> Tensor { applying(.square) }
}

/// eˣ, element-wise.
public func exp<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.applying(.exp) }

/// The natural logarithm, element-wise.
public func log<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.applying(.log) }

/// The square root, element-wise.
public func sqrt<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.applying(.squareRoot) }

/// Each element raised to the power `exponent`.
public func pow<Scalar>(_ x: Tensor<Scalar>, _ exponent: Scalar) -> Tensor<Scalar> { x.applying(.power(exponent)) }

/// The absolute value, element-wise; the gradient at 0 is taken as 0.
public func abs<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.applying(.absoluteValue) }

/// The sign of each element: −1, 0 or 1 (NaN stays NaN). Its gradient is zero.
public func sign<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.applying(.sign) }
