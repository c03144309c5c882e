/// A 2-D convolution layer over NCHW images: [batch, inputChannels, h, w] →
/// [batch, outputChannels, h′, w′]; see ``Tensor/conv2d(_:weight:bias:stride:padding:)``.
///
/// `weight` is [outputChannels, inputChannels, kernelSize, kernelSize] and `bias`
/// [outputChannels]: PyTorch's layout and parameter names, so that a checkpoint's tensors mean
/// the same in both.
///
/// ```swift
/// Conv2D<Float>(inputChannels: 1, outputChannels: 20, kernelSize: 5, using: &rng)   // 28×28 → 24×24
/// ```
public struct Conv2D<Scalar: TensorScalar>: Layer {
    /// The filters, [outputChannels, inputChannels, kernelHeight, kernelWidth].
    @Parameter public var weight: Tensor<Scalar>
    /// One bias per output channel.
    @Parameter public var bias: Tensor<Scalar>
    /// How far the kernel moves between outputs.
    public let stride: Int
    /// Zeros added on every side of the image.
    public let padding: Int

    /// Creates a layer with square `kernelSize` filters, weights then biases drawn from the
    /// initializers with fan-in inputChannels·k² and fan-out outputChannels·k² (by default the
    /// book's chapter 3 choice: weights N(0, 1/fan-in), biases N(0, 1)).
    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        weightInitializer: Initializer<Scalar> = .scaledNormal,
        biasInitializer: Initializer<Scalar> = .standardNormal,
        using rng: inout SeededGenerator
    ) {
        check(inputChannels > 0 && outputChannels > 0 && kernelSize > 0,
              "Conv2D: channels \(inputChannels) → \(outputChannels) and kernel size \(kernelSize) must be positive")
        check(stride > 0 && padding >= 0, "Conv2D: stride \(stride) must be positive and padding \(padding) not negative")
        let area = kernelSize * kernelSize
        weight = weightInitializer.make([outputChannels, inputChannels, kernelSize, kernelSize],
                                        inputChannels * area, outputChannels * area, &rng)
        bias = biasInitializer.make([outputChannels], inputChannels * area, outputChannels * area, &rng)
        (self.stride, self.padding) = (stride, padding)
    }

    /// Creates a layer from given values.
    public init(weight: Tensor<Scalar>, bias: Tensor<Scalar>, stride: Int = 1, padding: Int = 0) {
        check(weight.rank == 4 && bias.shape == [weight.shape[0]],
              "Conv2D: weight \(weight.shape) and bias \(bias.shape) do not fit ([out, in, kh, kw] and [out])")
        check(stride > 0 && padding >= 0, "Conv2D: stride \(stride) must be positive and padding \(padding) not negative")
        (self.weight, self.bias, self.stride, self.padding) = (weight, bias, stride, padding)
    }

    /// The convolution plus bias.
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        conv2d(input, weight: weight, bias: bias, stride: stride, padding: padding)
    }

    /// The shapes, with the stride and padding.
    public var moduleDescription: ModuleDescription {
        ModuleDescription(of: self, settings: ["stride": .integer(stride), "padding": .integer(padding)])
    }
}
