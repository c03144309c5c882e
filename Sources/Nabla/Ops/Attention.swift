import CNablaKernels

/// Scaled dot-product self-attention of every head at once, softmax(q·kᵀ/√d)·v, from the queries,
/// keys and values one projection makes (nanoGPT's `c_attn`).
///
/// `queryKeyValue` is [B, T, 3·width]: at each position the query, then the key, then the value,
/// each `heads` heads of d = width/heads side by side. The result is [B, T, width], the heads'
/// results side by side again, ready for the output projection. With `causal`, position t attends
/// only to positions s ≤ t. A query whose scores hold a NaN gets NaN, as in PyTorch.
///
/// ```swift
/// let qkv = projection(x)                                               // [B, T, 3·128]
/// let y = scaledDotProductAttention(queryKeyValue: qkv, heads: 4)       // [B, T, 128]
/// ```
///
/// One op: a head's scores and weights exist only while that head is being computed, in a
/// thread's scratch, never as a [B, heads, T, T] tensor, and the gradient recomputes them
/// (FlashAttention's trade of a product for memory, Dao et al., 2022, at the size of one head).
/// Queries, keys and values are read where the projection put them, so no head is copied out.
/// The value is the composite's — two `matmul`s around ``softmax(_:scaledBy:causal:)`` — to the
/// bit in Float, and when a gradient is itself differentiated (`creatingGraph`), the gradient is
/// that composite's, so attention is differentiable to any order.
public func scaledDotProductAttention<Scalar>(queryKeyValue: Tensor<Scalar>, heads: Int, causal: Bool = true) -> Tensor<Scalar> {
    let shape = queryKeyValue.shape
    check(heads > 0 && queryKeyValue.rank == 3 && shape[2] % (3 * heads) == 0,
          "scaledDotProductAttention: queries, keys and values of shape \(shape) do not split into 3 × \(heads) heads: "
          + "expected [batch, time, 3·width] with width a multiple of \(heads)")
    let op = FusedAttention<Scalar>(batch: shape[0], time: shape[1], heads: heads, size: shape[2] / (3 * heads), causal: causal)
    return op([queryKeyValue], shape: [shape[0], shape[1], shape[2] / 3])
}

/// Query, key and value of every position of a packed projection [B, T, 3·width], each
/// [B, heads, T, d]: the composite attention's operands (one copy, of which they are views).
func attentionHeads<Scalar>(_ queryKeyValue: Tensor<Scalar>, heads: Int) -> (query: Tensor<Scalar>, key: Tensor<Scalar>, value: Tensor<Scalar>) {
    let (batch, time, width) = (queryKeyValue.shape[0], queryKeyValue.shape[1], queryKeyValue.shape[2] / 3)
    let projected = queryKeyValue.reshaped(to: [batch, time, 3, heads, width / heads]).permuted([2, 0, 3, 1, 4])
    return (projected.rows(0..<1).squeezingShape(at: 0), projected.rows(1..<2).squeezingShape(at: 0),
            projected.rows(2..<3).squeezingShape(at: 0))
}

/// The composite attention's second half: the values mixed by softmax(`scores`/√d), causal or
/// not, with `weighting` applied to the weights first (attention dropout); `scores` is
/// [B, heads, queries, T], `value` [B, heads, T, d], the result [B, queries, heads·d].
func attentionMixing<Scalar>(_ scores: Tensor<Scalar>, _ value: Tensor<Scalar>, causal: Bool,
                             weighting: (Tensor<Scalar>) -> Tensor<Scalar> = { $0 }) -> Tensor<Scalar> {
    let (batch, heads, queries, size) = (value.shape[0], value.shape[1], scores.shape[2], value.shape[3])
    let weights = weighting(softmax(scores, scaledBy: 1 / Scalar(size).squareRoot(), causal: causal))
    // [B, heads, queries, d] → [B, queries, heads·d]: the heads side by side again.
    return matmul(weights, value).transposed(1, 2).reshaped(to: [batch, queries, heads * size])
}

/// ``scaledDotProductAttention(queryKeyValue:heads:causal:)`` as one op over [B, T, 3, heads, d].
struct FusedAttention<Scalar: TensorScalar>: TensorOperation {
    let batch, time, heads, size: Int
    let causal: Bool

    var name: String { causal ? "causal attention" : "attention" }
    var scale: Scalar { 1 / Scalar(size).squareRoot() }
    /// Two numbers a query of each head (its scores' maximum and the softmax's normaliser), from
    /// which the gradient recomputes the weights in one pass.
    var savedCount: Int { batch * heads * time * 2 }

    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (qkv, y, kept) = (buffers.input(0), buffers.output, buffers.saved)
        let causal: Int32 = causal ? 1 : 0
        if Scalar.isFloat {
            nabla_attention_f32(qkv.assuming(Float.self), y.assuming(Float.self), kept.assuming(Float.self),
                                batch, time, heads, size, Float(scale), causal)
        } else {
            nabla_attention_f64(qkv.assuming(Double.self), y.assuming(Double.self), kept.assuming(Double.self),
                                batch, time, heads, size, Double(scale), causal)
        }
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let qkv = call.inputs[0]
        // A reverse pass that is being recorded (to be differentiated again) takes the composite's
        // gradient, made of ops that have gradients of their own.
        if qkv.isTracked {
            let (heads, causal) = (heads, causal)
            return [gradient(at: qkv, creatingGraph: true) { qkv in
                let (query, key, value) = attentionHeads(qkv, heads: heads)
                return (attentionMixing(matmul(query, key, transposingB: true), value, causal: causal) * g).sum()
            }]
        }
        return [FusedAttentionGradient(attention: self)([qkv, call.saved, g], shape: qkv.shape)]
    }
}

/// The gradient of ``FusedAttention``'s input from [qkv, what it kept, the output's gradient]. Not
/// differentiable: a recorded reverse pass uses the composite instead.
struct FusedAttentionGradient<Scalar: TensorScalar>: TensorOperation {
    let attention: FusedAttention<Scalar>

    var name: String { "\(attention.name) gradient" }

    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (qkv, kept, g, dqkv, a) = (buffers.input(0), buffers.input(1), buffers.input(2), buffers.output, attention)
        let causal: Int32 = a.causal ? 1 : 0
        if Scalar.isFloat {
            nabla_attention_gradient_f32(qkv.assuming(Float.self), kept.assuming(Float.self), g.assuming(Float.self),
                                         dqkv.assuming(Float.self), a.batch, a.time, a.heads, a.size, Float(a.scale), causal)
        } else {
            nabla_attention_gradient_f64(qkv.assuming(Double.self), kept.assuming(Double.self), g.assuming(Double.self),
                                         dqkv.assuming(Double.self), a.batch, a.time, a.heads, a.size, Double(a.scale), causal)
        }
    }
}
