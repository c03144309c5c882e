import RealModule

// Each pullback is one fused loop over the upstream gradient and a saved value.

/// eˣ, element-wise.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func exp<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    let y = x.map { .exp($0) }
    return y.recorded(from: x) { g in g.zipMap(y, *) }
}

/// The natural logarithm, element-wise.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func log<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    let input = x.detached
    return x.map { .log($0) }.recorded(from: x) { g in g.zipMap(input, /) }
}

/// The square root, element-wise.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func sqrt<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    let y = x.map { $0.squareRoot() }
    return y.recorded(from: x) { g in g.zipMap(y) { g, y in g / (2 * y) } }
}

/// Each element raised to the power `exponent`.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func pow<Scalar>(_ x: Tensor<Scalar>, _ exponent: Scalar) -> Tensor<Scalar> {
    let input = x.detached
    return x.map { .pow($0, exponent) }.recorded(from: x) { g in
        g.zipMap(input) { g, x in g * exponent * .pow(x, exponent - 1) }
    }
}

extension Tensor {
    /// Each element squared.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func squared() -> Tensor {
        let input = detached
        return map { $0 * $0 }.recorded(from: self) { g in g.zipMap(input) { g, x in 2 * g * x } }
    }
}

/// The absolute value, element-wise; the gradient at 0 is taken as 0.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func abs<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    let input = x.detached
    return x.map { Swift.abs($0) }.recorded(from: x) { g in
        g.zipMap(input) { g, x in x > 0 ? g : (x < 0 ? -g : 0) }
    }
}
