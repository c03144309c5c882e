import CNablaKernels
import Nabla
import Testing

/// The convolution and max-pool kernels on every path — the detected instruction set, the
/// portable one, split across threads; convolutions straight from the image and through patch
/// matrices — against textbook loops, at odd shapes, strides and paddings, with ties, NaN and
/// infinities in the pooled data.
@Suite(.serialized) struct SlidingWindowKernelTests {
    /// [batch, channels, height, width], [outChannels, kernelHeight, kernelWidth], stride, padding.
    static let convolutions: [(input: [Int], kernel: [Int], stride: Int, padding: Int)] = [
        ([3, 2, 7, 9], [5, 3, 2], 1, 0),
        ([2, 3, 8, 11], [4, 3, 3], 2, 1),
        ([5, 3, 13, 12], [6, 5, 5], 1, 2),     // work enough for every thread
        ([1, 1, 5, 5], [1, 5, 5], 1, 0),       // the kernel covers the image
        ([4, 2, 10, 10], [3, 2, 3], 3, 1),
        ([10, 20, 12, 12], [40, 5, 5], 1, 0),  // the book's second convolution
        // Straight from the image: a last half panel of 8 positions, rows of two vectors. Then a
        // stride of 2 without padding: patches gathered for the forward product.
        ([2, 3, 5, 12], [7, 3, 5], 1, 0),
        ([2, 1, 9, 20], [9, 2, 5], 1, 0),
        ([2, 2, 9, 12], [5, 5, 5], 1, 0),      // 40 positions: a last panel of one run on AVX-512
        ([3, 2, 11, 13], [4, 3, 3], 2, 0),
        // Many positions, few taps: the weight gradient from gathered patch matrices.
        ([2, 1, 20, 21], [5, 3, 4], 1, 0),
        ([2, 2, 35, 36], [3, 3, 3], 2, 1),
    ]

    /// [batch, channels, height, width], kernel size, stride.
    static let poolings: [(input: [Int], kernel: Int, stride: Int)] = [
        ([2, 3, 24, 26], 2, 2),   // the book's case, rows of 13: whole vectors and a tail
        ([3, 2, 17, 35], 2, 2),   // the last column dropped
        ([1, 2, 9, 7], 3, 2),     // overlapping windows
        ([2, 1, 10, 11], 2, 3),   // gaps between windows
        ([1, 1, 4, 4], 4, 1),
        ([4, 20, 24, 24], 2, 2),  // the book's first pooling: planes enough for every thread
        // Rows of half a vector, two at a time: the book's second pooling (in floats), then an odd
        // last row and a dropped column, then the same for doubles (2 outputs a row).
        ([3, 40, 8, 8], 2, 2),
        ([2, 3, 11, 9], 2, 2),
        ([2, 2, 7, 5], 2, 2),
    ]

    enum Path: CaseIterable { case detected, avx2, portable, threaded }

    /// Runs `body` on `path`, restoring the defaults after.
    func on<T>(_ path: Path, _ body: () -> T) -> T {
        switch path {
        case .detected:
            nabla_set_threads(1)
        case .avx2:
            nabla_set_threads(1)
            nabla_limit_kernels(NABLA_ISA_AVX2)       // on this thread only: hence one thread
        case .portable:
            nabla_set_threads(1)
            nabla_limit_kernels(NABLA_ISA_PORTABLE)
        case .threaded:
            nabla_set_threads(4)   // four shares or more, whatever the machine's cores
        }
        defer { nabla_set_threads(0); nabla_limit_kernels(-1) }
        return body()
    }

    @Test(arguments: Path.allCases)
    func convolutionMatchesTheTextbookLoops(_ path: Path) {
        for (index, c) in Self.convolutions.enumerated() {
            let (n, channels, h, w) = (c.input[0], c.input[1], c.input[2], c.input[3])
            let (o, kh, kw) = (c.kernel[0], c.kernel[1], c.kernel[2])
            let x = random([n, channels, h, w], seed: UInt64(index))
            let weight = random([o, channels, kh, kw], seed: UInt64(index + 100))
            let bias = random([o], seed: UInt64(index + 200))
            let reference = naiveConvolution(x, weight, bias, stride: c.stride, padding: c.padding)
            let g = random(reference.shape, seed: UInt64(index + 300))
            let backward = naiveConvolutionGradients(x, weight, g, stride: c.stride, padding: c.padding)
            let label = "\(path) \(c.input) ∗ \(c.kernel), stride \(c.stride), padding \(c.padding)"

            // Double against the loops, closely; Float within its rounding.
            let (value, gradients) = on(path) {
                valueWithPullback(at: [x, weight, bias]) { conv2d($0[0], weight: $0[1], bias: $0[2], stride: c.stride, padding: c.padding) }
            }
            let grads = on(path) { gradients(g) }
            expectClose(value, reference, tolerance: 1e-12, label + ": y")
            expectClose(grads[0], backward.dx, tolerance: 1e-12, label + ": ∂x")
            expectClose(grads[1], backward.dw, tolerance: 1e-12, label + ": ∂w")
            expectClose(grads[2], backward.db, tolerance: 1e-12, label + ": ∂b")

            let (xf, wf, bf, gf) = (Tensor<Float>(converting: x), Tensor<Float>(converting: weight),
                                    Tensor<Float>(converting: bias), Tensor<Float>(converting: g))
            let (valueF, pullbackF) = on(path) {
                valueWithPullback(at: [xf, wf, bf]) { conv2d($0[0], weight: $0[1], bias: $0[2], stride: c.stride, padding: c.padding) }
            }
            let gradsF = on(path) { pullbackF(gf) }
            expectClose(Tensor(converting: valueF), reference, tolerance: 1e-4, label + ": Float y")
            expectClose(Tensor(converting: gradsF[0]), backward.dx, tolerance: 1e-4, label + ": Float ∂x")
            expectClose(Tensor(converting: gradsF[1]), backward.dw, tolerance: 1e-4, label + ": Float ∂w")
            // Inference (no weight being trained) gathers patches into scratch instead of saving them.
            let inference = on(path) { conv2d(xf, weight: wf, bias: bf, stride: c.stride, padding: c.padding) }
            #expect(inference.scalars == valueF.scalars, "\(label): inference and training forward passes differ")
        }
    }

    /// Images split across threads, and the weight gradient's fixed groups, compute every element
    /// by the same operations: one thread and four give the same bits.
    @Test func convolutionResultsDoNotDependOnTheNumberOfThreads() {
        for (index, c) in Self.convolutions.enumerated() {
            let x = Tensor<Float>(converting: random(c.input, seed: UInt64(index)))
            let weight = Tensor<Float>(converting: random([c.kernel[0], c.input[1], c.kernel[1], c.kernel[2]], seed: UInt64(index + 100)))
            func run() -> [[Float]] {
                let (y, pullback) = valueWithPullback(at: [x, weight]) { conv2d($0[0], weight: $0[1], stride: c.stride, padding: c.padding) }
                return [y.scalars] + pullback(y).map(\.scalars)
            }
            let one = on(.detected, run), four = on(.threaded, run)
            #expect(one == four, "\(c.input) ∗ \(c.kernel): one thread and four differ")
        }
    }

    /// The direct convolution and weight gradient on AVX-512 (vectors of two runs, panels of 32)
    /// compute every element as AVX2 does: the same bits, NaN and infinities included.
    @Test(.enabled(if: nabla_kernel_isa() == NABLA_ISA_AVX512, "the processor has no AVX-512F"))
    func avx512ConvolutionIsAVX2ToTheBit() {
        func check<S: TensorScalar>(_: S.Type) {
            for (index, c) in Self.convolutions.enumerated() {
                var values = Tensor<S>(converting: random(c.input, seed: UInt64(index))).scalars
                (values[0], values[values.count / 3], values[values.count - 1]) = (.nan, .infinity, -.infinity)
                let x = Tensor<S>(values, shape: c.input)
                let weight = Tensor<S>(converting: random([c.kernel[0], c.input[1], c.kernel[1], c.kernel[2]], seed: UInt64(index + 100)))
                let bias = Tensor<S>(converting: random([c.kernel[0]], seed: UInt64(index + 200)))
                func run() -> [[S]] {
                    let (y, pullback) = valueWithPullback(at: [x, weight, bias]) {
                        conv2d($0[0], weight: $0[1], bias: $0[2], stride: c.stride, padding: c.padding)
                    }
                    return [y.scalars] + pullback(y).map(\.scalars)
                }
                let (wide, narrow) = on(.detected) { onDetectedAndAVX2Paths(run) }
                #expect(sameBits(wide.joined().map { $0 }, narrow.joined().map { $0 }),
                        "\(c.input) ∗ \(c.kernel), \(S.self): AVX-512 and AVX2 differ")
            }
        }
        check(Float.self)
        check(Double.self)
    }

    @Test(arguments: Path.allCases)
    func maxPoolingMatchesTheTextbookLoops(_ path: Path) {
        for (index, p) in Self.poolings.enumerated() {
            // Small integers, so that windows hold ties, and NaN and infinities sprinkled in.
            var x = random(p.input, seed: UInt64(index)).scalars.map { ($0 * 3).rounded() }
            for (i, special) in [(5, Double.nan), (17, .infinity), (18, -.infinity), (40, .nan), (41, .nan), (77, -.infinity)] where i < x.count {
                x[i] = special
            }
            let input = Tensor(x, shape: p.input)
            let reference = naiveMaxPool(input, kernel: p.kernel, stride: p.stride)
            var g = random(reference.y.shape, seed: UInt64(index + 10)).scalars
            g[g.count / 2] = .nan   // reaches its window's winner only
            let upstream = Tensor(g, shape: reference.y.shape)
            let label = "\(path) \(p.input), window \(p.kernel), stride \(p.stride)"
            for float in [false, true] {
                let (y, dx): (Tensor<Double>, Tensor<Double>) = on(path) {
                    if float {
                        let (y, pullback) = valueWithPullback(at: [Tensor<Float>(converting: input)]) { maxPool2d($0[0], kernelSize: p.kernel, stride: p.stride) }
                        return (Tensor(converting: y), Tensor(converting: pullback(Tensor(converting: upstream))[0]))
                    }
                    let (y, pullback) = valueWithPullback(at: [input]) { maxPool2d($0[0], kernelSize: p.kernel, stride: p.stride) }
                    return (y, pullback(upstream)[0])
                }
                let precision = float ? "Float" : "Double"
                expectClose(y, reference.y, tolerance: 0, "\(label), \(precision): y")
                expectClose(dx, naiveMaxPoolGradient(input, reference.winners, upstream), tolerance: float ? 1e-6 : 0,
                            "\(label), \(precision): ∂x")
            }
        }
    }

    // MARK: The textbook loops

    func random(_ shape: [Int], seed: UInt64) -> Tensor<Double> {
        var rng = SeededGenerator(seed: seed)
        return Tensor(randomNormal: shape, using: &rng)
    }

    func naiveConvolution(_ x: Tensor<Double>, _ w: Tensor<Double>, _ b: Tensor<Double>, stride: Int, padding: Int) -> Tensor<Double> {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
        let (oh, ow) = ((h + 2 * padding - kh) / stride + 1, (wd + 2 * padding - kw) / stride + 1)
        let (xs, ws, bs) = (x.scalars, w.scalars, b.scalars)
        var y = [Double](repeating: 0, count: n * o * oh * ow)
        for i in 0..<n { for f in 0..<o { for r in 0..<oh { for s in 0..<ow {
            var sum = bs[f]
            for ch in 0..<c { for u in 0..<kh { for v in 0..<kw {
                let (iy, ix) = (r * stride - padding + u, s * stride - padding + v)
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                sum += ws[((f * c + ch) * kh + u) * kw + v] * xs[((i * c + ch) * h + iy) * wd + ix]
            } } }
            y[((i * o + f) * oh + r) * ow + s] = sum
        } } } }
        return Tensor(y, shape: [n, o, oh, ow])
    }

    func naiveConvolutionGradients(_ x: Tensor<Double>, _ w: Tensor<Double>, _ g: Tensor<Double>, stride: Int, padding: Int)
        -> (dx: Tensor<Double>, dw: Tensor<Double>, db: Tensor<Double>) {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw, oh, ow) = (w.shape[0], w.shape[2], w.shape[3], g.shape[2], g.shape[3])
        let (xs, ws, gs) = (x.scalars, w.scalars, g.scalars)
        var (dx, dw, db) = ([Double](repeating: 0, count: xs.count), [Double](repeating: 0, count: ws.count), [Double](repeating: 0, count: o))
        for i in 0..<n { for f in 0..<o { for r in 0..<oh { for s in 0..<ow {
            let up = gs[((i * o + f) * oh + r) * ow + s]
            db[f] += up
            for ch in 0..<c { for u in 0..<kh { for v in 0..<kw {
                let (iy, ix) = (r * stride - padding + u, s * stride - padding + v)
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                let (xi, wi) = (((i * c + ch) * h + iy) * wd + ix, ((f * c + ch) * kh + u) * kw + v)
                dw[wi] += up * xs[xi]
                dx[xi] += up * ws[wi]
            } } }
        } } } }
        return (Tensor(dx, shape: x.shape), Tensor(dw, shape: w.shape), Tensor(db, shape: [o]))
    }

    /// Each window's largest element, or its first NaN; ties to the first, row-major.
    func naiveMaxPool(_ x: Tensor<Double>, kernel: Int, stride: Int) -> (y: Tensor<Double>, winners: [Int]) {
        let (planes, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = ((h - kernel) / stride + 1, (w - kernel) / stride + 1)
        let xs = x.scalars
        var (y, winners) = ([Double](), [Int]())
        for p in 0..<planes { for r in 0..<oh { for s in 0..<ow {
            var winner = -1
            for u in 0..<kernel { for v in 0..<kernel {
                let i = (p * h + r * stride + u) * w + s * stride + v
                if winner < 0 || (!xs[winner].isNaN && (xs[i].isNaN || xs[i] > xs[winner])) { winner = i }
            } }
            y.append(xs[winner])
            winners.append(winner)
        } } }
        return (Tensor(y, shape: [x.shape[0], x.shape[1], oh, ow]), winners)
    }

    func naiveMaxPoolGradient(_ x: Tensor<Double>, _ winners: [Int], _ g: Tensor<Double>) -> Tensor<Double> {
        var dx = [Double](repeating: 0, count: x.count)
        for (o, winner) in winners.enumerated() { dx[winner] += g.scalars[o] }
        return Tensor(dx, shape: x.shape)
    }

    /// Equal shapes, NaN where the reference has NaN, infinities equal, and every other element
    /// within `tolerance` of the reference, relative to its magnitude (at least 1).
    func expectClose(_ actual: Tensor<Double>, _ expected: Tensor<Double>, tolerance: Double, _ label: String) {
        #expect(actual.shape == expected.shape, "\(label): shape \(actual.shape), expected \(expected.shape)")
        guard actual.shape == expected.shape else { return }
        let (a, e) = (actual.scalars, expected.scalars)
        for i in a.indices {
            let same = e[i].isNaN ? a[i].isNaN
                : e[i].isInfinite ? a[i] == e[i]
                : abs(a[i] - e[i]) <= tolerance * max(1, abs(e[i]))
            if !same {
                Issue.record("\(label): element \(i) is \(a[i]), expected \(e[i])")
                return
            }
        }
    }
}
