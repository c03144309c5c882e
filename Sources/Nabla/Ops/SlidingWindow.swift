/// A window sliding over a batch of images in NCHW layout — a convolution's kernel or a pooling
/// window — and where it lands: the geometry that convolution and pooling share.
///
/// Each output position (oy, ox) sees input rows oy·stride − padding + ky and columns
/// ox·stride − padding + kx, for ky < kernelHeight and kx < kernelWidth; positions outside the
/// image read as zero (padding). The output has ⌊(size + 2·padding − kernel) / stride⌋ + 1 rows
/// and columns, as in PyTorch: a window that would hang over the far edge is dropped.
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
    /// Rows of an image's column matrix: one per (channel, ky, kx).
    var patchSize: Int { channels * kernelHeight * kernelWidth }

    /// The output columns ox whose input column ox·stride − padding + kx lies inside the image.
    @inline(__always)
    func validColumns(kx: Int) -> Range<Int> {
        // ix = ox·s − p + kx ≥ 0  ⇔  ox ≥ ⌈(p − kx)/s⌉;   ix < width  ⇔  ox ≤ ⌊(width − 1 + p − kx)/s⌋.
        let low = max(0, ceilDivide(padding - kx, stride))
        let high = min(outputWidth, floorDivide(width - 1 + padding - kx, stride) + 1)
        return low ..< max(low, high)
    }

    /// Visits each row of an image's column matrix ([patchSize, outputPlane], one row per kernel
    /// tap (c, ky, kx), one column per output position) one output row oy at a time, with
    /// - `target`, the offset in the column matrix of that stretch of `outputWidth` elements,
    /// - `source`, the offset in the image of the element output column 0 would read — so output
    ///   column ox reads `source + ox·stride` — or nil when input row oy·stride − padding + ky lies
    ///   in the padding,
    /// - `valid`, the output columns whose input column lies inside the image.
    @inline(__always)
    func forEachPatchRow(_ visit: (_ target: Int, _ source: Int?, _ valid: Range<Int>) -> Void) {
        var target = 0
        for c in 0..<channels {
            for ky in 0..<kernelHeight {
                for kx in 0..<kernelWidth {
                    let valid = validColumns(kx: kx)
                    for oy in 0..<outputHeight {
                        let iy = oy * stride - padding + ky
                        let inside = iy >= 0 && iy < height
                        visit(target + oy * outputWidth, inside ? c * inputPlane + iy * width - padding + kx : nil, valid)
                    }
                    target += outputPlane
                }
            }
        }
    }

    /// Copies one image's patches into `columns`, a [patchSize, outputPlane] matrix: row
    /// (c, ky, kx) holds, for every output position, the input element that kernel tap meets
    /// (zero in the padding). A convolution is then one matrix product ("im2col").
    @inline(__always)
    func gatherPatches<Scalar: TensorScalar>(of image: UnsafePointer<Scalar>, into columns: UnsafeMutablePointer<Scalar>) {
        forEachPatchRow { target, source, valid in
            let target = columns + target
            guard let source else { return target.initialize(repeating: 0, count: outputWidth) }
            target.initialize(repeating: 0, count: valid.lowerBound)
            if stride == 1 {
                (target + valid.lowerBound).update(from: image + (source + valid.lowerBound), count: valid.count)
            } else {
                for ox in valid { target[ox] = image[source + ox * stride] }
            }
            (target + valid.upperBound).initialize(repeating: 0, count: outputWidth - valid.upperBound)
        }
    }

    /// The reverse of ``gatherPatches(of:into:)``: adds each element of `columns` back onto the
    /// input element it was copied from ("col2im"); padding positions are dropped.
    @inline(__always)
    func scatterPatches<Scalar: TensorScalar>(_ columns: UnsafePointer<Scalar>, addingInto image: UnsafeMutablePointer<Scalar>) {
        forEachPatchRow { target, source, valid in
            guard let source else { return }
            for ox in valid { image[source + ox * stride] += columns[target + ox] }
        }
    }
}

/// ⌊a / b⌋ for b > 0 (Swift's `/` rounds toward zero).
@inline(__always)
func floorDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

/// ⌈a / b⌉ for b > 0.
@inline(__always)
func ceilDivide(_ a: Int, _ b: Int) -> Int { -floorDivide(-a, b) }
