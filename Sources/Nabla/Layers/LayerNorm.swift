/// Layer normalisation (Ba, Kiros and Hinton, 2016): each vector along the last axis is shifted
/// to mean 0 and scaled to variance 1, then multiplied by a learned gain and shifted by a
/// learned bias — y = (x − mean) / √(variance + ε) · weight + bias, PyTorch's `nn.LayerNorm`.
///
/// Unlike batch normalisation it looks at one token's vector at a time, so it behaves the same
/// in training and inference and for any batch. The variance is the biased one (divided by n),
/// as PyTorch's. Normalisation, gain and bias are one op (``layerNorm(_:weight:bias:epsilon:)``).
///
/// ```swift
/// LayerNorm<Float>(size: 128)                 // gain and bias
/// LayerNorm<Float>(size: 128, bias: false)    // nanoGPT's bias=False
/// ```
public struct LayerNorm<Scalar: TensorScalar>: Layer {
    /// The gain, [size], initially ones.
    @Parameter public var weight: Tensor<Scalar>
    /// The bias, [size], initially zeros; nil in a layer made without one.
    @OptionalParameter public var bias: Tensor<Scalar>?
    /// Added to the variance before the square root, so a constant vector does not divide by 0.
    public let epsilon: Scalar

    /// Creates a layer over vectors of `size` elements.
    public init(size: Int, bias: Bool = true, epsilon: Scalar = 1e-5) {
        check(size > 0, "LayerNorm: size \(size) must be positive")
        weight = Tensor(ones: [size])
        self.bias = bias ? Tensor(zeros: [size]) : nil
        self.epsilon = epsilon
    }

    /// Normalises along the last axis: [..., size] → [..., size].
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let weight = self.weight
        check(input.rank >= 1 && input.shape.last == weight.count,
              "LayerNorm: input \(input.shape) does not fit size \(weight.count): expected [..., \(weight.count)]")
        return layerNorm(input, weight: weight, bias: bias, epsilon: epsilon)
    }

    /// The shapes, with ε.
    public var moduleDescription: ModuleDescription { ModuleDescription(of: self, settings: ["epsilon": .scalar(epsilon)]) }
}
