extension Tensor {
    /// x·Wᵀ + b for a batch of rows x [m, in], weights W [out, in] and bias b [out]: a dense
    /// layer's forward pass as one op.
    ///
    /// The same as `matmul(x, w, transposingB: true) + b`, fused so that a training step records
    /// one node instead of two; its pullback is the textbook one: ∂x = g·W, ∂W = gᵀ·x,
    /// ∂b = Σ over rows of g.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func affine(_ x: Tensor, weight: Tensor, bias: Tensor) -> Tensor {
        check(x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1] && bias.shape == [weight.shape[0]],
              "affine: input \(x.shape), weight \(weight.shape) and bias \(bias.shape) do not fit [m, in], [out, in], [out]")
        let (m, n, k) = (x.shape[0], weight.shape[0], x.shape[1])
        // The bias is folded into the product: each row starts as b, and x·Wᵀ accumulates onto it.
        let value = product(x, weight, m: m, n: n, k: k, transposingA: false, transposingB: true, rowStart: bias)
        // Evaluation (nothing tracked) returns before any pullback is formed: no closures allocated.
        guard x.isTracked || weight.isTracked || bias.isTracked else { return value }
        let (savedX, savedW) = (x.detached, weight.detached)
        return value.recorded(
            from: x, { g in matmul(g, savedW) },
            and: weight, { g in matmul(g, savedX, transposingA: true) },
            and: bias, { g in g.sum(toShape: [n]) })
    }
}
