/// A loss's value and its gradient with respect to a model's parameters — and, with
/// ``step(_:_:optimizer:)``, the optimizer's update — recorded once and replayed, so that a
/// training step builds no graph and allocates nothing.
///
/// ```swift
/// let lossAndGradient = TracedGradient(of: model) { model, x, y in QuadraticLoss()(model(x), y) }
/// for batch in batches {
///     lossAndGradient.step(batch.images, batch.labels, optimizer: &sgd)
/// }
/// ```
///
/// It gives the same values, gradients and updates, to the bit, as the eager
/// ``valueWithGradient(at:in:)->(Tensor<Model.Scalar>,_)`` followed by
/// ``Optimizer/update(_:along:)`` (the tests hold it to that), on these terms:
/// - The first call at given input shapes runs the step once, eagerly, recording every op it
///   launches. Later calls at those shapes replay the record with the new inputs and the
///   parameters' and optimizer's current values; new shapes (a smaller last batch) are recorded
///   again, and kept.
/// - Any model built of ``TensorOperation``s replays: every op of Nabla, and a user's own. The
///   step runs with layers in training mode (``LayerMode``), and updates the model's
///   ``LayerState`` in place as the eager step would.
/// - Like any trace, the record keeps the path the function took: a function that branches on the
///   *values* of its inputs would keep the branch of its first call. A function that reads tensor
///   values on the CPU while running is therefore not replayed: every call then runs eagerly,
///   with the same results, and ``eagerReason`` says why.
/// - What the function reads from outside besides its inputs and the model — a tensor or a
///   number a closure captured — is recorded as it was. A captured tensor given a new value is
///   noticed once nothing else holds the old one, and the step is recorded again; pass anything
///   that changes from call to call as an input.
///
/// The gradients are returned as values. A call reuses their storage only when the previous
/// call's ``Gradients`` is gone; one you keep is never overwritten.
///
/// An instance keeps reused buffers, so it is meant for one thread at a time; its records (one per
/// input shape and kind of call, the most recent ``maximumPlans``) live as long as it does.
public final class TracedGradient<Scalar: TensorScalar> {
    /// How many recorded steps are kept; recording one more drops the oldest.
    public static var maximumPlans: Int { 8 }

    private let parameters: [NamedParameter<Scalar>]
    private let states: [NamedState<Scalar>]
    private let names: [String]
    private let function: (Tensor<Scalar>, Tensor<Scalar>) -> Tensor<Scalar>
    private var traces: [Trace] = []

    /// Why calls run eagerly instead of replaying, or nil while they replay.
    public private(set) var eagerReason: String?

    /// One recorded step and what it was recorded for.
    private final class Trace {
        let program: Program<Scalar>
        let inputShapes: [[Int]]
        let parameterShapes: [[Int]]
        /// The optimizer's type, for a step that updates; nil for one that only differentiates.
        let optimizer: ObjectIdentifier?
        let value: Program<Scalar>.Export
        let gradients: [Program<Scalar>.Export]
        let slots: UnsafeMutablePointer<UnsafeMutablePointer<Scalar>>
        /// Each slot's number of elements when recorded, and as filled for a run.
        let recordedSizes, sizes: UnsafeMutablePointer<Int>

        init(program: Program<Scalar>, inputShapes: [[Int]], parameterShapes: [[Int]],
             optimizer: ObjectIdentifier?,
             value: Program<Scalar>.Export, gradients: [Program<Scalar>.Export]) {
            (self.program, self.inputShapes, self.parameterShapes) = (program, inputShapes, parameterShapes)
            (self.optimizer, self.value, self.gradients) = (optimizer, value, gradients)
            slots = .allocate(capacity: program.slotCount)
            recordedSizes = .allocate(capacity: program.slotCount)
            sizes = .allocate(capacity: program.slotCount)
        }

        deinit {
            slots.deallocate()
            recordedSizes.deallocate()
            sizes.deallocate()
        }

        /// Whether every slot, as filled, has the size it was recorded with: the program's ops
        /// know their sizes, so a state or parameter replaced by one of another size (a loaded
        /// checkpoint, a wider layer) needs the step recorded again.
        var sizesFit: Bool { (0..<program.slotCount).allSatisfy { sizes[$0] == recordedSizes[$0] } }
    }

    /// Prepares to differentiate `function` — typically a loss of the model's output for inputs
    /// and targets — with respect to every parameter of `model`. Nothing runs until the first call.
    public init<Model: Layer>(
        of model: Model, _ function: @escaping (Model, Tensor<Scalar>, Tensor<Scalar>) -> Tensor<Scalar>
    ) where Model.Scalar == Scalar {
        parameters = model.parameters
        states = model.states
        names = parameters.map(\.name)
        self.function = { input, target in function(model, input, target) }
    }

    /// The function's value at `input` and `target`, and its gradient with respect to each
    /// parameter.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func callAsFunction(
        _ input: Tensor<Scalar>, _ target: Tensor<Scalar>
    ) -> (value: Tensor<Scalar>, gradients: Gradients<Scalar>) {
        let differentiate = { self.valueWithGradient(input, target) }
        switch plan(input, target, optimizer: nil, state: { _ in }, record: differentiate) {
        case .eager: return differentiate()
        case .recorded(let result): return result
        case .replay(let trace):
            trace.program.run(slots: trace.slots)
            let gradients = trace.gradients.map(trace.program.tensor)
            return (trace.program.tensor(trace.value), Gradients(names: names, tensors: gradients))
        }
    }

    /// One training step: the function's value at `input` and `target`, after which every
    /// parameter has taken `optimizer`'s step along its gradient. The same, to the bit, as
    ///
    /// ```swift
    /// let (value, gradients) = lossAndGradient(input, target)
    /// optimizer.update(&model, along: gradients)
    /// ```
    ///
    /// but replayed whole, update included.
    @discardableResult
    @_specialize(where Scalar == Float, Opt == SGD<Float>)
    @_specialize(where Scalar == Double, Opt == SGD<Double>)
    @_specialize(where Scalar == Float, Opt == Adam<Float>)
    @_specialize(where Scalar == Double, Opt == Adam<Double>)
    public func step<Opt: Optimizer<Scalar>>(
        _ input: Tensor<Scalar>, _ target: Tensor<Scalar>, optimizer: inout Opt
    ) -> Tensor<Scalar> {
        // Specialised above for Nabla's optimizers: generic over the optimizer, and called from
        // another module, this would visit the optimizer's state through type metadata looked
        // up at every step.
        step(input, target, optimizer: ObjectIdentifier(Opt.self),
             state: { optimizer.forEachStateTensor(of: parameters, $0) },
             eager: { (self.updated(input, target, optimizer: &optimizer), Gradients(names: [], tensors: [])) })
    }

    /// ``step(_:_:optimizer:)`` for an optimizer of type `type`, whose state `state` visits, and
    /// which `eager` runs eagerly.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func step(
        _ input: Tensor<Scalar>, _ target: Tensor<Scalar>, optimizer type: ObjectIdentifier,
        state: ((inout Tensor<Scalar>) -> Void) -> Void, eager: () -> (Tensor<Scalar>, Gradients<Scalar>)
    ) -> Tensor<Scalar> {
        switch plan(input, target, optimizer: type, state: state, record: eager) {
        case .eager: return eager().0
        case .recorded(let result): return result.value
        case .replay(let trace):
            trace.program.run(slots: trace.slots)
            return trace.program.tensor(trace.value)
        }
    }

    /// The eager gradient, with layers in training mode.
    private func valueWithGradient(
        _ input: Tensor<Scalar>, _ target: Tensor<Scalar>
    ) -> (Tensor<Scalar>, Gradients<Scalar>) {
        withLayerMode(.training) { Nabla.valueWithGradient(of: parameters) { function(input, target) } }
    }

    /// The eager step: the gradient, then the update.
    private func updated<Opt: Optimizer<Scalar>>(
        _ input: Tensor<Scalar>, _ target: Tensor<Scalar>, optimizer: inout Opt
    ) -> Tensor<Scalar> {
        let (value, gradients) = valueWithGradient(input, target)
        optimizer.update(parameters, along: gradients)
        return value
    }

    /// Writes the first element of every tensor the step reads from outside into `slots`, and
    /// its size into `sizes`, in slot order — the inputs, the parameters, the model's states,
    /// then the optimizer's state (which `state` visits) — each made unique first, since the
    /// step may update it in place. With `origins`, it also writes there where each lies in its
    /// storage. Returns how many tensors there are, writing no more than `capacity`.
    private func fill(
        _ slots: UnsafeMutablePointer<UnsafeMutablePointer<Scalar>>, sizes: UnsafeMutablePointer<Int>, capacity: Int,
        _ input: Tensor<Scalar>, _ target: Tensor<Scalar>, state: ((inout Tensor<Scalar>) -> Void) -> Void,
        origins: UnsafeMutablePointer<Program<Scalar>.Origin>? = nil
    ) -> Int {
        // A closure that captures nothing, everything passed in: a closure value or a nested
        // function that captured `count` or the pointers would have its context boxed on the
        // heap, every step.
        typealias Slots = (pointers: UnsafeMutablePointer<UnsafeMutablePointer<Scalar>>,
                           sizes: UnsafeMutablePointer<Int>, capacity: Int,
                           origins: UnsafeMutablePointer<Program<Scalar>.Origin>?)
        let write = { (tensor: Tensor<Scalar>, slots: Slots, count: inout Int) in
            if count < slots.capacity {
                slots.pointers[count] = tensor.base
                slots.sizes[count] = tensor.count
                slots.origins?[count] = Program.Origin(storage: tensor.storage.elements, offset: tensor.offset)
            }
            count += 1
        }
        let into: Slots = (slots, sizes, capacity, origins)
        var count = 0
        write(input, into, &count)
        write(target, into, &count)
        for p in parameters {
            p.parameter.wrappedValue.makeUnique()
            write(p.parameter.wrappedValue, into, &count)
        }
        for s in states {
            s.state.wrappedValue.makeUnique()
            write(s.state.wrappedValue, into, &count)
        }
        state { tensor in
            tensor.makeUnique()
            write(tensor, into, &count)
        }
        return count
    }

    /// What a call does: replay a trace, or run eagerly.
    private enum Plan {
        /// The trace, its slots pointed at the current inputs, parameters and optimizer state.
        case replay(Trace)
        /// The step was run eagerly to record it (whether or not it can be replayed), with this result.
        case recorded((value: Tensor<Scalar>, gradients: Gradients<Scalar>))
        /// The step cannot be replayed (see ``eagerReason``).
        case eager
    }

    /// Whether `trace` was recorded for these input shapes, the parameters' shapes as they are
    /// now, and this kind of update.
    private func fits(
        _ trace: Trace, _ input: Tensor<Scalar>, _ target: Tensor<Scalar>, optimizer: ObjectIdentifier?
    ) -> Bool {
        guard trace.inputShapes[0] == input.shape, trace.inputShapes[1] == target.shape,
              trace.optimizer == optimizer else { return false }
        return zip(trace.parameterShapes, parameters).allSatisfy { $0 == $1.parameter.wrappedValue.shape }
    }

    /// The trace for these inputs and this kind of update, recording one (by running `record`)
    /// if there is none.
    private func plan(
        _ input: Tensor<Scalar>, _ target: Tensor<Scalar>, optimizer: ObjectIdentifier?,
        state: ((inout Tensor<Scalar>) -> Void) -> Void, record: () -> (Tensor<Scalar>, Gradients<Scalar>)
    ) -> Plan {
        guard eagerReason == nil else { return .eager }
        if let index = traces.firstIndex(where: { fits($0, input, target, optimizer: optimizer) }) {
            let trace = traces[index]
            // An optimizer of the same type may keep other state (SGD with momentum, or without).
            let slotCount = trace.program.slotCount
            if !trace.program.isStale,
               fill(trace.slots, sizes: trace.sizes, capacity: slotCount, input, target, state: state) == slotCount,
               trace.sizesFit {
                for export in trace.gradients { trace.program.release(export) }
                trace.program.release(trace.value)
                return .replay(trace)
            }
            traces.remove(at: index)
        }
        // The program knows slots by their storage's address, and holds none of them while it
        // records, so that an update finds its parameter unshared and writes it in place.
        var slotCount = parameters.count + states.count + 2
        state { _ in slotCount += 1 }
        let slots = UnsafeMutablePointer<UnsafeMutablePointer<Scalar>>.allocate(capacity: slotCount)
        let sizes = UnsafeMutablePointer<Int>.allocate(capacity: slotCount)
        let origins = UnsafeMutablePointer<Program<Scalar>.Origin>.allocate(capacity: slotCount)
        defer { slots.deallocate(); sizes.deallocate(); origins.deallocate() }
        let filled = fill(slots, sizes: sizes, capacity: slotCount, input, target, state: state, origins: origins)
        let program = Program<Scalar>(slots: UnsafeBufferPointer(start: origins, count: filled))
        let (value, gradients) = program.record(record)
        let trace = Trace(program: program, inputShapes: [input.shape, target.shape],
                          parameterShapes: parameters.map(\.parameter.wrappedValue.shape),
                          optimizer: optimizer,
                          value: program.export(value), gradients: gradients.tensors.map(program.export))
        trace.recordedSizes.update(from: sizes, count: slotCount)
        if let refusal = program.refusal {
            eagerReason = refusal
        } else {
            program.foldSGDIntoProducts(keeping: [trace.value] + trace.gradients)
            program.finishRecording(results: [trace.value] + trace.gradients)
            if traces.count == Self.maximumPlans { traces.removeFirst() }
            traces.append(trace)
        }
        return .recorded((value, gradients))
    }
}
