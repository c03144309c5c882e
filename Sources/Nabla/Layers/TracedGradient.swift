/// A loss's value and its gradient with respect to a model's parameters, for one batch of inputs
/// and targets at a time: recorded once, then replayed over buffers it allocated then, so that a
/// training step builds no graph and allocates nothing.
///
/// ```swift
/// let lossAndGradient = TracedGradient(of: model) { model, x, y in QuadraticLoss()(model(x), y) }
/// for batch in batches {
///     let (loss, gradients) = lossAndGradient(batch.images, batch.labels)
///     optimizer.update(&model, along: gradients)
/// }
/// ```
///
/// ``step(_:_:optimizer:)`` does both of the loop's lines in one replay, and faster with plain SGD.
///
/// It gives the same values and gradients as ``valueWithGradient(at:in:)->(Tensor<Model.Scalar>,_)``
/// (the eager path, which it is tested against), on these terms:
/// - The first call at given input shapes runs the function once, eagerly, and records what it
///   did. Later calls at those shapes replay that record with new inputs and the parameters'
///   current values; new shapes (a smaller last batch) are traced again, and kept.
/// - A record can be replayed only if every op in it is one of the ``Tensor`` ops written as a
///   replayable primitive (`matmul`, the dense layer's `affine`, `sigmoid`, `tanh`, `relu`, the
///   quadratic and sigmoid cross-entropy costs) and reads only parameters, the two inputs and results of such ops. Otherwise every
///   call runs eagerly, with the same results, and ``eagerReason`` says why (the call that found
///   out runs the function a second time, eagerly).
/// - Like any trace, the record keeps the path the function took: a function that branches on
///   the *values* of its inputs would keep the branch of its first call.
///
/// The gradients are returned as values. A step reuses their storage only when the previous
/// step's ``Gradients`` is gone; one you keep is copied first, never overwritten.
///
/// An instance keeps reused buffers, so it is meant for one thread at a time; its plans (one per
/// input shape, the most recent ``maximumPlans``) live as long as it does.
public final class TracedGradient<Scalar: TensorScalar> {
    /// How many traced input shapes are kept; tracing one more drops the oldest.
    public static var maximumPlans: Int { 8 }

    private let parameters: [NamedParameter<Scalar>]
    private let function: (Tensor<Scalar>, Tensor<Scalar>) -> Tensor<Scalar>
    private var plans: [ReplayPlan<Scalar>] = []
    private var gradientTensors: [Tensor<Scalar>]
    private let names: [String]
    private var value = Tensor<Scalar>(0)

    /// Why calls run eagerly instead of replaying, or nil while they replay.
    public private(set) var eagerReason: String?

    /// Prepares to differentiate `function` — typically a loss of the model's output for inputs
    /// and targets — with respect to every parameter of `model`. Nothing runs until the first call.
    public init<Model: Layer>(
        of model: Model, _ function: @escaping (Model, Tensor<Scalar>, Tensor<Scalar>) -> Tensor<Scalar>
    ) where Model.Scalar == Scalar {
        parameters = model.parameters
        self.function = { input, target in function(model, input, target) }
        names = parameters.map(\.name)
        gradientTensors = parameters.map { Tensor(zeros: $0.parameter.wrappedValue.shape) }
    }

    /// The function's value at `input` and `target`, and its gradient with respect to each
    /// parameter.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func callAsFunction(_ input: Tensor<Scalar>, _ target: Tensor<Scalar>) -> (value: Tensor<Scalar>, gradients: Gradients<Scalar>) {
        guard let value = replayed(input, target, sgd: nil) else {
            return valueWithGradient(of: parameters) { function(input, target) }
        }
        return (value, Gradients(names: names, tensors: gradientTensors))
    }

    /// One training step: the function's value at `input` and `target`, after which every
    /// parameter has taken `optimizer`'s step along its gradient. The same, to the bit, as
    ///
    /// ```swift
    /// let (value, gradients) = lossAndGradient(input, target)
    /// optimizer.update(&model, along: gradients)
    /// ```
    ///
    /// but when the optimizer is plain SGD (its ``Optimizer/plainStep`` is not nil) a replayed step
    /// applies the update inside the reverse pass, as each gradient is formed: a dense layer's
    /// weights take theirs in the very product that forms their gradient, W −= η·gᵀx, so no
    /// weight gradient is written and read back.
    @discardableResult
    @_specialize(where Scalar == Float, Opt == SGD<Float>)
    @_specialize(where Scalar == Double, Opt == SGD<Double>)
    public func step<Opt: Optimizer<Scalar>>(_ input: Tensor<Scalar>, _ target: Tensor<Scalar>, optimizer: inout Opt) -> Tensor<Scalar> {
        // Specialised above for SGD, the common case: run generically (called from another
        // module), a step looks up the metadata of the `(rate, decay)` tuple at run time, every
        // time: about 1,900 of the book's step's 204,000 instructions, counted by callgrind.
        if let sgd = optimizer.plainStep, let value = replayed(input, target, sgd: sgd) { return value }
        let (value, gradients) = self(input, target)
        optimizer.update(parameters, along: gradients)
        return value
    }

    /// The replayed value, the gradients left in `gradientTensors` (or, with `sgd`, the update
    /// made), or nil if the function runs eagerly.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func replayed(_ input: Tensor<Scalar>, _ target: Tensor<Scalar>, sgd: (rate: Scalar, decay: Scalar)?) -> Tensor<Scalar>? {
        guard eagerReason == nil, let plan = plan(for: input, target) else { return nil }
        let result = plan.run(input: input, target: target, parameters: parameters, gradients: &gradientTensors, sgd: sgd)
        value.withUnsafeMutableBufferPointer { $0[0] = result }
        return value
    }

    /// The plan traced at these shapes, tracing one if there is none; nil (with ``eagerReason``
    /// set) if the function cannot be replayed.
    private func plan(for input: Tensor<Scalar>, _ target: Tensor<Scalar>) -> ReplayPlan<Scalar>? {
        for (index, parameter) in parameters.enumerated() where parameter.parameter.wrappedValue.shape != gradientTensors[index].shape {
            // A parameter was replaced by one of another shape: every plan, and the gradients, are stale.
            plans.removeAll()
            gradientTensors[index] = Tensor(zeros: parameter.parameter.wrappedValue.shape)
        }
        if let plan = plans.first(where: { $0.fits(input, target) }) { return plan }
        do {
            let plan = try trace(input, target)
            if plans.count == Self.maximumPlans { plans.removeFirst() }
            plans.append(plan)
            return plan
        } catch {
            eagerReason = error.reason
            return nil
        }
    }

    /// Runs the function once on a fresh tape, parameters first, then the inputs, and turns the
    /// record into a plan.
    private func trace(_ input: Tensor<Scalar>, _ target: Tensor<Scalar>) throws(ReplayPlan<Scalar>.Refusal) -> ReplayPlan<Scalar> {
        let tape = Tape<Scalar>()
        let tracked = parameters.map { tape.variable($0.parameter.wrappedValue.detached) }
        let output = parameters.substituting(tracked) {
            function(tape.variable(input.detached), tape.variable(target.detached))
        }
        tape.isRecording = false
        guard let tracking = output.tracking, tracking.tape === tape else {
            throw .init(reason: "the traced function's result does not depend on the parameters or inputs")
        }
        return try ReplayPlan(tape: tape, parameterCount: parameters.count, output: tracking.index)
    }
}
