/// A dropout mask: each element `scale` with probability `keep`, else zero, drawn from its one
/// input, the number of masks drawn before this one.
///
/// The mask is a pure function of (seed, count, element index) — a counter-based generator, each
/// element's bits a SplitMix64 hash of the three — so drawing it needs no generator state beyond
/// the count, which the ``Dropout`` layer keeps as ``LayerState``: a replayed step draws the same
/// bits as an eager one, and a checkpoint resumes the sequence. Dropout is then the product of
/// its input and the mask, whose gradient (g times the mask) comes with the product.
struct DropoutMask<Scalar: TensorScalar>: TensorOperation {
    let count: Int
    let keep: Double
    let scale: Scalar
    let seed: UInt64

    var name: String { "dropout mask" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let mask = buffers.output
        let key = splitMix64(seed ^ splitMix64(UInt64(buffers.input(0)[0])))
        // Kept when the top 32 bits, uniform on 0..<2³², fall below keep·2³².
        let threshold = UInt64((keep * 0x1p32).rounded())
        for i in 0..<count { mask[i] = splitMix64(key &+ UInt64(i)) >> 32 < threshold ? scale : 0 }
    }
}

/// Adds one to a one-element counter in place.
struct CountUp<Scalar: TensorScalar>: TensorOperation {
    func forward(_ buffers: OperationBuffers<Scalar>) { buffers.updating(0)[0] += 1 }
}
