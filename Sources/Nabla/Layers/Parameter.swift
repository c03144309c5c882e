/// Marks a layer's stored tensor as trainable.
///
/// ```swift
/// struct Scale: Layer {
///     @Parameter var factor = Tensor<Float>(ones: [10])
///     func callAsFunction(_ x: Tensor<Float>) -> Tensor<Float> { x * factor }
/// }
/// ```
///
/// That is all a custom layer declares: ``Module/parameters`` finds every `@Parameter` by
/// reflection, named after its property (`factor`, or `0.factor` inside a ``Sequential``), and
/// differentiation and optimizers use those names. A plain `Tensor` property in a layer is
/// reported as an error rather than silently left untrained: mark it `@Parameter`, or
/// ``Constant`` if it is meant to stay fixed.
///
/// The wrapper is a class, so a layer's parameters are shared by its copies: a model is one set
/// of weights however it is passed around, and an optimizer updates it in place.
///
/// Differentiating never changes it: while a function of the model is differentiated, reading
/// the parameter on that thread gives the tracked value standing in for it (see
/// ``valueWithGradient(at:in:)->(Tensor<Model.Scalar>,_)``), and every other thread still reads
/// the parameter itself.
@propertyWrapper
public final class Parameter<Scalar: TensorScalar> {
    private var value: Tensor<Scalar>

    /// The parameter's current value (or, inside a differentiation of it on this thread, the
    /// tracked value standing in for it).
    public var wrappedValue: Tensor<Scalar> {
        get { Substitution<Scalar>.current?.value(for: self) ?? value }
        set { value = newValue }
        _modify { yield &value }
    }

    /// Wraps an initial value.
    public init(wrappedValue: Tensor<Scalar>) {
        value = wrappedValue
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

/// Marks a layer's stored tensor as state: not trained, but part of the model — running
/// statistics, a step counter — saved and loaded by checkpoints with the parameters.
///
/// A layer updates its state in place during its forward pass, through an op
/// (``update(_:reading:)``), so that a replayed training step updates it exactly as the eager
/// step does. Like ``Parameter``, the wrapper is a class shared by the layer's copies.
@propertyWrapper
public final class LayerState<Scalar: TensorScalar> {
    private var value: Tensor<Scalar>

    /// The state's current value.
    public var wrappedValue: Tensor<Scalar> {
        get { value }
        set { value = newValue }
        _modify { yield &value }
    }

    /// Wraps an initial value.
    public init(wrappedValue: Tensor<Scalar>) {
        value = wrappedValue
    }

    /// The wrapper itself (`$count`), to update the state.
    public var projectedValue: LayerState<Scalar> { self }

    /// Runs `op` in place on the state, reading it and then `inputs` (see
    /// ``TensorOperation/update(_:with:reading:)``).
    public func update(_ op: some TensorOperation<Scalar>, reading inputs: [Tensor<Scalar>] = []) {
        var none: [Tensor<Scalar>] = []
        op.update(&value, with: &none, reading: inputs)
    }
}

/// Marks a trainable tensor a layer may be made without — a bias, in layers that can leave it
/// out (`Dense(…, bias: false)`, `LayerNorm(…, bias: false)`, as nanoGPT's `bias=False`).
///
/// A present value is a ``Parameter`` in every way (found, named after the property, trained,
/// saved); an absent one is simply not there: not a zero tensor that would be saved and
/// decayed.
@propertyWrapper
public final class OptionalParameter<Scalar: TensorScalar> {
    /// The parameter, when the layer has one.
    public private(set) var parameter: Parameter<Scalar>?

    /// The value (the tracked stand-in inside a differentiation, as for ``Parameter``), or nil.
    public var wrappedValue: Tensor<Scalar>? {
        get { parameter?.wrappedValue }
        set {
            switch (newValue, parameter) {
            case (nil, _): parameter = nil
            case (let value?, let existing?): existing.wrappedValue = value
            case (let value?, nil): parameter = Parameter(wrappedValue: value)
            }
        }
    }

    /// Wraps an initial value, or its absence.
    public init(wrappedValue: Tensor<Scalar>?) {
        parameter = wrappedValue.map { Parameter(wrappedValue: $0) }
    }

    /// The parameter itself (`$bias`), when there is one.
    public var projectedValue: Parameter<Scalar>? { parameter }
}
