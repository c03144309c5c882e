import CNablaKernels
import RealModule

/// How ``gelu(_:approximation:)`` evaluates Φ, the standard normal distribution function.
public enum GELUApproximation: Sendable {
    /// Φ(x) = ½(1 + erf(x/√2)) exactly: PyTorch's `gelu(x)`.
    case none
    /// ½(1 + tanh(√(2/π)(x + 0.044715x³))): GPT-2's and nanoGPT's form, PyTorch's
    /// `gelu(x, approximate="tanh")`.
    case tanh
}

/// The Gaussian error linear unit, x·Φ(x), element-wise: the transformer's activation, a ReLU
/// whose corner is smoothed by the normal distribution (Hendrycks and Gimpel, 2016).
public func gelu<Scalar>(_ x: Tensor<Scalar>, approximation: GELUApproximation = .none) -> Tensor<Scalar> {
    GELUFunction(approximation: approximation, order: 0, count: x.count)([x], shape: x.shape)
}

/// GELU and its derivatives in one op: order 0 is y = gelu(x) from [x]; order 1 and 2 are
/// g·gelu′(x) and g·gelu″(x) from [x, g]. Each order's gradient is the next order, so GELU is
/// twice differentiable; order 2 has no gradient of its own.
struct GELUFunction<Scalar: TensorScalar>: TensorOperation {
    let approximation: GELUApproximation
    let order: Int
    let count: Int

    var name: String { order == 0 ? "gelu" : "gelu derivative \(order)" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let x = buffers.input(0), out = buffers.output
        let g = order == 0 ? x : buffers.input(1)
        forEachChunk(count, (x, g, out, approximation, order)) { operands, chunk in
            let (x, g, out, approximation, order) = operands
            // Float's exact GELU and its gradient, the transformer's, run vectorised in C (its Φ
            // is within 6e-7 relative of Double's, KernelTests checks); Double, which gradient checks use, is exact.
            if Scalar.isFloat && approximation == .none && order < 2 {
                let (x, out, n) = (x.assuming(Float.self) + chunk.lowerBound, out.assuming(Float.self) + chunk.lowerBound, chunk.count)
                return order == 0 ? nabla_gelu_f32(x, out, n) : nabla_gelu_gradient_f32(x, g.assuming(Float.self) + chunk.lowerBound, out, n)
            }
            switch (approximation, order) {
            case (.none, 0): for i in chunk { out[i] = x[i] * Self.normalCDF(x[i]) }
            // gelu′ = Φ + xφ; gelu″ = φ(2 − x²).
            case (.none, 1): for i in chunk { out[i] = g[i] * (Self.normalCDF(x[i]) + x[i] * Self.normalPDF(x[i])) }
            case (.none, _): for i in chunk { out[i] = g[i] * Self.normalPDF(x[i]) * (2 - x[i] * x[i]) }
            case (.tanh, 0): for i in chunk { out[i] = x[i] / 2 * (1 + .tanh(Self.tanhArgument(x[i]))) }
            case (.tanh, 1):
                // With t = tanh(u), u = c(x + a x³): gelu′ = ½(1 + t) + ½x(1 − t²)u′.
                for i in chunk {
                    let (v, t) = (x[i], Scalar.tanh(Self.tanhArgument(x[i])))
                    out[i] = g[i] * ((1 + t) / 2 + v / 2 * (1 - t * t) * Self.tanhArgumentDerivative(v))
                }
            case (.tanh, _):
                // gelu″ = (1 − t²)(u′ − x t u′² + ½x u″), u″ = 6acx.
                for i in chunk {
                    let (v, t) = (x[i], Scalar.tanh(Self.tanhArgument(x[i])))
                    let du = Self.tanhArgumentDerivative(v)
                    let d2u: Scalar = 6 * Self.a * Self.c * v
                    let bracket: Scalar = du - v * t * du * du + v / 2 * d2u
                    out[i] = g[i] * (1 - t * t) * bracket
                }
            }
        }
    }

    func gradients(_ u: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        precondition(order < 2, "gelu's second derivative has no gradient: gelu is twice differentiable, not three times")
        let x = call.inputs[0]
        let next = GELUFunction(approximation: approximation, order: order + 1, count: count)
        if order == 0 { return [next([x, u], shape: x.shape)] }
        let g = call.inputs[1]
        return [call.needsGradient(0) ? next([x, u * g], shape: x.shape) : nil,
                call.needsGradient(1) ? self([x, u], shape: x.shape) : nil]
    }

    private static var c: Scalar { Scalar(0.7978845608028654) }   // √(2/π)
    private static var a: Scalar { Scalar(0.044715) }
    @inline(__always) private static func tanhArgument(_ x: Scalar) -> Scalar { c * (x + a * x * x * x) }
    @inline(__always) private static func tanhArgumentDerivative(_ x: Scalar) -> Scalar { c * (1 + 3 * a * x * x) }
    // ½erfc(−x/√2) rather than ½(1 + erf(x/√2)), which cancels to 0 in the left tail.
    @inline(__always) private static func normalCDF(_ x: Scalar) -> Scalar { .erfc(-x * Scalar(0.7071067811865476)) / 2 }
    @inline(__always) private static func normalPDF(_ x: Scalar) -> Scalar { .exp(-x * x / 2) * Scalar(0.3989422804014327) }
}
