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
    return fusedAttention(queryKeyValue, heads: heads, causal: causal, dropout: nil)
}

/// ``scaledDotProductAttention(queryKeyValue:heads:causal:)`` with, if `dropout` is given, the
/// weights dropped by the mask it draws after `count` others (a ``Dropout`` layer's, in training:
/// see `Dropout.dropping(_:)`), as the composite would drop them. The gradient draws the mask
/// again from `count`, so it must not change meanwhile: give a copy of a counter.
func fusedAttention<Scalar>(_ queryKeyValue: Tensor<Scalar>, heads: Int, causal: Bool,
                            dropout: (draw: DropoutDraw<Scalar>, count: Tensor<Scalar>)?) -> Tensor<Scalar> {
    let shape = queryKeyValue.shape
    let op = FusedAttention<Scalar>(batch: shape[0], time: shape[1], heads: heads, size: shape[2] / (3 * heads), causal: causal,
                                    dropout: dropout?.draw)
    return op([queryKeyValue] + (dropout.map { [$0.count] } ?? []), shape: [shape[0], shape[1], shape[2] / 3])
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

/// ``fusedAttention(_:heads:causal:dropout:)`` as one op over [B, T, 3, heads, d], and the count of
/// masks drawn before this one when it drops.
struct FusedAttention<Scalar: TensorScalar>: TensorOperation {
    let batch, time, heads, size: Int
    let causal: Bool
    let dropout: DropoutDraw<Scalar>?

    var name: String { causal ? "causal attention" : "attention" }
    var scale: Scalar { 1 / Scalar(size).squareRoot() }
    /// Two numbers a query of each head (its scores' maximum and the softmax's normaliser), from
    /// which the gradient recomputes the weights in one pass.
    var savedCount: Int { batch * heads * time * 2 }

    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (qkv, y, kept) = (buffers.input(0), buffers.output, buffers.saved)
        withMask(after: dropout == nil ? 0 : buffers.input(1)[0]) { mask in
            let causal: Int32 = causal ? 1 : 0
            if Scalar.isFloat {
                nabla_attention_f32(qkv.assuming(Float.self), y.assuming(Float.self), kept.assuming(Float.self),
                                    batch, time, heads, size, Float(scale), causal, mask)
            } else {
                nabla_attention_f64(qkv.assuming(Double.self), y.assuming(Double.self), kept.assuming(Double.self),
                                    batch, time, heads, size, Double(scale), causal, mask)
            }
        }
    }

    /// `body` with the kernels' description of the dropout mask drawn after `count` others, or nil
    /// without dropout.
    func withMask(after count: Scalar, _ body: (UnsafePointer<nabla_dropout>?) -> Void) {
        guard var mask = dropout?.mask(after: count) else { return body(nil) }
        withUnsafePointer(to: &mask) { body($0) }
    }

    /// The input's gradient (the count of masks drawn, with dropout, gets none). A reverse pass
    /// that is being recorded takes the composite's, made of ops with gradients of their own.
    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        if call.isRecordingReversePass {
            let (heads, causal, dropout) = (heads, causal, dropout)
            return call.compositeGradients(along: g) { inputs in
                let (query, key, value) = attentionHeads(inputs[0], heads: heads)
                return attentionMixing(matmul(query, key, transposingB: true), value, causal: causal) { weights in
                    dropout.map { weights * DropoutMask(count: weights.count, draw: $0)([inputs[1]], shape: weights.shape) } ?? weights
                }
            }
        }
        let gradient = FusedAttentionGradient(attention: self)([call.inputs[0], call.saved, g] + call.inputs.dropFirst(),
                                                               shape: call.inputs[0].shape)
        return [gradient] + call.inputs.dropFirst().map { _ in nil }
    }
}

/// The gradient of ``FusedAttention``'s input from [qkv, what it kept, the output's gradient] and,
/// with dropout, the count its mask was drawn after. Not differentiable: a recorded reverse pass
/// uses the composite instead.
struct FusedAttentionGradient<Scalar: TensorScalar>: TensorOperation {
    let attention: FusedAttention<Scalar>

    var name: String { "\(attention.name) gradient" }

    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (qkv, kept, g, dqkv, a) = (buffers.input(0), buffers.input(1), buffers.input(2), buffers.output, attention)
        a.withMask(after: a.dropout == nil ? 0 : buffers.input(3)[0]) { mask in
            let causal: Int32 = a.causal ? 1 : 0
            if Scalar.isFloat {
                nabla_attention_gradient_f32(qkv.assuming(Float.self), kept.assuming(Float.self), g.assuming(Float.self),
                                             dqkv.assuming(Float.self), a.batch, a.time, a.heads, a.size, Float(a.scale),
                                             causal, mask)
            } else {
                nabla_attention_gradient_f64(qkv.assuming(Double.self), kept.assuming(Double.self), g.assuming(Double.self),
                                             dqkv.assuming(Double.self), a.batch, a.time, a.heads, a.size, Double(a.scale),
                                             causal, mask)
            }
        }
    }
}
