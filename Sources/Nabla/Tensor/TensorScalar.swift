import CNablaKernels
import RealModule

/// A floating-point type a ``Tensor`` can hold: `Float` or `Double`.
///
/// All of Nabla is written once, generically over this protocol. The requirements beyond
/// `Real` are the few bulk operations that must run as specialised machine code for each type
/// (the matrix product), plus what checkpoints need to name the type.
public protocol TensorScalar: BinaryFloatingPoint, Real, Sendable, CustomStringConvertible {
    /// Row-major C = scale·op(A)·op(B) (or C += … when `accumulate`); see
    /// ``Tensor/matmul(_:_:transposingA:transposingB:)``.
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Self>, b: UnsafePointer<Self>, c: UnsafeMutablePointer<Self>,
        scale: Self, accumulate: Bool)

    /// Row r of `dst` = row `rows[r]` of the byte matrix at `base` (rows of `rowLength`) · scale:
    /// a batch of images (say) gathered from their bytes to this type, in bulk.
    static func gather(rows: UnsafeBufferPointer<Int>, of base: UnsafePointer<UInt8>, rowLength: Int, scale: Self,
                       into dst: UnsafeMutablePointer<Self>)

    /// w[i] −= rate·(g[i] + decay·w[i]) over `count` elements: plain SGD's step, in bulk.
    static func sgdStep(_ w: UnsafeMutablePointer<Self>, gradient g: UnsafePointer<Self>, count: Int, rate: Self, decay: Self)

    /// y[i] = σ(x[i]) = 1 / (1 + e^−x[i]) over `count` elements, in bulk.
    static func sigmoid(_ x: UnsafePointer<Self>, into y: UnsafeMutablePointer<Self>, count: Int)

    /// The short name of the type in messages and files: `"Float"` or `"Double"`.
    static var typeName: String { get }
}

extension TensorScalar {
    /// Row-major C = op(A)·op(B), or C += op(A)·op(B) when `accumulate`.
    @inlinable
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Self>, b: UnsafePointer<Self>, c: UnsafeMutablePointer<Self>, accumulate: Bool
    ) {
        gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, b: b, c: c,
             scale: 1, accumulate: accumulate)
    }
}

extension Float: TensorScalar {
    /// Single-precision matrix product through the run-time-dispatched C kernel.
    @inlinable
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
        scale: Float, accumulate: Bool
    ) {
        nabla_sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, scale, a, b, c, accumulate ? 1 : 0)
    }

    /// Bytes to Float through the C kernel.
    @inlinable
    public static func gather(rows: UnsafeBufferPointer<Int>, of base: UnsafePointer<UInt8>, rowLength: Int, scale: Float,
                              into dst: UnsafeMutablePointer<Float>) {
        nabla_gather_bytes_to_float(base, rows.baseAddress, rows.count, rowLength, scale, dst)
    }

    /// SGD's step through the C kernel.
    @inlinable
    public static func sgdStep(_ w: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>, count: Int, rate: Float, decay: Float) {
        nabla_sgd_step_f32(w, g, count, rate, decay)
    }

    /// The logistic function through the vectorised C kernel (relative error about 2e-7).
    @inlinable
    public static func sigmoid(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        nabla_sigmoid_f32(x, y, count)
    }

    /// `"Float"`.
    public static var typeName: String { "Float" }
}

extension Double: TensorScalar {
    /// Double-precision matrix product through the run-time-dispatched C kernel.
    @inlinable
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Double>, b: UnsafePointer<Double>, c: UnsafeMutablePointer<Double>,
        scale: Double, accumulate: Bool
    ) {
        nabla_dgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, scale, a, b, c, accumulate ? 1 : 0)
    }

    /// Bytes to Double through the C kernel.
    @inlinable
    public static func gather(rows: UnsafeBufferPointer<Int>, of base: UnsafePointer<UInt8>, rowLength: Int, scale: Double,
                              into dst: UnsafeMutablePointer<Double>) {
        nabla_gather_bytes_to_double(base, rows.baseAddress, rows.count, rowLength, scale, dst)
    }

    /// SGD's step through the C kernel.
    @inlinable
    public static func sgdStep(_ w: UnsafeMutablePointer<Double>, gradient g: UnsafePointer<Double>, count: Int, rate: Double, decay: Double) {
        nabla_sgd_step_f64(w, g, count, rate, decay)
    }

    /// The logistic function, exactly as libm's exp allows: Double is for gradient checks, where
    /// every digit counts. Written per sign so that e^|x| never overflows.
    public static func sigmoid(_ x: UnsafePointer<Double>, into y: UnsafeMutablePointer<Double>, count: Int) {
        for i in 0..<count {
            let v = x[i]
            y[i] = v >= 0 ? 1 / (1 + .exp(-v)) : .exp(v) / (1 + .exp(v))
        }
    }

    /// `"Double"`.
    public static var typeName: String { "Double" }
}
