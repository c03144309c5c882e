/// A fully connected layer: z = x·Wᵀ + b for inputs x of shape [..., inputSize] — a batch of
/// rows, a batch of sequences, a single row — giving [..., outputSize].
///
/// `weight` has shape [outputSize, inputSize], the book's w_jk (row j feeds output neuron j) and
/// PyTorch's layout; `bias` has shape [outputSize].
public struct Dense<Scalar: TensorScalar>: Layer {
    /// The weights, [outputSize, inputSize].
    @Parameter public var weight: Tensor<Scalar>
    /// The biases, [outputSize].
    @Parameter public var bias: Tensor<Scalar>

    /// Creates a layer with weights and biases drawn from the given initializers (by default the
    /// book's N(0, 1) for both).
    public init(
        inputSize: Int, outputSize: Int,
        weightInitializer: Initializer<Scalar> = .standardNormal,
        biasInitializer: Initializer<Scalar> = .standardNormal,
        using rng: inout SeededGenerator
    ) {
        check(inputSize > 0 && outputSize > 0, "Dense: sizes \(inputSize) → \(outputSize) must be positive")
        // Biases first, then weights: the order the book's network.py draws them in.
        let bias = biasInitializer.make([outputSize], inputSize, outputSize, &rng)
        weight = weightInitializer.make([outputSize, inputSize], inputSize, outputSize, &rng)
        self.bias = bias
    }

    /// Creates a layer from given values.
    public init(weight: Tensor<Scalar>, bias: Tensor<Scalar>) {
        check(weight.rank == 2 && bias.shape == [weight.shape[0]],
              "Dense: weight \(weight.shape) and bias \(bias.shape) do not fit ([out, in] and [out])")
        self.weight = weight
        self.bias = bias
    }

    /// x·Wᵀ + b, over the last dimension of x.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let (weight, bias) = (self.weight, self.bias)
        check(input.rank >= 1 && input.shape[input.rank - 1] == weight.shape[1],
              "Dense: input \(input.shape) does not fit weight \(weight.shape): expected [..., \(weight.shape[1])]")
        if input.rank == 2 { return Tensor.affine(input, weight: weight, bias: bias) }
        // Any other rank: the leading dimensions as one batch of rows, and back (both views).
        let rows = input.reshaped(to: [-1, weight.shape[1]])
        return Tensor.affine(rows, weight: weight, bias: bias).reshaped(to: input.shape.dropLast() + [weight.shape[0]])
    }
}
