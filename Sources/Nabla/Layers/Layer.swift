/// A differentiable function from one tensor to another, possibly with trainable parameters:
/// the ``Module`` that ``Sequential`` composes, a trainer trains and a data set evaluates.
///
/// A layer is its forward pass and nothing else. Gradients come from the ops it uses; its
/// parameters are the `@Parameter` properties that ``Module/parameters`` finds by reflection.
///
/// ```swift
/// struct Affine: Layer {
///     @Parameter var weight: Tensor<Double>
///     @Parameter var bias: Tensor<Double>
///     func callAsFunction(_ x: Tensor<Double>) -> Tensor<Double> {
///         matmul(x, weight) + bias
///     }
/// }
/// ```
///
/// A module that takes or returns several tensors (an LSTM cell, attention with a mask)
/// conforms to ``Module`` instead and declares whatever `callAsFunction` it needs.
public protocol Layer<Scalar>: Module {
    /// The layer's scalar type, restated so that Swift infers it from ``callAsFunction(_:)``, as
    /// it did before modules had their own protocol.
    associatedtype Scalar

    /// The forward pass.
    func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar>
}
