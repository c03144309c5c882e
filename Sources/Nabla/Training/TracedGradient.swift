/// A loss's value and its gradient with respect to a model's parameters — and, with
/// ``step(_:optimizer:)``, the optimizer's update — recorded once and replayed, so that a
/// training step builds no graph and allocates nothing. ``evaluate(_:indices:)`` replays the
/// function's value alone, in inference mode: an evaluation's loss, or a model's output.
///
/// ```swift
/// let lossAndGradient = TracedGradient(of: model) { model, x, y in QuadraticLoss()(model(x), y) }
/// for batch in batches {
///     lossAndGradient.step(batch.images, batch.labels, optimizer: &sgd)
/// }
/// ```
///
/// The function takes any number of tensors — inputs, targets, masks, token ids — as an array:
///
/// ```swift
/// let step = TracedGradient(of: gpt) { gpt, t in SoftmaxCrossEntropyLoss()(gpt(t[0]), t[1]) }
/// var batch = [ids, targets]           // refilled in place each step
/// step.step(batch, optimizer: &adamW)
/// ```
///
/// It gives the same values, gradients and updates, to the bit, as the eager
/// ``valueWithGradient(at:in:)->(Tensor<Model.Scalar>,_)`` followed by
/// ``Optimizer/update(_:along:)`` (the tests hold it to that), on these terms:
/// - The first call at given input shapes runs the step once, eagerly, recording every op it
///   launches. Later calls at those shapes replay the record with the new inputs and the
///   parameters' and optimizer's current values; new shapes (a smaller last batch) are recorded
///   again, and kept.
/// - The optimizer's hyperparameters (its learning rate) are read at every replay. Another
///   optimizer — a new value, with other settings, even of the same type — or other
///   ``clipping`` records the step again.
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
    private let function: ([Tensor<Scalar>], [IndexTensor]) -> Tensor<Scalar>
    private var traces: [Trace] = []

    /// How ``step(_:optimizer:)`` clips the gradients before the update, if at all (as PyTorch's
    /// `clip_grad_norm_` or `clip_grad_value_` between `backward` and `step`). Replayed like the rest.
    public var clipping: GradientClipping<Scalar>?

    /// A step's tensors, then its index tensors, visited in order without building an array: what
    /// a call with an input and a target passes, so that it allocates nothing.
    private typealias Inputs = (_ tensor: (Tensor<Scalar>) -> Void, _ indices: (IndexTensor) -> Void) -> Void

    /// Why calls run eagerly instead of replaying, or nil while they replay.
    public private(set) var eagerReason: String?

    /// The memory the recorded steps keep for what they compute — intermediate values,
    /// gradients, constants — beyond the model and the optimizer, in bytes; and what it would be
    /// if values whose lives in a step do not overlap did not share memory.
    public var bufferMemory: (bytes: Int, withoutSharing: Int) {
        traces.reduce((0, 0)) { ($0.bytes + $1.program.bufferMemory.bytes, $0.withoutSharing + $1.program.bufferMemory.withoutSharing) }
    }

    /// What a call computes, and so what its record is kept for: a record serves only calls of
    /// its own kind.
    private enum Kind: Equatable {
        /// The value and the gradients (``callAsFunction(_:_:)``).
        case gradient
        /// The value alone, in inference mode (``evaluate(_:indices:)``).
        case evaluation
        /// A training step with an optimizer of this type (``step(_:_:optimizer:)``).
        case step(optimizer: ObjectIdentifier)
    }

    /// One recorded step and what it was recorded for.
    private final class Trace {
        let program: Program<Scalar>
        let inputShapes, indexShapes: [[Int]]
        let parameterShapes: [[Int]]
        let kind: Kind
        /// The optimizer's hyperparameters, by identity: an optimizer made anew (with other
        /// settings, which the recorded ops may hold) has storage of its own.
        weak var optimizerInstance: TensorStorage<Scalar>?
        /// Where those hyperparameters' elements are: compared at every call without retaining
        /// anything, the weak reference telling whether they are still the same storage.
        let optimizerElements: UnsafeMutablePointer<Scalar>?
        let clipping: GradientClipping<Scalar>?
        let value: Program<Scalar>.Export
        let gradients: [Program<Scalar>.Export]
        let slots: UnsafeMutablePointer<UnsafeMutablePointer<Scalar>>
        /// Each slot's number of elements when recorded, and as filled for a run.
        let recordedSizes, sizes: UnsafeMutablePointer<Int>

        init(program: Program<Scalar>, inputShapes: [[Int]], indexShapes: [[Int]], parameterShapes: [[Int]],
             kind: Kind, optimizerInstance: TensorStorage<Scalar>?, clipping: GradientClipping<Scalar>?,
             value: Program<Scalar>.Export, gradients: [Program<Scalar>.Export]) {
            (self.program, self.inputShapes, self.indexShapes, self.parameterShapes) = (program, inputShapes, indexShapes, parameterShapes)
            (self.kind, self.optimizerInstance, self.clipping) = (kind, optimizerInstance, clipping)
            optimizerElements = optimizerInstance?.elements
            (self.value, self.gradients) = (value, gradients)
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
    public convenience init<Model: Module>(
        of model: Model, _ function: @escaping (Model, Tensor<Scalar>, Tensor<Scalar>) -> Tensor<Scalar>
    ) where Model.Scalar == Scalar {
        self.init(of: model) { model, tensors in
            check(tensors.count == 2, "TracedGradient: the function takes an input and a target, not \(tensors.count) tensors")
            return function(model, tensors[0], tensors[1])
        }
    }

    /// Prepares to differentiate `function` of any number of tensors (inputs, targets, masks,
    /// ids, in the order each call passes them) with respect to every parameter of `model`.
    public init<Model: Module>(
        of model: Model, _ function: @escaping (Model, [Tensor<Scalar>]) -> Tensor<Scalar>
    ) where Model.Scalar == Scalar {
        parameters = model.parameters
        states = model.states
        names = parameters.map(\.name)
        self.function = { tensors, indices in
            check(indices.isEmpty, "TracedGradient: the function takes no index tensors, but \(indices.count) were passed "
                  + "(make it with init(of:withIndices:))")
            return function(model, tensors)
        }
    }

    /// Prepares to differentiate `function` of tensors and index tensors — token ids, class-index
    /// targets — (in the order each call passes them) with respect to every parameter of `model`.
    /// The tensors are of the model's scalar type (one floating-point type a step), the indices
    /// `Int32`s beside them.
    ///
    /// ```swift
    /// let step = TracedGradient(of: gpt, withIndices: { gpt, _, ids in
    ///     SoftmaxCrossEntropyLoss()(gpt(ids[0]), ids[1])
    /// })
    /// step.step(indices: x, y, optimizer: &adamW)      // x, y refilled in place each step
    /// ```
    public init<Model: Module>(
        of model: Model, withIndices function: @escaping (Model, [Tensor<Scalar>], [IndexTensor]) -> Tensor<Scalar>
    ) where Model.Scalar == Scalar {
        parameters = model.parameters
        states = model.states
        names = parameters.map(\.name)
        self.function = { tensors, indices in function(model, tensors, indices) }
    }

    /// The function's value at `input` and `target`, and its gradient with respect to each
    /// parameter.
    public func callAsFunction(
        _ input: Tensor<Scalar>, _ target: Tensor<Scalar>
    ) -> (value: Tensor<Scalar>, gradients: Gradients<Scalar>) {
        differentiate { body, _ in body(input); body(target) }
    }

    /// The function's value at `tensors`, and its gradient with respect to each parameter.
    public func callAsFunction(_ tensors: [Tensor<Scalar>]) -> (value: Tensor<Scalar>, gradients: Gradients<Scalar>) {
        differentiate { body, _ in for tensor in tensors { body(tensor) } }
    }

    /// The function's value at `tensors` and `indices`, and its gradient with respect to each
    /// parameter.
    public func callAsFunction(
        _ tensors: [Tensor<Scalar>], indices: [IndexTensor]
    ) -> (value: Tensor<Scalar>, gradients: Gradients<Scalar>) {
        differentiate { body, indexBody in
            for tensor in tensors { body(tensor) }
            for index in indices { indexBody(index) }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func differentiate(_ inputs: Inputs) -> (value: Tensor<Scalar>, gradients: Gradients<Scalar>) {
        switch plan(inputs, kind: .gradient, state: { _ in }, record: { valueWithGradient(inputs) }) {
        case .eager: return valueWithGradient(inputs)
        case .recorded(let result): return result
        case .replay(let trace):
            trace.program.run(slots: trace.slots)
            let gradients = trace.gradients.map(trace.program.tensor)
            return (trace.program.tensor(trace.value), Gradients(names: names, tensors: gradients))
        }
    }

    /// The function's value at `tensors` and `indices` with layers in inference mode and no
    /// gradient — an evaluation's loss, or a model's output to sample from — recorded once for
    /// each shape of input and replayed, as a step is, with no graph and no allocation. The same,
    /// to the bit, as calling the function eagerly inside `withLayerMode(.inference)`.
    ///
    /// ```swift
    /// let loss = TracedGradient(of: gpt, withIndices: { gpt, _, ids in SoftmaxCrossEntropyLoss()(gpt(ids[0]), ids[1]) })
    /// let validation = loss.evaluate(indices: x, y).scalar     // x, y refilled in place each batch
    /// ```
    ///
    /// The value returned is the program's own buffer: the next call overwrites it only if the
    /// returned tensor has been let go of (one you keep is never overwritten, as with gradients).
    /// (The arrays of a call are the caller's to make; ``evaluate(indices:_:)`` needs none.)
    public func evaluate(_ tensors: [Tensor<Scalar>] = [], indices: [IndexTensor] = []) -> Tensor<Scalar> {
        evaluate { body, indexBody in
            for tensor in tensors { body(tensor) }
            for index in indices { indexBody(index) }
        }
    }

    /// The function's value at two index tensors (token ids and their next tokens) in inference
    /// mode — as ``evaluate(_:indices:)`` with `[input, target]`, without making that array.
    public func evaluate(indices input: IndexTensor, _ target: IndexTensor) -> Tensor<Scalar> {
        evaluate { _, body in body(input); body(target) }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func evaluate(_ inputs: Inputs) -> Tensor<Scalar> {
        switch plan(inputs, kind: .evaluation, state: { _ in },
                    record: { (inferenceValue(inputs), Gradients(names: [], tensors: [])) }) {
        case .eager: return inferenceValue(inputs)
        case .recorded(let result): return result.value
        case .replay(let trace):
            trace.program.run(slots: trace.slots)
            return trace.program.tensor(trace.value)
        }
    }

    /// The eager value, with layers in inference mode and nothing differentiated.
    private func inferenceValue(_ inputs: Inputs) -> Tensor<Scalar> {
        var (tensors, indices): ([Tensor<Scalar>], [IndexTensor]) = ([], [])
        inputs({ tensors.append($0) }, { indices.append($0) })
        return withLayerMode(.inference) { function(tensors, indices) }
    }

    /// One training step: the function's value at `input` and `target`, after which every
    /// parameter has taken `optimizer`'s step along its gradient (clipped first, if
    /// ``clipping`` says so). The same, to the bit, as
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
        step({ body, _ in body(input); body(target) }, optimizer: &optimizer)
    }

    /// One training step on the function's tensors; see ``step(_:_:optimizer:)``.
    @discardableResult
    @_specialize(where Scalar == Float, Opt == SGD<Float>)
    @_specialize(where Scalar == Double, Opt == SGD<Double>)
    @_specialize(where Scalar == Float, Opt == Adam<Float>)
    @_specialize(where Scalar == Double, Opt == Adam<Double>)
    public func step<Opt: Optimizer<Scalar>>(_ tensors: [Tensor<Scalar>], optimizer: inout Opt) -> Tensor<Scalar> {
        step({ body, _ in for tensor in tensors { body(tensor) } }, optimizer: &optimizer)
    }

    /// One training step on two index tensors (token ids and their next tokens) — as
    /// ``step(_:indices:optimizer:)`` with no tensors and `[input, target]`, without making
    /// that array.
    @discardableResult
    @_specialize(where Scalar == Float, Opt == AdamW<Float>)
    @_specialize(where Scalar == Float, Opt == SGD<Float>)
    public func step<Opt: Optimizer<Scalar>>(indices input: IndexTensor, _ target: IndexTensor, optimizer: inout Opt) -> Tensor<Scalar> {
        step({ _, body in body(input); body(target) }, optimizer: &optimizer)
    }

    /// One training step on the function's tensors and index tensors; see ``step(_:_:optimizer:)``.
    @discardableResult
    @_specialize(where Scalar == Float, Opt == AdamW<Float>)
    @_specialize(where Scalar == Float, Opt == Adam<Float>)
    public func step<Opt: Optimizer<Scalar>>(
        _ tensors: [Tensor<Scalar>], indices: [IndexTensor], optimizer: inout Opt
    ) -> Tensor<Scalar> {
        step({ body, indexBody in
            for tensor in tensors { body(tensor) }
            for index in indices { indexBody(index) }
        }, optimizer: &optimizer)
    }

    /// One training step on a batch's fields: its input and target tensors one after another,
    /// then its input and target index tensors, as arrays of them would be passed (without making
    /// those arrays): a ``Trainer``'s step.
    @discardableResult
    func step<Opt: Optimizer<Scalar>>(_ batch: DatasetBatch<Scalar>, optimizer: inout Opt) -> Tensor<Scalar> {
        step({ body, indexBody in
            for tensor in batch.inputs { body(tensor) }
            for tensor in batch.targets { body(tensor) }
            for indices in batch.indexInputs { indexBody(indices) }
            for indices in batch.indexTargets { indexBody(indices) }
        }, optimizer: &optimizer)
    }

    @_specialize(where Scalar == Float, Opt == SGD<Float>)
    @_specialize(where Scalar == Double, Opt == SGD<Double>)
    @_specialize(where Scalar == Float, Opt == Adam<Float>)
    @_specialize(where Scalar == Double, Opt == Adam<Double>)
    private func step<Opt: Optimizer<Scalar>>(_ inputs: Inputs, optimizer: inout Opt) -> Tensor<Scalar> {
        // Specialised above for Nabla's optimizers: generic over the optimizer, and called from
        // another module, this would visit the optimizer's state through type metadata looked
        // up at every step.
        step(inputs, optimizer: ObjectIdentifier(Opt.self),
             state: { optimizer.forEachStateTensor(of: parameters, $0) },
             eager: { (self.updated(inputs, optimizer: &optimizer), Gradients(names: [], tensors: [])) })
    }

    /// ``step(_:optimizer:)`` for an optimizer of type `type`, whose state `state` visits, and
    /// which `eager` runs eagerly.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func step(
        _ inputs: Inputs, optimizer type: ObjectIdentifier,
        state: ((inout Tensor<Scalar>) -> Void) -> Void, eager: () -> (Tensor<Scalar>, Gradients<Scalar>)
    ) -> Tensor<Scalar> {
        switch plan(inputs, kind: .step(optimizer: type), state: state, record: eager) {
        case .eager: return eager().0
        case .recorded(let result): return result.value
        case .replay(let trace):
            trace.program.run(slots: trace.slots)
            return trace.program.tensor(trace.value)
        }
    }

    /// The eager gradient, with layers in training mode.
    private func valueWithGradient(_ inputs: Inputs) -> (Tensor<Scalar>, Gradients<Scalar>) {
        var (tensors, indices): ([Tensor<Scalar>], [IndexTensor]) = ([], [])
        inputs({ tensors.append($0) }, { indices.append($0) })
        return withLayerMode(.training) { Nabla.valueWithGradient(of: parameters) { function(tensors, indices) } }
    }

    /// The eager step: the gradient, clipped if asked, then the update.
    private func updated<Opt: Optimizer<Scalar>>(_ inputs: Inputs, optimizer: inout Opt) -> Tensor<Scalar> {
        let (value, gradients) = valueWithGradient(inputs)
        optimizer.update(parameters, along: clipping.map { gradients.clipped($0) } ?? gradients)
        return value
    }

    /// Writes the first element of every tensor the step reads from outside into `slots`, and
    /// its size into `sizes`, in slot order — the inputs, the parameters, the model's states,
    /// then the optimizer's state (which `state` visits, its hyperparameters last) — each made
    /// unique first, since the step may update it in place. With `origins`, it also writes there
    /// where each lies in its storage. Returns how many tensors there are, writing no more than
    /// `capacity`, and where the last optimizer tensor's storage starts: its hyperparameters'
    /// (and, with `origins`, that storage itself).
    private func fill(
        _ slots: UnsafeMutablePointer<UnsafeMutablePointer<Scalar>>, sizes: UnsafeMutablePointer<Int>, capacity: Int,
        _ inputs: Inputs, state: ((inout Tensor<Scalar>) -> Void) -> Void,
        origins: UnsafeMutablePointer<Program<Scalar>.Origin>? = nil
    ) -> (count: Int, hyperparameters: UnsafeMutablePointer<Scalar>?, storage: TensorStorage<Scalar>?) {
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
                slots.origins?[count] = Program.Origin(storage: UnsafeMutableRawPointer(tensor.storage.elements),
                                                              offset: tensor.offset * MemoryLayout<Scalar>.stride)
            }
            count += 1
        }
        let writeIndices = { (indices: IndexTensor, slots: Slots, count: inout Int) in
            if count < slots.capacity {
                slots.pointers[count] = indices.base.operand()
                slots.sizes[count] = indices.count
                slots.origins?[count] = Program.Origin(storage: indices.firstStorageByte, offset: indices.offset * MemoryLayout<Int32>.stride)
            }
            count += 1
        }
        let into: Slots = (slots, sizes, capacity, origins)
        var count = 0
        inputs({ write($0, into, &count) }, { writeIndices($0, into, &count) })
        for p in parameters {
            p.parameter.wrappedValue.makeUnique()
            write(p.parameter.wrappedValue, into, &count)
        }
        for s in states {
            s.state.wrappedValue.makeUnique()
            write(s.state.wrappedValue, into, &count)
        }
        var (hyperparameters, storage): (UnsafeMutablePointer<Scalar>?, TensorStorage<Scalar>?) = (nil, nil)
        state { tensor in
            tensor.makeUnique()
            write(tensor, into, &count)
            hyperparameters = tensor.storage.elements
            if origins != nil { storage = tensor.storage }   // recording: kept weakly by the trace
        }
        return (count, hyperparameters, storage)
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

    /// The clipping a call records: ``clipping`` for a step, none for a call that only
    /// differentiates (its gradients are returned as they are) or evaluates.
    private func clipping(for kind: Kind) -> GradientClipping<Scalar>? {
        if case .step = kind { return clipping }
        return nil
    }

    /// Whether `trace` was recorded for these input shapes, the parameters' shapes as they are
    /// now, and this kind of call.
    private func fits(_ trace: Trace, _ inputs: Inputs, kind: Kind) -> Bool {
        guard trace.kind == kind, trace.clipping == clipping(for: kind) else { return false }
        var (count, indexCount, same) = (0, 0, true)
        inputs({ tensor in
            same = same && count < trace.inputShapes.count && trace.inputShapes[count] == tensor.shape
            count += 1
        }, { indices in
            same = same && indexCount < trace.indexShapes.count && trace.indexShapes[indexCount] == indices.shape
            indexCount += 1
        })
        guard same, count == trace.inputShapes.count, indexCount == trace.indexShapes.count else { return false }
        return zip(trace.parameterShapes, parameters).allSatisfy { $0 == $1.parameter.wrappedValue.shape }
    }

    /// The trace for these inputs and this kind of call, recording one (by running `record`)
    /// if there is none.
    private func plan(
        _ inputs: Inputs, kind: Kind,
        state: ((inout Tensor<Scalar>) -> Void) -> Void, record: () -> (Tensor<Scalar>, Gradients<Scalar>)
    ) -> Plan {
        guard eagerReason == nil else { return .eager }
        if let index = traces.firstIndex(where: { fits($0, inputs, kind: kind) }) {
            let trace = traces[index]
            // An optimizer of the same type may keep other state (SGD with momentum, or without),
            // or be another optimizer altogether.
            let slotCount = trace.program.slotCount
            let filled = fill(trace.slots, sizes: trace.sizes, capacity: slotCount, inputs, state: state)
            if !trace.program.isStale, filled.count == slotCount, trace.sizesFit,
               filled.hyperparameters == trace.optimizerElements,
               trace.optimizerElements == nil || trace.optimizerInstance != nil {
                for export in trace.gradients { trace.program.release(export) }
                trace.program.release(trace.value)
                return .replay(trace)
            }
            traces.remove(at: index)
        }
        // The program knows slots by their storage's address, and holds none of them while it
        // records, so that an update finds its parameter unshared and writes it in place.
        var slotCount = parameters.count + states.count
        inputs({ _ in slotCount += 1 }, { _ in slotCount += 1 })
        state { _ in slotCount += 1 }
        let slots = UnsafeMutablePointer<UnsafeMutablePointer<Scalar>>.allocate(capacity: slotCount)
        let sizes = UnsafeMutablePointer<Int>.allocate(capacity: slotCount)
        let origins = UnsafeMutablePointer<Program<Scalar>.Origin>.allocate(capacity: slotCount)
        defer { slots.deallocate(); sizes.deallocate(); origins.deallocate() }
        let filled = fill(slots, sizes: sizes, capacity: slotCount, inputs, state: state, origins: origins)
        let program = Program<Scalar>(slots: UnsafeBufferPointer(start: origins, count: filled.count))
        let (value, gradients) = program.record(record)
        var (inputShapes, indexShapes): ([[Int]], [[Int]]) = ([], [])
        inputs({ inputShapes.append($0.shape) }, { indexShapes.append($0.shape) })
        let trace = Trace(program: program, inputShapes: inputShapes, indexShapes: indexShapes,
                          parameterShapes: parameters.map(\.parameter.wrappedValue.shape),
                          kind: kind, optimizerInstance: filled.storage,
                          clipping: clipping(for: kind),
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
