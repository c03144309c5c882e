/// A fully connected layer: z = x·Wᵀ + b for inputs x of shape [..., inputSize] — a batch of
/// rows, a batch of sequences, a single row — giving [..., outputSize].
///
/// `weight` has shape [outputSize, inputSize], the book's w_jk (row j feeds output neuron j) and
/// PyTorch's layout; `bias` has shape [outputSize], or is absent in a layer made with
/// `bias: false` (z = x·Wᵀ, as nanoGPT's `bias=False`).
public struct Dense<Scalar: TensorScalar>: Layer {
    /// The weights, [outputSize, inputSize].
    @Parameter public var weight: Tensor<Scalar>
    /// The biases, [outputSize], or nil in a layer without biases.
    @OptionalParameter public var bias: Tensor<Scalar>?

    /// Creates a layer with weights and biases drawn from the given initializers (by default the
    /// book's N(0, 1) for both), or without biases when `bias` is false.
    public init(
        inputSize: Int, outputSize: Int, bias: Bool = true,
        weightInitializer: Initializer<Scalar> = .standardNormal,
        biasInitializer: Initializer<Scalar> = .standardNormal,
        using rng: inout SeededGenerator
    ) {
        check(inputSize > 0 && outputSize > 0, "Dense: sizes \(inputSize) → \(outputSize) must be positive")
        // Biases first, then weights: the order the book's network.py draws them in.
        let biases = bias ? biasInitializer.make([outputSize], inputSize, outputSize, &rng) : nil
        weight = weightInitializer.make([outputSize, inputSize], inputSize, outputSize, &rng)
        self.bias = biases
    }

    /// Creates a layer from given values (no bias when `bias` is nil).
    public init(weight: Tensor<Scalar>, bias: Tensor<Scalar>?) {
        check(weight.rank == 2 && (bias == nil || bias!.shape == [weight.shape[0]]),
              "Dense: weight \(weight.shape) and bias \(bias?.shape ?? []) do not fit ([out, in] and [out])")
        self.weight = weight
        self.bias = bias
    }

    /// x·Wᵀ + b, over the last dimension of x.
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        linear(input, weight: weight, bias: bias, layer: "Dense")
    }
}

/// x·Wᵀ + b over the last dimension of x, for any rank: what ``Dense`` and the recurrent layers'
/// gate products compute.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func linear<Scalar>(_ input: Tensor<Scalar>, weight: Tensor<Scalar>, bias: Tensor<Scalar>?, layer: String) -> Tensor<Scalar> {
    check(input.rank >= 1 && input.shape[input.rank - 1] == weight.shape[1],
          "\(layer): input \(input.shape) does not fit weight \(weight.shape): expected [..., \(weight.shape[1])]")
    // Any rank but 2: the leading dimensions as one batch of rows, and back (both views).
    let rows = input.rank == 2 ? input : input.reshaped(to: [-1, weight.shape[1]])
    let output = bias.map { Tensor.affine(rows, weight: weight, bias: $0) } ?? matmul(rows, weight, transposingB: true)
    return input.rank == 2 ? output : output.reshaped(to: input.shape.dropLast() + [weight.shape[0]])
}
