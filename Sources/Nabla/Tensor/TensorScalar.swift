import CNablaKernels
import RealModule

/// A floating-point type a ``Tensor`` can hold: `Float` or `Double`.
///
/// All of Nabla is written once, generically over this protocol. The requirements beyond `Real`
/// are the matrix product, which every layer runs and which must be specialised machine code for
/// each type, and the type's name for checkpoints. Other kernels with a form per type are called
/// by the op that needs them (see `KernelDispatch.swift`).
public protocol TensorScalar: BinaryFloatingPoint, Real, Sendable, CustomStringConvertible {
    /// Row-major C = scale·op(A)·op(B) (or C += … when `accumulate`); see
    /// ``Tensor/matmul(_:_:transposingA:transposingB:)``.
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Self>, b: UnsafePointer<Self>, c: UnsafeMutablePointer<Self>,
        scale: Self, accumulate: Bool)

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

    /// `"Double"`.
    public static var typeName: String { "Double" }
}
