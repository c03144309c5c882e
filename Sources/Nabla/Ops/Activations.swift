import RealModule

/// The logistic function σ(x) = 1 / (1 + e⁻ˣ), element-wise; σ′ = σ(1 − σ).
///
/// Float runs a vectorised kernel (relative error about 2e-7); Double is exact to libm.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func sigmoid<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    let values = [Scalar](unsafeUninitializedCapacity: x.count) { out, initialized in
        x.scalars.withUnsafeBufferPointer { input in
            forEachChunk(input.count) { chunk in
                Scalar.sigmoid(input.baseAddress! + chunk.lowerBound, into: out.baseAddress! + chunk.lowerBound,
                               count: chunk.count)
            }
        }
        initialized = x.count
    }
    let y = Tensor(shape: x.shape, unchecked: values)
    guard x.isTracked else { return y }  // evaluation: no pullback formed
    return y.recorded(from: x) { g in g.zipMap(y) { g, y in g * y * (1 - y) } }
}

/// The hyperbolic tangent, element-wise; tanh′ = 1 − tanh².
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func tanh<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    let y = x.map { .tanh($0) }
    return y.recorded(from: x) { g in g.zipMap(y) { g, y in g * (1 - y * y) } }
}

/// max(0, x), element-wise; the gradient at 0 is taken as 0.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func relu<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    let input = x.detached
    return x.map { Swift.max($0, 0) }.recorded(from: x) { g in
        g.zipMap(input) { g, x in x > 0 ? g : 0 }
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
