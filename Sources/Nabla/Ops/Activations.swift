import RealModule

/// The logistic function σ(x) = 1 / (1 + e⁻ˣ), element-wise; σ′ = σ(1 − σ).
///
/// Float runs a vectorised kernel (relative error about 2e-7); Double is exact to libm.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func sigmoid<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    Activation<Scalar>(function: .sigmoid, count: x.count)([x], shape: x.shape)
}

/// The hyperbolic tangent, element-wise; tanh′ = 1 − tanh².
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func tanh<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    Activation<Scalar>(function: .tanh, count: x.count)([x], shape: x.shape)
}

/// max(0, x), element-wise; the gradient at 0 is taken as 0.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func relu<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    Activation<Scalar>(function: .relu, count: x.count)([x], shape: x.shape)
}

/// An element-wise activation y = f(x). Each derivative is written in terms of the output y
/// (or, for ReLU, its sign), so the backward pass needs no second evaluation of f.
struct Activation<Scalar: TensorScalar>: Primitive {
    enum Function { case sigmoid, tanh, relu }
    let function: Function
    let count: Int

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ inputs: PrimitiveInputs<Scalar>, into y: UnsafeMutablePointer<Scalar>) {
        let x = inputs[0]
        // Large tensors (an evaluation batch) are split over the cores.
        forEachChunk(count) { chunk in
            let (x, y, n) = (x + chunk.lowerBound, y + chunk.lowerBound, chunk.count)
            switch function {
            case .sigmoid: Scalar.sigmoid(x, into: y, count: n)
            case .tanh: for i in 0..<n { y[i] = .tanh(x[i]) }
            case .relu: for i in 0..<n { y[i] = Swift.max(x[i], 0) }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func backward(
        input _: Int, _ inputs: PrimitiveInputs<Scalar>, output y: UnsafePointer<Scalar>,
        upstream g: UnsafePointer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        forEachChunk(count) { chunk in
            switch function {
            case .sigmoid: for i in chunk { gradient[i] = g[i] * y[i] * (1 - y[i]) }
            case .tanh: for i in chunk { gradient[i] = g[i] * (1 - y[i] * y[i]) }
            case .relu: for i in chunk { gradient[i] = y[i] > 0 ? g[i] : 0 }
            }
        }
    }
}

/// eˣ normalised to sum to 1 along `axis` (default: the last).
///
/// Composed from primitives, so its gradient comes for free. Subtracting the maximum first
/// keeps e^x finite for any input; softmax does not change under that shift, so the maximum is
/// treated as a constant.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func softmax<Scalar>(_ x: Tensor<Scalar>, alongAxis axis: Int = -1) -> Tensor<Scalar> {
    let e = exp(x - x.max(alongAxis: axis, keepingDimension: true).detached)
    return e / e.sum(alongAxis: axis, keepingDimension: true)
}

/// log(softmax(x)) along `axis`, computed as x − max − log Σ e^(x − max), which stays finite
/// where the naive form would take the logarithm of 0.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func logSoftmax<Scalar>(_ x: Tensor<Scalar>, alongAxis axis: Int = -1) -> Tensor<Scalar> {
    let shifted = x - x.max(alongAxis: axis, keepingDimension: true).detached
    return shifted - log(exp(shifted).sum(alongAxis: axis, keepingDimension: true))
}
