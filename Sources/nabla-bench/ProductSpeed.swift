import CNablaKernels
import Foundation
import Nabla

/// Matrix-product speed on one thread: Nabla's sgemm and, where one loads, a reference BLAS's at
/// the same shapes. A floor comes from the fastest product measured in the run, whichever
/// library computed it: a floor from Nabla's own products alone would flatter Nabla on a machine
/// where they are slow.
struct ProductSpeed {
    /// The reference BLAS, if one loaded.
    let reference: ReferenceBLAS?

    /// GFLOP/s of [m×k]·[k×n] (A stored [k×m] when `transposingA`, as a weight's gradient reads
    /// its input; B stored [n×k] when `transposingB`, as a Dense layer stores it), the best of several runs: Nabla's, and the reference's (nil without one).
    /// A reference whose product differs from Nabla's by more than rounding is an error, not a
    /// figure.
    func rates(m: Int, k: Int, n: Int, transposingA: Bool = false, transposingB: Bool = false) throws -> (nabla: Double, reference: Double?) {
        nabla_set_threads(1)
        defer { nabla_set_threads(0) }
        var rng = SeededGenerator(seed: 4)
        let a = Tensor<Float>(randomNormal: [m, k], using: &rng).scalars, b = Tensor<Float>(randomNormal: [k, n], using: &rng).scalars
        var (c, referenceC) = ([Float](repeating: 0, count: m * n), [Float](repeating: 0, count: m * n))
        let repeats = max(3, Int(2e9 / Double(2 * m * k * n)))
        let flops = 2 * Double(m * k * n)
        let nabla = flops / Benchmark.time(repeats) { nabla_sgemm(transposingA ? 1 : 0, transposingB ? 1 : 0, m, n, k, 1, a, b, &c, 0) } / 1e9
        guard let blas = reference else { return (nabla, nil) }
        let rate = flops / Benchmark.time(repeats) { blas.sgemm(transposingA, transposingB, m, n, k, a, b, &referenceC) } / 1e9
        // Sums of k products of unit normals: rounding differs by about √k·ε of their size.
        let difference = zip(c, referenceC).map { abs($0 - $1) }.max() ?? 0
        guard difference <= 1e-3 * Float(k).squareRoot() else {
            throw BenchmarkError("reference BLAS \(blas.path) computes [\(m)×\(k)]·[\(k)×\(n)] differently from Nabla (by up to \(difference))")
        }
        return (nabla, rate)
    }

    /// Measures and reports one shape's figures (`<key>_gflops`, and `blas_<key>_gflops` with a
    /// reference), returning the faster rate.
    @discardableResult
    func report(_ key: String, m: Int, k: Int, n: Int, transposingA: Bool = false, transposingB: Bool = false,
                label: String, to report: (String, Double, String, String) -> Void) throws -> Double {
        let (nabla, reference) = try rates(m: m, k: k, n: n, transposingA: transposingA, transposingB: transposingB)
        report("\(key)_gflops", nabla, "GFLOP/s", label)
        guard let reference else { return nabla }
        report("blas_\(key)_gflops", reference, "GFLOP/s", "  reference BLAS, the same")
        return max(nabla, reference)
    }
}

/// A BLAS loaded at run time — never linked, so that Nabla depends on none — for its `sgemm`,
/// one thread. Found at `--blas PATH`, `$NABLA_BLAS`, or the usual names of OpenBLAS, MKL and BLIS
/// on the library path. Either interface loads: 32-bit integers (`cblas_sgemm`) or 64-bit
/// (`cblas_sgemm64_`, and NumPy's bundled `scipy_cblas_sgemm64_`).
struct ReferenceBLAS {
    /// Where it was loaded from, as given to the loader.
    let path: String
    /// C = op(A)·op(B), row-major: A [m×k] or, transposing, [k×m]; B [k×n] or [n×k].
    let sgemm: (_ transposingA: Bool, _ transposingB: Bool, _ m: Int, _ n: Int, _ k: Int, UnsafePointer<Float>,
                UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void

    static let defaultNames = ["libopenblas.so.0", "libopenblas.so", "libmkl_rt.so.2", "libmkl_rt.so", "libblis.so.4", "libblis.so"]

    private typealias SGEMM32 = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
                                                UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    private typealias SGEMM64 = @convention(c) (Int32, Int32, Int32, Int, Int, Int, Float, UnsafePointer<Float>?, Int,
                                                UnsafePointer<Float>?, Int, Float, UnsafeMutablePointer<Float>?, Int) -> Void
    private typealias SetThreads = @convention(c) (Int32) -> Void

    /// The BLAS at `path`, or else at `$NABLA_BLAS`, or else the first of `defaultNames` that
    /// loads; nil when none was asked for and none loads. A library that was asked for and does
    /// not load, or has no sgemm, is an error that names it.
    static func load(_ path: String?) throws -> ReferenceBLAS? {
        let asked = path ?? ProcessInfo.processInfo.environment["NABLA_BLAS"]
        // Before the library starts its threads: OpenBLAS and BLIS read these when loaded.
        for variable in ["OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"] { setenv(variable, "1", 1) }
        if let asked {
            guard let handle = dlopen(asked, RTLD_NOW | RTLD_LOCAL) else {
                throw BenchmarkError("reference BLAS \(asked) does not load: \(String(cString: dlerror()))")
            }
            guard let blas = ReferenceBLAS(handle: handle, path: asked) else {
                throw BenchmarkError("reference BLAS \(asked) has no cblas_sgemm, cblas_sgemm64_ or scipy_cblas_sgemm64_")
            }
            return blas
        }
        for name in defaultNames {
            if let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL), let blas = ReferenceBLAS(handle: handle, path: name) { return blas }
        }
        return nil
    }

    private init?(handle: UnsafeMutableRawPointer, path: String) {
        for name in ["openblas_set_num_threads", "MKL_Set_Num_Threads", "bli_thread_set_num_threads"] {
            if let symbol = dlsym(handle, name) { unsafeBitCast(symbol, to: SetThreads.self)(1) }
        }
        // CBLAS's enumerations: row-major 101, no transpose 111, transpose 112.
        if let symbol = dlsym(handle, "cblas_sgemm") {
            let call = unsafeBitCast(symbol, to: SGEMM32.self)
            sgemm = { transposingA, transposingB, m, n, k, a, b, c in
                call(101, transposingA ? 112 : 111, transposingB ? 112 : 111, Int32(m), Int32(n), Int32(k), 1, a,
                     Int32(transposingA ? m : k), b, Int32(transposingB ? k : n), 0, c, Int32(n))
            }
        } else if let symbol = dlsym(handle, "cblas_sgemm64_") ?? dlsym(handle, "scipy_cblas_sgemm64_") {
            let call = unsafeBitCast(symbol, to: SGEMM64.self)
            sgemm = { transposingA, transposingB, m, n, k, a, b, c in
                call(101, transposingA ? 112 : 111, transposingB ? 112 : 111, m, n, k, 1, a, transposingA ? m : k, b,
                     transposingB ? k : n, 0, c, n)
            }
        } else {
            return nil
        }
        self.path = path
    }
}
