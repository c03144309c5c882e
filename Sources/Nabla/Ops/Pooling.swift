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

/// Max pooling. It saves, for each output, which element of its window won (ky·k + kx, a small
/// integer, exact in any scalar type), and its gradient sends each upstream value there.
struct MaxPooling<Scalar: TensorScalar>: TensorOperation {
    let window: SlidingWindow

    var name: String { "maxPool2d" }
    var savedCount: Int { window.batch * window.channels * window.outputPlane }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, y, winners, w) = (buffers.input(0), buffers.output, buffers.saved, window)
        for plane in 0..<(w.batch * w.channels) {
            let (input, base) = (x + plane * w.inputPlane, plane * w.outputPlane)
            for oy in 0..<w.outputHeight {
                for ox in 0..<w.outputWidth {
                    let corner = input + oy * w.stride * w.width + ox * w.stride
                    var (best, winner) = (corner[0], 0)
                    search: for ky in 0..<w.kernelHeight {
                        for kx in 0..<w.kernelWidth {
                            let value = corner[ky * w.width + kx]
                            if value > best || value.isNaN {
                                (best, winner) = (value, ky * w.kernelWidth + kx)
                                if value.isNaN { break search }
                            }
                        }
                    }
                    y[base + oy * w.outputWidth + ox] = best
                    winners[base + oy * w.outputWidth + ox] = Scalar(winner)
                }
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        [MaxPoolingGradient(window: window)([g, call.saved], shape: call.inputs[0].shape)]
    }
}

/// Max pooling's gradient from (g, winners): each g added onto its window's winning element.
struct MaxPoolingGradient<Scalar: TensorScalar>: TensorOperation {
    let window: SlidingWindow

    var name: String { "maxPool2d gradient" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (g, winners, dx, w) = (buffers.input(0), buffers.input(1), buffers.output, window)
        dx.initialize(repeating: 0, count: w.batch * w.channels * w.inputPlane)
        for plane in 0..<(w.batch * w.channels) {
            let (input, base) = (dx + plane * w.inputPlane, plane * w.outputPlane)
            for oy in 0..<w.outputHeight {
                for ox in 0..<w.outputWidth {
                    let winner = Int(winners[base + oy * w.outputWidth + ox])
                    let (ky, kx) = winner.quotientAndRemainder(dividingBy: w.kernelWidth)
                    input[(oy * w.stride + ky) * w.width + ox * w.stride + kx] += g[base + oy * w.outputWidth + ox]
                }
            }
        }
    }
}
