import CNablaKernels
import Nabla
import Testing

/// The matrix-product kernels against a naive triple loop, on every path and awkward shapes.
@Suite(.serialized) struct KernelTests {
    /// (m, n, k). A·Bᵀ takes dot products with few rows (32 or fewer) where B fits in 256 KB or
    /// rows are long — at (10, 30, 784) and (9, 100, 700), the last with a B over 256 KB — and
    /// packs B at (33, 10, 30), (40, 9, 300), (300, 7, 13) and (5, 700, 100), the last with few
    /// rows only.
    /// (70, 45, 600) is deeper than a depth slice on any machine (at most 512), so it runs in
    /// blocks, a ragged last slice and panel among them.
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (7, 13, 5), (13, 7, 29), (6, 16, 1), (5, 17, 3), (12, 32, 64), (10, 30, 784), (40, 9, 300),
        (9, 100, 700), (33, 10, 30), (300, 7, 13), (5, 700, 100), (257, 33, 17), (70, 45, 600),
    ]

    /// A product this machine takes in several depth slices and several blocks of rows, with a
    /// ragged last slice, block and panel (and wide enough that A·Bᵀ is not taken as dot products).
    static var blockedShape: (Int, Int, Int) {
        var (depthSlice, blockRows, l1, l2) = (0, 0, 0, 0)
        nabla_gemm_blocking(&depthSlice, &blockRows, &l1, &l2)
        return (blockRows + 31, 150, 2 * depthSlice + 37)
    }

    func naive(_ a: [Double], _ b: [Double], m: Int, n: Int, k: Int, ta: Bool, tb: Bool) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k {
            c[i * n + j] += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j])
        } } }
        return c
    }

    func checkAllShapes() {
        for (m, n, k) in Self.shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = random(ta ? [k, m] : [m, k], seed: 1), b = random(tb ? [n, k] : [k, n], seed: 2)
                let expected = naive(a.scalars, b.scalars, m: m, n: n, k: k, ta: ta, tb: tb)
                let d = matmul(a, b, transposingA: ta, transposingB: tb)
                expectClose(d.scalars, expected, tolerance: 1e-12)
                let f = matmul(Tensor<Float>(converting: a), Tensor<Float>(converting: b), transposingA: ta, transposingB: tb)
                expectClose(f.scalars, expected.map(Float.init), tolerance: 1e-3)
                // The accumulating form adds onto what C held, scaled by alpha.
                var c = [Double](repeating: 1, count: m * n)
                a.scalars.withUnsafeBufferPointer { pa in b.scalars.withUnsafeBufferPointer { pb in
                    nabla_dgemm(ta ? 1 : 0, tb ? 1 : 0, m, n, k, -0.5, pa.baseAddress, pb.baseAddress, &c, 1)
                } }
                expectClose(c, expected.map { 1 - 0.5 * $0 }, tolerance: 1e-12)
                var fc = [Float](repeating: 0, count: m * n)
                Tensor<Float>(converting: a).scalars.withUnsafeBufferPointer { pa in
                    Tensor<Float>(converting: b).scalars.withUnsafeBufferPointer { pb in
                        nabla_sgemm(ta ? 1 : 0, tb ? 1 : 0, m, n, k, 3, pa.baseAddress, pb.baseAddress, &fc, 0)
                    }
                }
                expectClose(fc, expected.map { Float(3 * $0) }, tolerance: 3e-3)
            }
        }
    }

    /// Float's vectorised sigmoid against Double's exact one, across the whole useful range and
    /// beyond (where it must saturate to 0 and 1, not overflow).
    func checkSigmoid() {
        // Inputs exactly representable in Float, so both sides see the same x; fewer than the
        // elements split over threads, so every one runs on this thread's path.
        let xs = (0...16_001).map { Double(Float(-100 + 200 * Double($0) / 16_001)) }
        let exact = sigmoid(Tensor(xs)).scalars
        let fast = sigmoid(Tensor<Float>(converting: Tensor(xs))).scalars
        for (i, (f, e)) in zip(fast, exact).enumerated() where e > 1e-30 {
            guard abs(Double(f) - e) <= 3e-7 * e + 1e-38 else {
                Issue.record("sigmoid(\(xs[i])): \(f), exact \(e)")
                return
            }
        }
        #expect(fast.first! < 1e-37 && fast.last! == 1 && fast.allSatisfy { $0.isFinite })
    }

    /// Float's vectorised GELU and its gradient against Double's exact ones: relative accuracy
    /// to about 1e-7 in Φ everywhere, deep into the left tail where x·Φ(x) is tiny.
    func checkGELU() {
        let xs = (0...16_001).map { Double(Float(-30 + 60 * Double($0) / 16_001)) }
        let (x, xFloat) = (Tensor(xs), Tensor<Float>(converting: Tensor(xs)))
        let g = Tensor<Double>(ones: [xs.count])
        let exact = gelu(x).scalars, fast = gelu(xFloat).scalars
        let exactSlope = valueWithGradient(at: x) { (gelu($0) * g).sum() }.1.scalars
        let fastSlope = valueWithGradient(at: xFloat) { gelu($0).sum() }.1.scalars
        for i in xs.indices {
            // Φ's error times x, and Float's own rounding of the result.
            let tolerance = 6e-7 * abs(exact[i]) + 1e-37
            guard abs(Double(fast[i]) - exact[i]) <= tolerance else {
                Issue.record("gelu(\(xs[i])): \(fast[i]), exact \(exact[i])")
                return
            }
            // gelu′ = Φ + xφ: where the two terms (each below 1) cancel, near x = −0.75, the
            // error is their rounding's, absolute.
            guard abs(Double(fastSlope[i]) - exactSlope[i]) <= 6e-7 * abs(exactSlope[i]) + 1.5e-7 else {
                Issue.record("gelu′(\(xs[i])): \(fastSlope[i]), exact \(exactSlope[i])")
                return
            }
        }
        let special = gelu(Tensor<Float>([.nan, .infinity, -.infinity, 0, -0.0, 1, -1, 2, 3, -100], shape: [10])).scalars
        #expect(special[0].isNaN && special[1] == .infinity && special[2].isNaN && special[3] == 0 && special[9] == 0, "\(special)")
    }

    @Test func detectedPath() {
        checkAllShapes()
        checkSigmoid()
        checkGELU()
    }

    @Test func threadedPath() {
        // Every shape split across threads, by rows where there are enough and by column panels
        // otherwise.
        nabla_set_parallel_threshold(1)
        defer { nabla_set_parallel_threshold(0) }
        checkAllShapes()
    }

    @Test func resultsDoNotDependOnTheNumberOfThreads() {
        // Shares start on whole tiles and all take the route chosen for the whole product, so
        // every element is computed by the same operations however the product is split.
        // (40, 100, 700) runs in blocks, a ragged last depth slice among them, on every share.
        defer { nabla_set_threads(0); nabla_set_parallel_threshold(0) }
        for (m, n, k) in Self.shapes + [(40, 100, 700)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = Tensor<Float>(converting: random(ta ? [k, m] : [m, k], seed: 1))
                let b = Tensor<Float>(converting: random(tb ? [n, k] : [k, n], seed: 2))
                nabla_set_threads(1)
                let whole = matmul(a, b, transposingA: ta, transposingB: tb)
                nabla_set_threads(4)  // four shares or more, whatever the machine's cores
                nabla_set_parallel_threshold(1)
                let split = matmul(a, b, transposingA: ta, transposingB: tb)
                nabla_set_parallel_threshold(0)
                let (x, y) = (whole.scalars, split.scalars)
                if let i = x.indices.first(where: { x[$0] != y[$0] }) {
                    Issue.record("(\(m), \(n), \(k)), Aᵀ \(ta), Bᵀ \(tb): element \(i) is \(x[i]) on one thread, \(y[i]) split")
                }
            }
        }
    }

    @Test func batchedProductsAreEachTheLoneProductOnAnyNumberOfThreads() {
        // A batch's products go to the threads whole (attention's 48 of them at once), so each
        // must be the product of its two matrices alone, to the bit, on one thread or four.
        defer { nabla_set_threads(0) }
        let (m, n, k) = (40, 50, 9)  // 12 products of 2,000 elements: enough to be split
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = Tensor<Float>(converting: random([3, 4] + (ta ? [k, m] : [m, k]), seed: 5))
            let b = Tensor<Float>(converting: random([4] + (tb ? [n, k] : [k, n]), seed: 6))  // broadcast over 3
            nabla_set_threads(1)
            let whole = matmul(a, b, transposingA: ta, transposingB: tb).scalars
            nabla_set_threads(4)
            let split = matmul(a, b, transposingA: ta, transposingB: tb).scalars
            nabla_set_threads(1)
            for product in 0..<12 {
                let (aMatrix, bMatrix) = (a.scalars[(product * m * k)..<((product + 1) * m * k)],
                                          b.scalars[(product % 4 * n * k)..<((product % 4 + 1) * n * k)])
                let alone = matmul(Tensor(Array(aMatrix), shape: ta ? [k, m] : [m, k]),
                                   Tensor(Array(bMatrix), shape: tb ? [n, k] : [k, n]),
                                   transposingA: ta, transposingB: tb).scalars
                let range = (product * m * n)..<((product + 1) * m * n)
                #expect(sameBits(Array(whole[range]), alone) && sameBits(Array(split[range]), alone),
                        "Aᵀ \(ta), Bᵀ \(tb): product \(product) differs from the product of its matrices alone")
            }
        }
    }

    @Test func blockedProductsAreTheUnblockedToTheBit() {
        let (m, n, k) = Self.blockedShape
        expectSameBits(m: m, n: n, k: k, "blocks change the product") { nabla_allow_gemm_blocking($0 ? 1 : 0) }
    }

    @Test func avx2Path() {
        nabla_limit_kernels(NABLA_ISA_AVX2)  // on a machine with AVX-512, the path it would not take
        defer { nabla_limit_kernels(-1) }
        #expect(nabla_kernel_isa() <= NABLA_ISA_AVX2)
        checkAllShapes()
        checkSigmoid()
    }

    /// The product at (m, n, k) — every transpose, written and accumulated, in Float and Double,
    /// with NaN and infinities among the operands — under `setting(true)` and under
    /// `setting(false)`, compared bit for bit; `setting(true)` is left in force.
    func expectSameBits(m: Int, n: Int, k: Int, _ difference: String, setting: (Bool) -> Void) {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for accumulate: Int32 in [0, 1] {
                expectSameProduct(Float.self, m: m, n: n, k: k, ta: ta, tb: tb, difference, setting: setting) {
                    nabla_sgemm(ta ? 1 : 0, tb ? 1 : 0, m, n, k, -0.75, $0, $1, $2, accumulate)
                }
                expectSameProduct(Double.self, m: m, n: n, k: k, ta: ta, tb: tb, difference, setting: setting) {
                    nabla_dgemm(ta ? 1 : 0, tb ? 1 : 0, m, n, k, -0.75, $0, $1, $2, accumulate)
                }
            }
        }
    }

    func expectSameProduct<S: TensorScalar>(_: S.Type, m: Int, n: Int, k: Int, ta: Bool, tb: Bool, _ difference: String,
                                            setting: (Bool) -> Void,
                                            gemm: (UnsafePointer<S>, UnsafePointer<S>, UnsafeMutablePointer<S>) -> Void) {
        var a = Tensor<S>(converting: random(ta ? [k, m] : [m, k], seed: 3)).scalars
        let b = Tensor<S>(converting: random(tb ? [n, k] : [k, n], seed: 4)).scalars
        if a.count > 3 { (a[1], a[a.count / 2], a[a.count - 1]) = (.nan, .infinity, -.infinity) }
        func run(_ first: Bool) -> [S] {
            setting(first)
            defer { setting(true) }
            var c = (0..<m * n).map { S($0 % 7) - 3 }  // what an accumulating product adds onto
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in gemm(pa.baseAddress!, pb.baseAddress!, &c) } }
            return c
        }
        let first = run(true)
        #expect(sameBits(first, run(false)), "(\(m), \(n), \(k)), Aᵀ \(ta), Bᵀ \(tb), \(S.self): \(difference)")
        if m > 3 { #expect(first.contains { $0.isNaN } && first.contains { $0.isFinite }) }
    }

    @Test(.enabled(if: nabla_kernel_isa() == NABLA_ISA_AVX512, "the processor has no AVX-512F"))
    func widePathIsAVX2ToTheBit() {
        defer { nabla_set_threads(0); nabla_set_parallel_threshold(0) }
        for threads in [1, 4] {
            nabla_set_threads(threads)
            nabla_set_parallel_threshold(threads == 1 ? 0 : 1)
            for (m, n, k) in Self.shapes + [(40, 100, 700), (10, 1000, 64), (100, 784, 30), (30, 784, 10), Self.blockedShape] {
                expectSameBits(m: m, n: n, k: k, "the wide path differs from AVX2's") { nabla_limit_kernels($0 ? -1 : NABLA_ISA_AVX2) }
            }
        }
    }

    /// The optimizers' updates, ReLU's gradient and pixel conversion — loops compiled once per
    /// instruction set — give AVX2's bits on AVX-512, NaN, infinities and subnormals included.
    @Test(.enabled(if: nabla_kernel_isa() == NABLA_ISA_AVX512, "the processor has no AVX-512F"))
    func loopKernelsOnAVX512AreAVX2ToTheBit() {
        let count = 1_037  // whole 16-float vectors and a tail
        func values(_ seed: UInt64) -> [Float] {
            var v = Tensor<Float>(converting: random([count], seed: seed)).scalars
            (v[3], v[500], v[1_000], v[7]) = (.nan, .infinity, -.infinity, .leastNormalMagnitude / 4)
            return v
        }
        /// Runs `kernel` on fresh copies of the same operands on both paths; compares what it wrote.
        func expectSame(_ name: String, _ kernel: (inout [Float], inout [Float], inout [Float], [Float]) -> Void) {
            func run() -> [[Float]] {
                var (w, m, v) = (values(1), values(2).map { $0 * $0 }, values(3).map(abs))
                kernel(&w, &m, &v, values(4))
                return [w, m, v]
            }
            let (wide, narrow) = onDetectedAndAVX2Paths(run)
            #expect(sameBits(wide.joined().map { $0 }, narrow.joined().map { $0 }), "\(name): AVX-512 and AVX2 differ")
        }
        expectSame("SGD") { w, _, _, g in nabla_sgd_step_f32(&w, g, count, 0.1, 0.01) }
        expectSame("momentum") { w, m, _, g in nabla_momentum_step_f32(&w, &m, g, count, 0.1, 0.9, 1, 0.01, 1, 0) }
        expectSame("Adam") { w, m, v, g in nabla_adam_step_f32(&w, &m, &v, g, count, 0.01, 0.9, 0.999, 1.2, 1e-8, 0.01) }
        expectSame("ReLU's gradient") { w, m, _, g in nabla_relu_gradient_f32(w, g, &m, count) }
        expectSame("square root") { w, m, _, _ in nabla_sqrt_f32(w, &m, count) }
        let bytes = (0..<3 * count).map { UInt8(truncatingIfNeeded: $0 &* 37) }, rows = [2, 0, 1]
        expectSame("pixel conversion") { w, _, _, _ in
            w = [Float](repeating: 0, count: 3 * count)
            nabla_gather_bytes_to_float(bytes, rows, 3, count, 1 / 256, &w)
        }
    }

    @Test func squareRootsAreCorrectlyRounded() {
        // The vector kernel against the scalar square root, which IEEE 754 rounds correctly: the
        // same bits, on the detected path, AVX2's and the portable one, with a ragged tail.
        func expectScalarBits<S: TensorScalar>(_: S.Type, _ kernel: (UnsafePointer<S>, UnsafeMutablePointer<S>, Int) -> Void) {
            var x = Tensor<S>(converting: random([1_037], seed: 9)).scalars.map { $0 * $0 * 1e3 }
            x.replaceSubrange(0..<8, with: [-0.0, 0, -1, .nan, .infinity, -.infinity, S.leastNonzeroMagnitude, S.greatestFiniteMagnitude])
            for isa in [-1, NABLA_ISA_AVX2, NABLA_ISA_PORTABLE] {
                nabla_limit_kernels(isa)
                var y = [S](repeating: 7, count: x.count)
                kernel(x, &y, x.count)
                #expect(sameBits(y, x.map { $0.squareRoot() }), "\(S.self), kernels limited to \(isa): not the correctly rounded root")
            }
            nabla_limit_kernels(-1)
        }
        expectScalarBits(Float.self) { nabla_sqrt_f32($0, $1, $2) }
        expectScalarBits(Double.self) { nabla_sqrt_f64($0, $1, $2) }
    }

    @Test func portablePath() {
        nabla_limit_kernels(NABLA_ISA_PORTABLE)
        defer { nabla_limit_kernels(-1) }
        #expect(nabla_kernel_isa() == 0)
        checkAllShapes()
        checkSigmoid()
    }
}
