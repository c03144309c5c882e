/// Flattens each example to a row: [batch, d₁, d₂, …] → [batch, d₁·d₂·…], as a view (nothing is
/// copied). It joins convolutional layers to fully connected ones.
public struct Flatten<Scalar: TensorScalar>: Layer {
    /// Creates the layer.
    public init() {}

    /// The input with every dimension after the first joined.
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        check(input.rank >= 1, "Flatten: a scalar has no batch dimension to keep")
        return input.reshaped(to: [input.shape[0], input.shape.dropFirst().reduce(1, *)])
    }
}
