/// The logistic function σ(x) = 1 / (1 + e⁻ˣ), element-wise; σ′ = σ(1 − σ).
///
/// Float runs a vectorised kernel (relative error about 2e-7); Double is exact to libm.
public func sigmoid<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.applying(.sigmoid) }

/// The hyperbolic tangent, element-wise; tanh′ = 1 − tanh².
public func tanh<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.applying(.tanh) }

/// max(0, x), element-wise; the gradient at 0 is taken as 0. NaN stays NaN.
public func relu<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> { x.applying(.relu) }

/// log(softmax(x)) along `axis`, computed as x − max − log Σ e^(x − max), which stays finite
/// where the naive form would take the logarithm of 0.
public func logSoftmax<Scalar>(_ x: Tensor<Scalar>, alongAxis axis: Int = -1) -> Tensor<Scalar> {
    let shifted = x - x.max(alongAxis: axis, keepingDimension: true).detached
    return shifted - log(exp(shifted).sum(alongAxis: axis, keepingDimension: true))
}
