/// Marks a layer's stored tensor as trainable.
///
/// ```swift
/// struct Scale: Layer {
///     @Parameter var factor = Tensor<Float>(ones: [10])
///     func callAsFunction(_ x: Tensor<Float>) -> Tensor<Float> { x * factor }
/// }
/// ```
///
/// That is all a custom layer declares: ``Layer/parameters`` finds every `@Parameter` by
/// reflection, named after its property (`factor`, or `0.factor` inside a ``Sequential``), and
/// differentiation and optimizers use those names. A plain `Tensor` property in a layer is
/// reported as an error rather than silently left untrained: mark it `@Parameter`, or
/// ``Constant`` if it is meant to stay fixed.
///
/// The wrapper is a class, so a layer's parameters are shared by its copies: a model is one set
/// of weights however it is passed around, and an optimizer updates it in place.
@propertyWrapper
public final class Parameter<Scalar: TensorScalar> {
    /// The parameter's current value.
    public var wrappedValue: Tensor<Scalar>

    /// Wraps an initial value.
    public init(wrappedValue: Tensor<Scalar>) {
        self.wrappedValue = wrappedValue
    }

    /// The wrapper itself (`$weight`), for code that needs the parameter's identity.
    public var projectedValue: Parameter<Scalar> { self }
}

/// Marks a layer's stored tensor as deliberately fixed: not trained, and not reported as a
/// forgotten ``Parameter``.
@propertyWrapper
public struct Constant<Scalar: TensorScalar> {
    /// The constant value.
    public var wrappedValue: Tensor<Scalar>

    /// Wraps a value.
    public init(wrappedValue: Tensor<Scalar>) {
        self.wrappedValue = wrappedValue
    }
}
