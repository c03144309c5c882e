import CNablaKernels

/// A window sliding over a batch of images in NCHW layout — a convolution's kernel or a pooling
/// window — and where it lands: the geometry that convolution and pooling share.
///
/// Each output position (oy, ox) sees input rows oy·stride − padding + ky and columns
/// ox·stride − padding + kx, for ky < kernelHeight and kx < kernelWidth; positions outside the
/// image read as zero (padding). The output has ⌊(size + 2·padding − kernel) / stride⌋ + 1 rows
/// and columns, as in PyTorch: a window that would hang over the far edge is dropped.
///
/// The loops over windows are C kernels (`Sources/CNablaKernels/sliding_window.c`), with the
/// same run-time choice of instruction set as the matrix products.
struct SlidingWindow {
    let batch, channels, height, width: Int
    let kernelHeight, kernelWidth: Int
    let stride, padding: Int
    let outputHeight, outputWidth: Int

    /// The window over `shape`, [batch, channels, height, width]; nil when no window fits.
    init?(over shape: [Int], kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Int) {
        (batch, channels, height, width) = (shape[0], shape[1], shape[2], shape[3])
        (self.kernelHeight, self.kernelWidth, self.stride, self.padding) = (kernelHeight, kernelWidth, stride, padding)
        let spanY = height + 2 * padding - kernelHeight, spanX = width + 2 * padding - kernelWidth
        guard spanY >= 0, spanX >= 0 else { return nil }
        (outputHeight, outputWidth) = (spanY / stride + 1, spanX / stride + 1)
    }

    /// Elements in one channel of one input image.
    var inputPlane: Int { height * width }
    /// Elements in one channel of one output image.
    var outputPlane: Int { outputHeight * outputWidth }
    /// Elements in one input image.
    var inputImage: Int { channels * inputPlane }
    /// Rows of an image's patch matrix: one per kernel tap (c, ky, kx).
    var patchSize: Int { channels * kernelHeight * kernelWidth }

    /// The geometry as the C kernels take it.
    private var kernelWindow: nabla_window {
        nabla_window(channels: channels, height: height, width: width, kernelHeight: kernelHeight,
                     kernelWidth: kernelWidth, stride: stride, padding: padding,
                     outputHeight: outputHeight, outputWidth: outputWidth)
    }

    /// Writes one image's patch matrix ([patchSize, outputPlane]: row (c, ky, kx) holds, for
    /// every output position, the input element that kernel tap meets, zero in the padding) into
    /// `columns`. A convolution is then one matrix product ("im2col").
    @inline(__always)
    func gatherPatches<Scalar: TensorScalar>(of image: UnsafePointer<Scalar>, into columns: UnsafeMutablePointer<Scalar>) {
        var window = kernelWindow
        if Scalar.isFloat {
            nabla_gather_patches_f32(&window, image.assuming(Float.self), columns.assuming(Float.self))
        } else {
            nabla_gather_patches_f64(&window, image.assuming(Double.self), columns.assuming(Double.self))
        }
    }

    /// The reverse of ``gatherPatches(of:into:)`` for a whole patch matrix: adds each element
    /// of `columns` back onto the input element it was copied from ("col2im"); padding
    /// positions are dropped.
    @inline(__always)
    func scatterPatches<Scalar: TensorScalar>(_ columns: UnsafePointer<Scalar>, addingInto image: UnsafeMutablePointer<Scalar>) {
        var window = kernelWindow
        if Scalar.isFloat {
            nabla_scatter_patches_f32(&window, columns.assuming(Float.self), image.assuming(Float.self))
        } else {
            nabla_scatter_patches_f64(&window, columns.assuming(Double.self), image.assuming(Double.self))
        }
    }

    /// Max pooling of `planes` consecutive channel planes (padding 0): each output the largest
    /// element of its window, NaN if the window holds one.
    @inline(__always)
    func maxPool<Scalar: TensorScalar>(planes: Int, _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>) {
        var window = kernelWindow
        if Scalar.isFloat {
            nabla_max_pool_f32(&window, planes, x.assuming(Float.self), y.assuming(Float.self))
        } else {
            nabla_max_pool_f64(&window, planes, x.assuming(Double.self), y.assuming(Double.self))
        }
    }

    /// Max pooling's gradient over `planes` planes: `dx` written whole, zero except that each
    /// output's gradient lands on the first element of its window equal to the output `y` (the
    /// winner; the first NaN when `y` is NaN).
    @inline(__always)
    func maxPoolGradient<Scalar: TensorScalar>(planes: Int, _ x: UnsafePointer<Scalar>, _ y: UnsafePointer<Scalar>,
                                               _ g: UnsafePointer<Scalar>, into dx: UnsafeMutablePointer<Scalar>) {
        var window = kernelWindow
        if Scalar.isFloat {
            let f = Float.self
            nabla_max_pool_gradient_f32(&window, planes, x.assuming(f), y.assuming(f), g.assuming(f), dx.assuming(f))
        } else {
            let d = Double.self
            nabla_max_pool_gradient_f64(&window, planes, x.assuming(d), y.assuming(d), g.assuming(d), dx.assuming(d))
        }
    }

    /// Whether a convolution's forward product can read its patches straight from the image:
    /// stride 1, no padding, and output rows of whole vectors (8 floats).
    var convolvesDirectly: Bool { stride == 1 && padding == 0 && outputWidth % 8 == 0 }

    /// y ([outputChannels, outputPlane]) = weight · the image's patch matrix (+ bias[o] on each
    /// channel o), read straight from the image (``convolvesDirectly`` must hold).
    @inline(__always)
    func convolve<Scalar: TensorScalar>(_ image: UnsafePointer<Scalar>, weight: UnsafePointer<Scalar>, bias: UnsafePointer<Scalar>?,
                                        outputChannels: Int, into y: UnsafeMutablePointer<Scalar>) {
        var window = kernelWindow
        if Scalar.isFloat {
            let f = Float.self
            nabla_convolve_f32(&window, outputChannels, weight.assuming(f), image.assuming(f), bias?.assuming(f), y.assuming(f))
        } else {
            let d = Double.self
            nabla_convolve_f64(&window, outputChannels, weight.assuming(d), image.assuming(d), bias?.assuming(d), y.assuming(d))
        }
    }

    /// Whether a convolution's weight gradient gathers each image's patch matrix first: where
    /// the positions are many and the taps few (the first layer's 576 and 25), the product takes
    /// each element as one long dot product over a contiguous row of patches (gemm.c's
    /// `dotProducts` rule for such shapes), which is faster than the tiles that
    /// ``accumulateWeightGradient(of:gradient:outputChannels:scratch:into:accumulate:)`` runs
    /// over the image, gathering included.
    var weightGradientGathersPatches: Bool { outputPlane >= 256 && patchSize <= 32 }

    /// Scratch that ``accumulateWeightGradient(of:gradient:outputChannels:scratch:into:accumulate:)``
    /// needs: the gradient packed in panels of 32 columns, and the image padded if there is padding.
    func weightGradientScratch(outputChannels: Int) -> Int {
        packedGradientCount(outputChannels: outputChannels) + (padding > 0 ? channels * paddedHeight * paddedWidth : 0)
    }

    /// The gradient's columns in zero-padded panels of 32 (the widest kernel's panel: floats on
    /// AVX-512; every narrower panel fits inside).
    private func packedGradientCount(outputChannels: Int) -> Int { (outputChannels + 31) / 32 * 32 * outputPlane }

    private var paddedHeight: Int { height + 2 * padding }
    private var paddedWidth: Int { width + 2 * padding }

    /// One image's weight gradient, transposed: wT ([patchSize, outputChannels]) = P·gᵀ, or
    /// wT += that, with P the image's patch matrix read straight from the image (from a padded
    /// copy in `scratch` if there is padding) and g ([outputChannels, outputPlane]) the
    /// gradient of its output.
    @inline(__always)
    func accumulateWeightGradient<Scalar: TensorScalar>(
        of image: UnsafePointer<Scalar>, gradient g: UnsafePointer<Scalar>, outputChannels: Int,
        scratch: UnsafeMutablePointer<Scalar>, into wT: UnsafeMutablePointer<Scalar>, accumulate: Bool
    ) {
        let packed = scratch
        var image = image
        var window = kernelWindow
        if padding > 0 {
            let padded = scratch + packedGradientCount(outputChannels: outputChannels)
            padded.initialize(repeating: 0, count: channels * paddedHeight * paddedWidth)
            for c in 0..<channels {
                for y in 0..<height {
                    (padded + (c * paddedHeight + y + padding) * paddedWidth + padding)
                        .update(from: image + (c * height + y) * width, count: width)
                }
            }
            image = UnsafePointer(padded)
            (window.height, window.width, window.padding) = (paddedHeight, paddedWidth, 0)
        }
        if Scalar.isFloat {
            let f = Float.self
            nabla_convolution_weight_gradient_f32(&window, outputChannels, image.assuming(f), g.assuming(f), packed.assuming(f),
                                                  wT.assuming(f), accumulate ? 1 : 0)
        } else {
            let d = Double.self
            nabla_convolution_weight_gradient_f64(&window, outputChannels, image.assuming(d), g.assuming(d), packed.assuming(d),
                                                  wT.assuming(d), accumulate ? 1 : 0)
        }
    }
}
