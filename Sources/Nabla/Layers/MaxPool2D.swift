/// Max pooling over NCHW images; see ``Tensor/maxPool2d(_:kernelSize:stride:)``.
///
/// ```swift
/// MaxPool2D<Float>(kernelSize: 2)      // [n, 20, 24, 24] → [n, 20, 12, 12]
/// ```
public struct MaxPool2D<Scalar: TensorScalar>: Layer {
    /// The window's side.
    public let kernelSize: Int
    /// How far the window moves: by default its own side, so windows tile the image.
    public let stride: Int

    /// Creates the layer.
    public init(kernelSize: Int, stride: Int? = nil) {
        check(kernelSize > 0 && (stride ?? 1) > 0, "MaxPool2D: kernel size \(kernelSize) and stride \(stride ?? kernelSize) must be positive")
        (self.kernelSize, self.stride) = (kernelSize, stride ?? kernelSize)
    }

    /// The maximum of each window.
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        maxPool2d(input, kernelSize: kernelSize, stride: stride)
    }

    /// The window's side and stride.
    public var moduleDescription: ModuleDescription {
        ModuleDescription(of: self, settings: ["kernelSize": .integer(kernelSize), "stride": .integer(stride)])
    }
}
