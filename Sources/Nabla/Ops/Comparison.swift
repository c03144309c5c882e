// Comparisons give masks — tensors of 1 where the comparison holds and 0 where it does not — and
// `where` picks elements by a mask. A mask is an ordinary tensor: a product of masks is their
// logical and, 1 − mask their negation. Masks carry no gradient (a comparison is piecewise
// constant); what flows through `where` flows to the operand that was picked.

extension Tensor {
    /// 1 where `lhs < rhs`, else 0, broadcasting.
    public static func .< (lhs: Tensor, rhs: Tensor) -> Tensor { apply(.less, lhs, rhs, ".<") }
    /// 1 where `lhs <= rhs`, else 0, broadcasting.
    public static func .<= (lhs: Tensor, rhs: Tensor) -> Tensor { apply(.lessOrEqual, lhs, rhs, ".<=") }
    /// 1 where `lhs > rhs`, else 0, broadcasting.
    public static func .> (lhs: Tensor, rhs: Tensor) -> Tensor { apply(.greater, lhs, rhs, ".>") }
    /// 1 where `lhs >= rhs`, else 0, broadcasting.
    public static func .>= (lhs: Tensor, rhs: Tensor) -> Tensor { apply(.greaterOrEqual, lhs, rhs, ".>=") }
    /// 1 where `lhs == rhs`, else 0, broadcasting (NaN equals nothing).
    public static func .== (lhs: Tensor, rhs: Tensor) -> Tensor { apply(.equal, lhs, rhs, ".==") }
    /// 1 where `lhs != rhs`, else 0, broadcasting (NaN differs from everything).
    public static func .!= (lhs: Tensor, rhs: Tensor) -> Tensor { apply(.notEqual, lhs, rhs, ".!=") }

    /// 1 where an element is below `rhs`, else 0.
    public static func .< (lhs: Tensor, rhs: Scalar) -> Tensor { lhs .< Tensor(rhs) }
    /// 1 where an element is at most `rhs`, else 0.
    public static func .<= (lhs: Tensor, rhs: Scalar) -> Tensor { lhs .<= Tensor(rhs) }
    /// 1 where an element is above `rhs`, else 0.
    public static func .> (lhs: Tensor, rhs: Scalar) -> Tensor { lhs .> Tensor(rhs) }
    /// 1 where an element is at least `rhs`, else 0.
    public static func .>= (lhs: Tensor, rhs: Scalar) -> Tensor { lhs .>= Tensor(rhs) }
    /// 1 where an element equals `rhs`, else 0.
    public static func .== (lhs: Tensor, rhs: Scalar) -> Tensor { lhs .== Tensor(rhs) }
    /// 1 where an element differs from `rhs`, else 0.
    public static func .!= (lhs: Tensor, rhs: Scalar) -> Tensor { lhs .!= Tensor(rhs) }

    /// `a`'s element where `mask` is nonzero, `b`'s elsewhere; the three broadcast together
    /// (PyTorch's `torch.where`). The gradient flows to whichever operand each element came from.
    ///
    /// ```swift
    /// let leaky = Tensor.where(x .> 0, x, x * 0.01)
    /// ```
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func `where`(_ mask: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let shape = broadcastShape(broadcastShape(mask.shape, a.shape, op: "where"), b.shape, op: "where")
        // A one-element operand (a fill value, a zero) is read in place rather than repeated.
        let operands = [mask, a, b].map { $0.count == 1 ? $0 : $0.broadcast(to: shape) }
        return Select<Scalar>(count: shape.reduce(1, *), single: operands.map { $0.count == 1 })(operands, shape: shape)
    }

    /// This tensor with `value` wherever `mask` is nonzero (PyTorch's `masked_fill`): attention's
    /// causal mask is `scores.filled(where: .causalMask(size: t), with: -.infinity)`.
    public func filled(where mask: Tensor, with value: Scalar) -> Tensor {
        Tensor.where(mask, Tensor(value), self)
    }

    /// A [size, size] mask with 1 where key position j comes after query position i (j > i):
    /// what a causal (autoregressive) model must not attend to. Built on the CPU from the size
    /// alone, never from a tensor's values.
    public static func causalMask(size: Int) -> Tensor {
        check(size >= 0, "causalMask: size \(size) must not be negative")
        return Tensor(shape: [size, size]) { out in
            for i in 0..<size { for j in 0..<size { out[i * size + j] = j > i ? 1 : 0 } }
        }
    }

    /// Every element limited to `[min, max]` (NaN stays NaN), as PyTorch's `clamp`. The
    /// gradient passes where the element lies within the bounds, ends included, and is 0 elsewhere.
    public func clamped(min lower: Scalar = -.infinity, max upper: Scalar = .infinity) -> Tensor {
        check(lower <= upper, "clamped: min \(lower) is above max \(upper)")
        return applying(.clamp(lower, upper))
    }

    /// How many elements equal those of `other` at the same position (same shape required).
    /// With predictions and labels as tensors, this is the count of correct answers.
    public func countEqual(_ other: Tensor) -> Int {
        check(shape == other.shape, "countEqual: shapes \(shape) and \(other.shape) differ")
        return zip(scalars, other.scalars).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
    }
}

/// Picks `a`'s element where the mask is nonzero, else `b`'s. Inputs: the mask, a and b, each
/// either of the output's shape or a single element read everywhere.
struct Select<Scalar: TensorScalar>: TensorOperation {
    let count: Int
    /// Which of (mask, a, b) is a single element.
    let single: [Bool]

    var name: String { "where" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (mask, a, b, y) = (buffers.input(0), buffers.input(1), buffers.input(2), buffers.output)
        let (sm, sa, sb) = (single[0] ? 0 : 1, single[1] ? 0 : 1, single[2] ? 0 : 1)
        forEachChunk(count, (mask, a, b, y, sm, sa, sb)) { operands, chunk in
            let (mask, a, b, y, sm, sa, sb) = operands
            // The common cases as loops of their own, which vectorise: a mask filling with one
            // value (attention's −∞), and its gradient's zeros.
            switch (sm, sa, sb) {
            case (1, 1, 1): for i in chunk { y[i] = mask[i] != 0 ? a[i] : b[i] }
            case (1, 0, 1): let value = a[0]; for i in chunk { y[i] = mask[i] != 0 ? value : b[i] }
            case (1, 1, 0): let value = b[0]; for i in chunk { y[i] = mask[i] != 0 ? a[i] : value }
            default: for i in chunk { y[i] = mask[i * sm] != 0 ? a[i * sa] : b[i * sb] }
            }
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let (mask, a, b) = (call.inputs[0], call.inputs[1], call.inputs[2])
        let zero = Tensor<Scalar>(0)
        return [nil,
                call.needsGradient(1) ? Tensor.where(mask, g, zero).sum(toShape: a.shape) : nil,
                call.needsGradient(2) ? Tensor.where(mask, zero, g).sum(toShape: b.shape) : nil]
    }
}

extension Array where Element == Int {
    /// How many positions hold the same value in both arrays, such as predicted and true
    /// labels: `outputs.argmax(alongAxis: 1).countEqual(labels)`.
    public func countEqual(_ other: [Int]) -> Int {
        check(count == other.count, "countEqual: \(count) values against \(other.count)")
        return zip(self, other).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
    }
}
