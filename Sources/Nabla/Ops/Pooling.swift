extension Tensor {
    /// The maximum over each `kernelSize`×`kernelSize` window of each channel of a batch of
    /// NCHW images, the window moving by `stride` (by default its own size, so windows tile the
    /// image). A window that would hang over the far edge is dropped, as in PyTorch and the
    /// book's `max_pool_2d(ignore_border=True)`: [n, c, h, w] → [n, c, ⌊(h − k)/s⌋ + 1, ⌊(w − k)/s⌋ + 1].
    ///
    /// The gradient flows to the first largest element of each window (ties go to the first in
    /// row-major order); a NaN counts as largest, so it propagates, as in PyTorch.
    ///
    /// ```swift
    /// let pooled = maxPool2d(maps, kernelSize: 2)        // [10, 20, 24, 24] → [10, 20, 12, 12]
    /// ```
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func maxPool2d(_ input: Tensor, kernelSize: Int, stride: Int? = nil) -> Tensor {
        let stride = stride ?? kernelSize
        check(input.rank == 4, "maxPool2d: input \(input.shape) must be [batch, channels, height, width]")
        check(kernelSize > 0 && stride > 0, "maxPool2d: kernel size \(kernelSize) and stride \(stride) must be positive")
        guard let window = SlidingWindow(over: input.shape, kernelHeight: kernelSize, kernelWidth: kernelSize,
                                         stride: stride, padding: 0) else {
            fatalError("maxPool2d: input \(input.shape): the \(kernelSize)×\(kernelSize) window is larger than the image")
        }
        return MaxPooling<Scalar>(window: window)(
            [input], shape: [window.batch, window.channels, window.outputHeight, window.outputWidth])
    }
}

/// The maximum over each window of each channel; see ``Tensor/maxPool2d(_:kernelSize:stride:)``.
public func maxPool2d<Scalar>(_ input: Tensor<Scalar>, kernelSize: Int, stride: Int? = nil) -> Tensor<Scalar> {
    Tensor.maxPool2d(input, kernelSize: kernelSize, stride: stride)
}

/// Max pooling. Its gradient finds each window's winner again, as the first element equal to
/// the output, rather than storing it: nothing saved, and the search costs what the forward
/// pass's did.
struct MaxPooling<Scalar: TensorScalar>: TensorOperation {
    let window: SlidingWindow

    var name: String { "maxPool2d" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y, w) = (buffers.input(0), buffers.output, window)
        forEachChunk(w.batch * w.channels, unitSize: w.inputPlane, (x, y, w)) { operands, planes in
            let (x, y, w) = operands
            w.maxPool(planes: planes.count, x + planes.lowerBound * w.inputPlane, into: y + planes.lowerBound * w.outputPlane)
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        [MaxPoolingGradient(window: window)([g, call.inputs[0], call.output], shape: call.inputs[0].shape)]
    }
}

/// Max pooling's gradient from (g, x, y): each g added onto its window's winning element.
/// It has no gradient of its own: max pooling is not twice differentiable.
struct MaxPoolingGradient<Scalar: TensorScalar>: TensorOperation {
    let window: SlidingWindow

    var name: String { "maxPool2d gradient" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (g, x, y, dx, w) = (buffers.input(0), buffers.input(1), buffers.input(2), buffers.output, window)
        forEachChunk(w.batch * w.channels, unitSize: w.inputPlane, (g, x, y, dx, w)) { operands, planes in
            let (g, x, y, dx, w) = operands
            let (input, output) = (planes.lowerBound * w.inputPlane, planes.lowerBound * w.outputPlane)
            w.maxPoolGradient(planes: planes.count, x + input, y + output, g + output, into: dx + input)
        }
    }
}
