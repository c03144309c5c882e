import CNablaKernels

extension Tensor {
    /// The 2-D convolution (strictly, cross-correlation, as in every framework) of a batch of
    /// images with a bank of filters, plus one bias per output channel.
    ///
    /// `input` is [batch, inChannels, height, width] (NCHW), `weight` is
    /// [outChannels, inChannels, kernelHeight, kernelWidth] and `bias` is [outChannels] —
    /// PyTorch's layouts. The result is [batch, outChannels, outHeight, outWidth] with
    /// outHeight = ⌊(height + 2·padding − kernelHeight) / stride⌋ + 1 (likewise the width):
    ///
    ///     y[n, o, i, j] = bias[o] + Σ_{c, u, v} weight[o, c, u, v] · x[n, c, i·stride − padding + u, j·stride − padding + v]
    ///
    /// where x is zero outside the image.
    ///
    /// ```swift
    /// let maps = conv2d(images, weight: w, bias: b)        // [10, 1, 28, 28] → [10, 20, 24, 24] for 5×5 w
    /// ```
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
        let shapes = "input \(input.shape), weight \(weight.shape)" + (bias.map { ", bias \($0.shape)" } ?? "")
        check(input.rank == 4, "conv2d: \(shapes): the input must be [batch, channels, height, width]")
        check(weight.rank == 4 && weight.shape[1] == input.shape[1],
              "conv2d: \(shapes): the weight must be [outChannels, \(input.shape[1]), kernelHeight, kernelWidth]")
        check(bias == nil || bias!.shape == [weight.shape[0]], "conv2d: \(shapes): the bias must be [\(weight.shape[0])]")
        check(stride > 0 && padding >= 0, "conv2d: stride \(stride) must be positive and padding \(padding) not negative")
        check(weight.shape.allSatisfy { $0 > 0 }, "conv2d: \(shapes): the weight has an empty dimension")
        guard let window = SlidingWindow(over: input.shape, kernelHeight: weight.shape[2], kernelWidth: weight.shape[3],
                                         stride: stride, padding: padding) else {
            fatalError("conv2d: \(shapes), padding \(padding): the \(weight.shape[2])×\(weight.shape[3]) kernel is larger than the padded image")
        }
        let op = Convolution2D<Scalar>(window: window, outputChannels: weight.shape[0], hasBias: bias != nil)
        return op([input, weight] + (bias.map { [$0] } ?? []),
                  shape: [window.batch, weight.shape[0], window.outputHeight, window.outputWidth])
    }
}

/// The 2-D convolution of `input` with `weight`, plus `bias`; see ``Tensor/conv2d(_:weight:bias:stride:padding:)``.
public func conv2d<Scalar>(_ input: Tensor<Scalar>, weight: Tensor<Scalar>, bias: Tensor<Scalar>? = nil,
                           stride: Int = 1, padding: Int = 0) -> Tensor<Scalar> {
    Tensor.conv2d(input, weight: weight, bias: bias, stride: stride, padding: padding)
}

/// A convolution as one matrix product per image: weight [outChannels, patchSize] times the
/// image's patch matrix P [patchSize, outputPlane] lands directly in the image's NCHW output
/// block. Without padding, at stride 1 and an output width a multiple of 8 (the book's layers),
/// the product reads P straight from the image (`nabla_convolve_*`); otherwise P is gathered into
/// scratch first (im2col).
///
/// Gradients, with g the upstream gradient of image n as [outChannels, outputPlane]: ∂weight =
/// Σₙ g·Pᵀ, with Pₙ read straight from the image (from a padded copy if there is padding;
/// `nabla_convolution_weight_gradient_*`), or gathered first where that is faster
/// (`weightGradientGathersPatches`); ∂P = weightᵀ·g scattered back onto the image;
/// ∂bias = Σ g over images and positions.
///
/// Images go to the worker pool's threads in contiguous shares, each with scratch of its own in
/// the workspace. Every output element is computed by the same operations whatever the number of
/// threads, so the result does not depend on it.
struct Convolution2D<Scalar: TensorScalar>: TensorOperation {
    let window: SlidingWindow
    let outputChannels: Int
    let hasBias: Bool

    var name: String { "conv2d" }
    var workspaceCount: Int { window.convolvesDirectly ? 0 : window.patchMatrixSlots * window.patchMatrix }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (x, weight, y, w) = (buffers.input(0), buffers.input(1), buffers.output, window)
        let bias = hasBias ? buffers.input(2) : nil
        let outputImage = outputChannels * w.outputPlane
        let operands = (x, weight, bias, y, buffers.workspace, w, outputChannels, outputImage)
        w.forEachImageShare(multiplyAdds: outputImage * w.patchSize, operands) { operands, share, images in
            let (x, weight, bias, y, workspace, w, outputChannels, outputImage) = operands
            for n in images {
                let (image, output) = (x + n * w.inputImage, y + n * outputImage)
                if w.convolvesDirectly {
                    w.convolve(image, weight: weight, bias: bias, outputChannels: outputChannels, into: output)
                    continue
                }
                if let bias {
                    for o in 0..<outputChannels { (output + o * w.outputPlane).initialize(repeating: bias[o], count: w.outputPlane) }
                }
                let patches = workspace + share * w.patchMatrix
                w.gatherPatches(of: image, into: patches)
                Scalar.gemm(transposeA: false, transposeB: false, m: outputChannels, n: w.outputPlane, k: w.patchSize,
                            a: weight, b: patches, c: output, accumulate: bias != nil)
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let (x, weight) = (call.inputs[0], call.inputs[1])
        let part = { (part: ConvolutionGradient<Scalar>.Part, inputs: [Tensor<Scalar>], shape: [Int]) in
            ConvolutionGradient(part: part, window: window, outputChannels: outputChannels)(inputs, shape: shape)
        }
        return [
            call.needsGradient(0) ? part(.input, [g, weight], x.shape) : nil,
            call.needsGradient(1) ? part(.weight, [g, x], weight.shape) : nil,
        ] + (hasBias ? [call.needsGradient(2) ? part(.bias, [g], [outputChannels]) : nil] : [])
    }
}

/// One of a convolution's three gradients, from the upstream gradient g (its first input).
/// It has no gradient of its own: `conv2d` is not twice differentiable.
struct ConvolutionGradient<Scalar: TensorScalar>: TensorOperation {
    enum Part {
        /// ∂input from (g, weight): weightᵀ·gₙ per image, scattered back onto the image.
        case input
        /// ∂weight from (g, input): Σₙ gₙ·Pₙᵀ, each image's patch matrix Pₙ read in place, or gathered.
        case weight
        /// ∂bias from (g): the sum of each output channel over images and positions.
        case bias
    }
    let part: Part
    let window: SlidingWindow
    let outputChannels: Int

    var name: String { "conv2d \(part) gradient" }

    /// The weight gradient sums the batch in this many fixed groups of consecutive images, each
    /// into a partial sum of its own, then adds the partial sums in order: the groups can go to
    /// different threads, and the rounding is the same however many there are.
    private var weightGroups: Int { window.patchMatrixSlots }
    private var weightSize: Int { outputChannels * window.patchSize }

    /// Scratch for each share of the batch: a patch matrix, or what the weight gradient packs.
    private var scratchPerShare: Int {
        switch part {
        case .input: window.patchMatrix
        case .weight:
            window.weightGradientGathersPatches ? window.patchMatrix : window.weightGradientScratch(outputChannels: outputChannels)
        case .bias: 0
        }
    }

    var workspaceCount: Int {
        switch part {
        case .input: window.patchMatrixSlots * scratchPerShare
        case .weight: window.patchMatrixSlots * scratchPerShare + weightGroups * weightSize
        case .bias: window.batch * outputChannels   // each image's sum of each channel
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (g, out, w) = (buffers.input(0), buffers.output, window)
        let outputImage = outputChannels * w.outputPlane
        switch part {
        case .input:
            let weight = buffers.input(1)
            let operands = (g, weight, out, buffers.workspace, w, scratchPerShare, outputChannels, outputImage)
            w.forEachImageShare(multiplyAdds: outputImage * w.patchSize, operands) { operands, share, images in
                let (g, weight, out, workspace, w, scratchPerShare, outputChannels, outputImage) = operands
                let patches = workspace + share * scratchPerShare
                for n in images {
                    Scalar.gemm(transposeA: true, transposeB: false, m: w.patchSize, n: w.outputPlane, k: outputChannels,
                                a: weight, b: g + n * outputImage, c: patches, accumulate: false)
                    let image = out + n * w.inputImage
                    image.initialize(repeating: 0, count: w.inputImage)
                    w.scatterPatches(patches, addingInto: image)
                }
            }
        case .weight:
            // Computed transposed, ∂weightᵀ = Σₙ Pₙ·gₙᵀ: the kernel reads the patches in place
            // from the image and packs only the small gₙ (Docs/Performance.md has the gain).
            let (source, groups, size) = (buffers.input(1), weightGroups, weightSize)
            let partials = buffers.workspace + w.patchMatrixSlots * scratchPerShare
            let operands = (source, g, partials, buffers.workspace, w, scratchPerShare, groups, size, outputChannels, outputImage)
            forEachShare(groups, unitSize: w.batch / groups * outputImage * w.patchSize, maxShares: w.patchMatrixSlots,
                         operands) { operands, share, groupRange in
                let (source, g, partials, workspace, w, scratchPerShare, groups, size, outputChannels, outputImage) = operands
                let scratch = workspace + share * scratchPerShare
                for group in groupRange {
                    let partial = partials + group * size
                    let images = w.batch * group / groups ..< w.batch * (group + 1) / groups
                    for n in images {
                        let (image, gradient, accumulate) = (source + n * w.inputImage, g + n * outputImage, n != images.lowerBound)
                        guard w.weightGradientGathersPatches else {
                            w.accumulateWeightGradient(of: image, gradient: gradient, outputChannels: outputChannels,
                                                       scratch: scratch, into: partial, accumulate: accumulate)
                            continue
                        }
                        w.gatherPatches(of: image, into: scratch)
                        Scalar.gemm(transposeA: false, transposeB: true, m: w.patchSize, n: outputChannels, k: w.outputPlane,
                                    a: scratch, b: gradient, c: partial, accumulate: accumulate)
                    }
                }
            }
            // The groups' sums added in order into the first, then transposed back to
            // [outChannels, patchSize]; each thread takes a share of the patch's rows.
            forEachChunk(w.patchSize, unitSize: groups * outputChannels, (partials, out, w, groups, size, outputChannels)) { operands, rows in
                let (partials, out, w, groups, size, outputChannels) = operands
                for k in rows {
                    let row = partials + k * outputChannels
                    for group in 1..<groups {
                        let partial = row + group * size
                        for o in 0..<outputChannels { row[o] += partial[o] }
                    }
                    for o in 0..<outputChannels { out[o * w.patchSize + k] = row[o] }
                }
            }
        case .bias:
            // Each image's channel sums on the thread that made its gradient (reading another
            // thread's images would pull them into this core's cache, and that thread would have
            // to take them back next step), then added over the batch in order.
            let sums = buffers.workspace
            w.forEachImageShare(multiplyAdds: outputImage, (g, sums, w, outputChannels, outputImage)) { operands, _, images in
                let (g, sums, w, outputChannels, outputImage) = operands
                for n in images {
                    for o in 0..<outputChannels {
                        let plane = g + n * outputImage + o * w.outputPlane
                        sums[n * outputChannels + o] = interleavedSum(count: w.outputPlane) { plane[$0] }
                    }
                }
            }
            for o in 0..<outputChannels {
                var total: Scalar = 0
                for n in 0..<w.batch { total += sums[n * outputChannels + o] }
                out[o] = total
            }
        }
    }
}

extension SlidingWindow {
    /// Elements in one image's patch matrix, [patchSize, outputPlane].
    var patchMatrix: Int { patchSize * outputPlane }

    /// How many shares of the batch a convolution's workspace has scratch for: one for each
    /// thread that may take one (at most the pool's largest number of threads).
    var patchMatrixSlots: Int { min(batch, Int(NABLA_MAX_THREADS)) }

    /// Runs `body(context, share, images)` over the batch's images in contiguous shares — on the
    /// worker pool when there is work enough — each share numbered, so that it can use scratch
    /// slot `share`. `body` must capture nothing, as ``forEachShare(_:unitSize:maxShares:_:_:)``'s.
    @inline(__always)
    func forEachImageShare<Context>(multiplyAdds: Int, _ context: Context,
                                    _ body: (_ context: Context, _ share: Int, _ images: Range<Int>) -> Void) {
        forEachShare(batch, unitSize: multiplyAdds, maxShares: patchMatrixSlots, context, body)
    }
}
