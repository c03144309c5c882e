/// σ(x) = 1 / (1 + e⁻ˣ), element-wise: the book's neuron.
public struct Sigmoid<Scalar: TensorScalar>: Layer {
    /// Creates the layer.
    public init() {}
    /// Applies ``sigmoid(_:)``.
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> { sigmoid(input) }
}

/// The hyperbolic tangent, element-wise.
public struct Tanh<Scalar: TensorScalar>: Layer {
    /// Creates the layer.
    public init() {}
    /// Applies ``tanh(_:)``.
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> { tanh(input) }
}

/// max(0, x), element-wise.
public struct ReLU<Scalar: TensorScalar>: Layer {
    /// Creates the layer.
    public init() {}
    /// Applies ``relu(_:)``.
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> { relu(input) }
}

/// Softmax along the last axis: each row of a [batch, classes] tensor becomes probabilities.
public struct Softmax<Scalar: TensorScalar>: Layer {
    /// Creates the layer.
    public init() {}
    /// Applies ``softmax(_:alongAxis:)``.
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> { softmax(input) }
}

/// x·Φ(x), element-wise: the transformer's activation; see ``gelu(_:approximation:)``.
public struct GELU<Scalar: TensorScalar>: Layer {
    /// Exact, or GPT-2's tanh form.
    public let approximation: GELUApproximation
    /// Creates the layer (by default exact, as PyTorch's `nn.GELU()`).
    public init(approximation: GELUApproximation = .none) { self.approximation = approximation }
    /// Applies ``gelu(_:approximation:)``.
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> { gelu(input, approximation: approximation) }
    /// The approximation: `none` or `tanh`.
    public var moduleDescription: ModuleDescription {
        ModuleDescription(of: self, settings: ["approximation": .choice(approximation)])
    }
}
