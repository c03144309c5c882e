/// Evaluates `body` at `inputs` and returns its value with a pullback: a function from an
/// upstream gradient (the shape of the value) to the gradient of each input.
///
/// This is the most general entry point; it handles non-scalar outputs. The pullback may be
/// called any number of times, and the recorded graph lives exactly as long as it does.
///
/// ```swift
/// let (y, pullback) = valueWithPullback(at: [x]) { x in x[0] * x[0] }
/// let dx = pullback(Tensor(ones: y.shape))[0]     // 2x
/// ```
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func valueWithPullback<Scalar>(
    at inputs: [Tensor<Scalar>], in body: ([Tensor<Scalar>]) -> Tensor<Scalar>
) -> (value: Tensor<Scalar>, pullback: (Tensor<Scalar>) -> [Tensor<Scalar>]) {
    let tape = Tape<Scalar>()
    let variables = inputs.map { tape.variable($0.detached) }
    let output = ThreadContext.tape.with(tape) { body(variables) }
    tape.isRecording = false  // the forward pass is over; nothing more joins this graph

    let leaves = variables.map { $0.tracking!.index }
    let outputIndex: Int? = output.tracking?.tape === tape ? output.tracking!.index : nil
    let shapes = inputs.map { $0.shape }
    let value = output.detached
    let pullback = { (upstream: Tensor<Scalar>) -> [Tensor<Scalar>] in
        check(upstream.shape == value.shape,
              "pullback: upstream gradient of shape \(upstream.shape) for an output of shape \(value.shape)")
        guard let outputIndex else {
            return shapes.map { Tensor(zeros: $0) }  // the output does not depend on the inputs
        }
        return tape.gradients(of: outputIndex, seed: upstream, at: leaves)
    }
    return (value, pullback)
}

/// Evaluates a scalar-valued `body` at `inputs` and returns its value and its gradient with
/// respect to each input.
///
/// A non-scalar output is a programming error here: use ``valueWithPullback(at:in:)`` and pass
/// the upstream gradient explicitly.
///
/// With `creatingGraph` (PyTorch's `create_graph=True`), called inside another differentiation
/// scope, the reverse pass is recorded in that scope like any other ops: the value and the
/// gradients are tracked, and can be differentiated again — a Hessian-vector product, or a
/// gradient penalty in a loss. An input that the scope already tracks is differentiated where it
/// stands (through everything that made it); any other becomes a new variable of the scope.
///
/// ```swift
/// let (_, hv) = valueWithGradient(at: x) { x in
///     (gradient(at: x, creatingGraph: true) { f($0) } * v).sum()   // H·v
/// }
/// ```
///
/// Outside any scope, `creatingGraph` changes nothing: there is nothing to differentiate the
/// gradient with.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func valueWithGradient<Scalar>(
    at inputs: [Tensor<Scalar>], creatingGraph: Bool = false, in body: ([Tensor<Scalar>]) -> Tensor<Scalar>
) -> (value: Tensor<Scalar>, gradients: [Tensor<Scalar>]) {
    if creatingGraph, let tape = Tape<Scalar>.current, tape.isRecording {
        let variables = inputs.map { $0.activeTape === tape ? $0 : tape.variable($0.detached) }
        let value = body(variables)
        check(value.count == 1, "gradient: the function's output has shape \(value.shape), not a single element")
        guard value.activeTape === tape else { return (value, inputs.map { Tensor(zeros: $0.shape) }) }
        let gradients = tape.gradients(of: value.tracking!.index, seed: Tensor(ones: value.shape),
                                       at: variables.map { $0.tracking!.index }, creatingGraph: true)
        return (value, gradients)
    }
    let (value, pullback) = valueWithPullback(at: inputs, in: body)
    check(value.count == 1,
          "gradient: the function's output has shape \(value.shape), not a single element; "
          + "use valueWithPullback(at:in:) with an explicit upstream gradient")
    return (value, pullback(Tensor(ones: value.shape)))
}

/// Evaluates a scalar-valued `body` at `x` and returns its value and gradient (recorded for
/// differentiating again, with `creatingGraph`: see ``valueWithGradient(at:creatingGraph:in:)-([Tensor<Scalar>],_,_)``).
///
/// ```swift
/// let (y, dy) = valueWithGradient(at: x) { x in (x * x).sum() }   // dy == 2x
/// ```
public func valueWithGradient<Scalar>(
    at x: Tensor<Scalar>, creatingGraph: Bool = false, in body: (Tensor<Scalar>) -> Tensor<Scalar>
) -> (value: Tensor<Scalar>, gradient: Tensor<Scalar>) {
    let (value, grads) = valueWithGradient(at: [x], creatingGraph: creatingGraph) { body($0[0]) }
    return (value, grads[0])
}

/// Evaluates a scalar-valued `body` at `x` and `y` and returns its value and both gradients.
public func valueWithGradient<Scalar>(
    at x: Tensor<Scalar>, _ y: Tensor<Scalar>,
    in body: (Tensor<Scalar>, Tensor<Scalar>) -> Tensor<Scalar>
) -> (value: Tensor<Scalar>, gradient: (Tensor<Scalar>, Tensor<Scalar>)) {
    let (value, grads) = valueWithGradient(at: [x, y]) { body($0[0], $0[1]) }
    return (value, (grads[0], grads[1]))
}

/// The gradient of a scalar-valued `body` at `x` (recorded for differentiating again, with
/// `creatingGraph`).
public func gradient<Scalar>(
    at x: Tensor<Scalar>, creatingGraph: Bool = false, in body: (Tensor<Scalar>) -> Tensor<Scalar>
) -> Tensor<Scalar> {
    valueWithGradient(at: x, creatingGraph: creatingGraph, in: body).gradient
}

/// The gradients of a scalar-valued `body` at `x` and `y`.
public func gradient<Scalar>(
    at x: Tensor<Scalar>, _ y: Tensor<Scalar>,
    in body: (Tensor<Scalar>, Tensor<Scalar>) -> Tensor<Scalar>
) -> (Tensor<Scalar>, Tensor<Scalar>) {
    valueWithGradient(at: x, y, in: body).gradient
}
