import CNablaKernels

/// How a dropout layer's masks are drawn: each element `scale` with probability `keep`, else zero.
///
/// A mask is a pure function of (seed, count, element index) — a counter-based generator, each
/// element's bits a SplitMix64 hash of the three — so drawing it needs no generator state beyond
/// the count of masks drawn before it, which the ``Dropout`` layer keeps as ``LayerState``: a
/// replayed step draws the same bits as an eager one, a checkpoint resumes the sequence, and an op
/// that applies a mask itself (the fused attention) draws any element again when it needs it.
struct DropoutDraw<Scalar: TensorScalar> {
    let keep: Double
    let scale: Scalar
    let seed: UInt64

    /// The kernels' description of the mask drawn after `count` others.
    func mask(after count: Scalar) -> nabla_dropout {
        // Kept when the top 32 bits, uniform on 0..<2³², fall below keep·2³².
        nabla_dropout(key: splitMix64(seed ^ splitMix64(UInt64(count))), threshold: UInt64((keep * 0x1p32).rounded()),
                      scale: Double(scale))
    }
}

/// A dropout mask of `count` elements, drawn after as many masks as its one input holds. Dropout
/// is then the product of its input and the mask, whose gradient (g times the mask) comes with
/// the product.
struct DropoutMask<Scalar: TensorScalar>: TensorOperation {
    let count: Int
    let draw: DropoutDraw<Scalar>

    var name: String { "dropout mask" }

    func forward(_ buffers: OperationBuffers<Scalar>) {
        var mask = draw.mask(after: buffers.input(0)[0])
        if Scalar.isFloat {
            nabla_dropout_mask_f32(buffers.output.assuming(Float.self), count, &mask)
        } else {
            nabla_dropout_mask_f64(buffers.output.assuming(Double.self), count, &mask)
        }
    }
}

/// Adds one to a one-element counter in place.
struct CountUp<Scalar: TensorScalar>: TensorOperation {
    func forward(_ buffers: OperationBuffers<Scalar>) { buffers.updating(0)[0] += 1 }
}
