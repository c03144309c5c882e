/// Layers applied one after another.
///
/// ```swift
/// let model = Sequential<Float> {
///     Dense(inputSize: 784, outputSize: 30, using: &rng)
///     Sigmoid()
///     for _ in 0..<extraLayers { Dense(inputSize: 30, outputSize: 30, using: &rng); Sigmoid() }
///     if useSoftmax { Softmax() }
/// }
/// ```
///
/// Parameters are named by position: `0.weight`, `0.bias`, `2.weight`, …
public struct Sequential<Scalar: TensorScalar>: Layer {
    /// The layers, in order.
    public let layers: [any Layer<Scalar>]

    /// The parameters, named by layer position, found once: `layers` cannot change, and each
    /// parameter is a shared object whose value, not identity, training updates. This keeps
    /// reflection out of the training step.
    public let parameters: [NamedParameter<Scalar>]

    /// The layers' states, named by layer position, found once.
    public let states: [NamedState<Scalar>]

    /// Builds the list of layers with ``LayerBuilder``.
    public init(@LayerBuilder<Scalar> _ layers: () -> [any Layer<Scalar>]) {
        self.init(layers: layers())
    }

    /// Wraps a list of layers.
    public init(layers: [any Layer<Scalar>]) {
        self.layers = layers
        self.parameters = uniqued(layers.enumerated().flatMap { index, layer in
            layer.parameters.map { NamedParameter(name: "\(index).\($0.name)", parameter: $0.parameter) }
        }) { $0.parameter }
        self.states = uniqued(layers.enumerated().flatMap { index, layer in
            layer.states.map { NamedState(name: "\(index).\($0.name)", state: $0.state) }
        }) { $0.state }
    }

    /// Applies each layer to the previous one's output.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        layers.reduce(input) { x, layer in layer(x) }
    }

    /// The layers, named by position.
    public var moduleDescription: ModuleDescription {
        ModuleDescription(kind: "Sequential", children: layers.enumerated().map { index, layer in
            ModuleDescription.Child(name: String(index), module: layer.moduleDescription)
        })
    }
}

/// The result builder behind ``Sequential``: a list of layers, with `if`, `if`/`else` and `for`.
@resultBuilder
public enum LayerBuilder<Scalar: TensorScalar> {
    /// One layer.
    public static func buildExpression<L: Layer>(_ layer: L) -> [any Layer<Scalar>] where L.Scalar == Scalar {
        [layer]
    }

    /// Consecutive layers.
    public static func buildBlock(_ parts: [any Layer<Scalar>]...) -> [any Layer<Scalar>] {
        parts.flatMap { $0 }
    }

    /// An `if` without `else`.
    public static func buildOptional(_ part: [any Layer<Scalar>]?) -> [any Layer<Scalar>] {
        part ?? []
    }

    /// The `if` branch of an `if`/`else`.
    public static func buildEither(first part: [any Layer<Scalar>]) -> [any Layer<Scalar>] { part }

    /// The `else` branch of an `if`/`else`.
    public static func buildEither(second part: [any Layer<Scalar>]) -> [any Layer<Scalar>] { part }

    /// A `for` loop.
    public static func buildArray(_ parts: [[any Layer<Scalar>]]) -> [any Layer<Scalar>] {
        parts.flatMap { $0 }
    }
}
