/// An op written against raw storage: its forward value and each input's vector–Jacobian product,
/// side by side, each writing into a buffer it is given.
///
/// Most ops record a pullback closure with ``Tensor/recorded(from:_:op:)``, which is all a new op
/// needs. The ops on a training step's hot path (``Tensor/matmul(_:_:transposingA:transposingB:)``,
/// ``Tensor/affine(_:weight:bias:)``, ``sigmoid(_:)``, ``tanh(_:)``, ``relu(_:)`` and the fused
/// costs) are primitives instead, and
/// the two drivers of a primitive run the same code:
/// - eagerly, ``callAsFunction(_:shape:name:)`` allocates the output (and, in the pullback, each
///   gradient) and records the op on the tape like any other;
/// - replayed, a ``TracedGradient`` runs the recorded primitives again over buffers it allocated
///   once, so a training step allocates nothing.
///
/// A primitive stores whatever sizes it needs (fixed when the op is called) and has one to three
/// inputs.
protocol Primitive<Scalar> {
    /// The scalar type.
    associatedtype Scalar: TensorScalar

    /// Writes the op's value into `output`.
    func forward(_ inputs: PrimitiveInputs<Scalar>, into output: UnsafeMutablePointer<Scalar>)

    /// Writes the gradient with respect to input `index` into `gradient`, given the gradient of
    /// the op's output (`upstream`), the inputs and the value `forward` computed from them.
    func backward(
        input index: Int, _ inputs: PrimitiveInputs<Scalar>, output: UnsafePointer<Scalar>,
        upstream: UnsafePointer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>)

    /// Takes plain SGD's step on input `index`, a parameter of `count` elements whose storage
    /// `inputs[index]` reads: w ← w − rate·(∂ + decay·w), where ∂ is the gradient
    /// ``backward(input:_:output:upstream:into:)`` would write. The default
    /// (``stepAlongGradient(input:_:output:upstream:parameter:count:rate:decay:scratch:)``) forms
    /// ∂ in `scratch` first; an op whose gradient is a product can add −rate·∂ onto w directly.
    func step(
        input index: Int, _ inputs: PrimitiveInputs<Scalar>, output: UnsafePointer<Scalar>,
        upstream: UnsafePointer<Scalar>, parameter: UnsafeMutablePointer<Scalar>, count: Int,
        rate: Scalar, decay: Scalar, scratch: UnsafeMutablePointer<Scalar>)
}

extension Primitive {
    func step(
        input index: Int, _ inputs: PrimitiveInputs<Scalar>, output: UnsafePointer<Scalar>,
        upstream: UnsafePointer<Scalar>, parameter: UnsafeMutablePointer<Scalar>, count: Int,
        rate: Scalar, decay: Scalar, scratch: UnsafeMutablePointer<Scalar>
    ) {
        stepAlongGradient(input: index, inputs, output: output, upstream: upstream, parameter: parameter,
                          count: count, rate: rate, decay: decay, scratch: scratch)
    }

    /// The gradient into `scratch`, then SGD's step along it: exactly what computing the gradient
    /// and then updating does.
    func stepAlongGradient(
        input index: Int, _ inputs: PrimitiveInputs<Scalar>, output: UnsafePointer<Scalar>,
        upstream: UnsafePointer<Scalar>, parameter: UnsafeMutablePointer<Scalar>, count: Int,
        rate: Scalar, decay: Scalar, scratch: UnsafeMutablePointer<Scalar>
    ) {
        backward(input: index, inputs, output: output, upstream: upstream, into: scratch)
        Scalar.sgdStep(parameter, gradient: scratch, count: count, rate: rate, decay: decay)
    }
}

/// The storage of a primitive's inputs, by position (at most three).
struct PrimitiveInputs<Scalar> {
    private let first: UnsafePointer<Scalar>
    private let second: UnsafePointer<Scalar>?
    private let third: UnsafePointer<Scalar>?

    init(_ first: UnsafePointer<Scalar>, _ second: UnsafePointer<Scalar>? = nil, _ third: UnsafePointer<Scalar>? = nil) {
        (self.first, self.second, self.third) = (first, second, third)
    }

    /// Input `index`'s elements.
    subscript(index: Int) -> UnsafePointer<Scalar> {
        switch index {
        case 0: first
        case 1: second!
        default: third!
        }
    }
}

extension Primitive {
    /// Runs the op on `inputs`, whose shapes the caller has checked, and returns its value of
    /// `shape`; if any input is tracked, records the op so that gradients flow back through
    /// ``backward(input:_:output:upstream:into:)``. The eager path. `name` names the op in messages.
    func callAsFunction(_ inputs: [Tensor<Scalar>], shape: [Int], name: StaticString = #function) -> Tensor<Scalar> {
        let value = Tensor<Scalar>(shape: shape) { output in
            withStorage(of: inputs) { forward($0, into: output) }
        }
        // Evaluation (nothing tracked) returns before any pullback is formed.
        guard inputs.contains(where: \.isTracked) else { return value }
        let saved = inputs.map(\.detached)
        let pullbacks = inputs.indices.map { index in
            { (upstream: Tensor<Scalar>) in
                Tensor(shape: saved[index].shape) { gradient in
                    withStorage(of: saved) { inputs in
                        value.withUnsafeBufferPointer { output in
                            upstream.withUnsafeBufferPointer { upstream in
                                backward(input: index, inputs, output: output.baseAddress!,
                                         upstream: upstream.baseAddress!, into: gradient)
                            }
                        }
                    }
                }
            }
        }
        return value.recorded(from: Array(zip(inputs, pullbacks)), name: name, primitive: self)
    }
}

/// Calls `body` with the storage of one to three tensors.
private func withStorage<Scalar, R>(of tensors: [Tensor<Scalar>], _ body: (PrimitiveInputs<Scalar>) -> R) -> R {
    tensors[0].withUnsafeBufferPointer { a in
        guard tensors.count > 1 else { return body(PrimitiveInputs(a.baseAddress!)) }
        return tensors[1].withUnsafeBufferPointer { b in
            guard tensors.count > 2 else { return body(PrimitiveInputs(a.baseAddress!, b.baseAddress!)) }
            return tensors[2].withUnsafeBufferPointer { c in
                body(PrimitiveInputs(a.baseAddress!, b.baseAddress!, c.baseAddress!))
            }
        }
    }
}
