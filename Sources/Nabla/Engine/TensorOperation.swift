/// An op, written once: its forward pass over storage and its vector–Jacobian product, side by side.
///
/// Every op in Nabla is one of these, and so is any op a user adds. Running one is a *launch*:
/// eagerly it allocates the output and, inside a differentiation scope, records the op on the
/// tape; inside a trace (``TracedGradient``) the launch is also written into a program that
/// replays it later over the same buffers. The op knows nothing of either.
///
/// ```swift
/// /// y = x³, element-wise.
/// struct Cube<Scalar: TensorScalar>: TensorOperation {
///     let count: Int
///     func forward(_ buffers: OperationBuffers<Scalar>) {
///         let (x, y) = (buffers.input(0), buffers.output)
///         for i in 0..<count { y[i] = x[i] * x[i] * x[i] }
///     }
///     func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
///         let x = call.inputs[0]
///         return [g * 3 * x * x]          // written with other ops: replayed like them
///     }
/// }
/// let y = Cube(count: x.count)([x], shape: x.shape)
/// ```
///
/// The gradient is written with tensor ops (often one helper op over buffers, when that is
/// faster), so a backward pass is itself a sequence of launches and replays like the forward
/// pass. Composite functions — softmax from `exp`, `sum` and `/` — need no op of their own at all.
public protocol TensorOperation<Scalar> {
    /// The scalar type.
    associatedtype Scalar: TensorScalar

    /// The op's name in messages (such as why a step could not be replayed).
    var name: String { get }

    /// Elements of scratch memory ``forward(_:)`` may use, valid during that call only.
    var workspaceCount: Int { get }

    /// Elements ``forward(_:)`` keeps for ``gradients(_:of:)`` (a dropout mask, say), handed to
    /// it as ``OperationCall/saved``.
    var savedCount: Int { get }

    /// Writes the op's value into `buffers.output` (and what it keeps into `buffers.saved`) from
    /// its inputs. It must write every output element, and allocate nothing: a replayed step
    /// runs exactly this.
    func forward(_ buffers: OperationBuffers<Scalar>)

    /// The vector–Jacobian product: the gradient of each input, given `upstream`, the gradient
    /// of the op's output. Return nil for an input whose ``OperationCall/needsGradient(_:)`` is
    /// false (or any input, for an op that is not differentiable in it).
    func gradients(_ upstream: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?]
}

extension TensorOperation {
    /// The op's type name, without generic arguments.
    public var name: String { String(String(describing: type(of: self)).prefix { $0 != "<" }) }
    /// No scratch memory.
    public var workspaceCount: Int { 0 }
    /// Nothing saved.
    public var savedCount: Int { 0 }

    /// Not differentiable: a helper op that only appears inside another op's gradient, and so
    /// makes that op not twice differentiable.
    public func gradients(_ upstream: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        fatalError("\(name) has no gradient: it runs inside another op's gradient, which is therefore not twice differentiable")
    }
}

/// The storage an op's ``TensorOperation/forward(_:)`` reads and writes.
public struct OperationBuffers<Scalar> {
    /// Input pointers, then the output, the saved buffer and the workspace.
    let pointers: UnsafePointer<UnsafeMutablePointer<Scalar>>
    /// The number of inputs.
    public let inputCount: Int

    /// Input `index`'s elements, row-major.
    @inline(__always)
    public func input(_ index: Int) -> UnsafePointer<Scalar> { UnsafePointer(pointers[index]) }

    /// Input `index`'s elements when it is an ``IndexTensor`` (the index operands of a launch follow
    /// its tensor inputs: see ``TensorOperation/callAsFunction(_:indices:shape:)``).
    @inline(__always)
    public func indices(_ index: Int) -> UnsafePointer<Int32> {
        UnsafeRawPointer(pointers[index]).assumingMemoryBound(to: Int32.self)
    }

    /// Input `index`'s elements, for an update in place (``TensorOperation/update(_:with:reading:)``).
    @inline(__always)
    public func updating(_ index: Int) -> UnsafeMutablePointer<Scalar> { pointers[index] }

    /// Where the value goes.
    public var output: UnsafeMutablePointer<Scalar> { pointers[inputCount] }
    /// Where what the gradient needs goes (``TensorOperation/savedCount`` elements).
    public var saved: UnsafeMutablePointer<Scalar> { pointers[inputCount + 1] }
    /// Scratch memory (``TensorOperation/workspaceCount`` elements).
    public var workspace: UnsafeMutablePointer<Scalar> { pointers[inputCount + 2] }
}

/// What an op's gradient can use: the values it ran on.
public struct OperationCall<Scalar: TensorScalar> {
    /// The inputs, as they were.
    public let inputs: [Tensor<Scalar>]
    /// The index inputs, as they were (never differentiated).
    public let indices: [IndexTensor]
    /// The op's value.
    public let output: Tensor<Scalar>
    /// What the forward pass kept (``TensorOperation/savedCount`` elements, flat), if anything.
    public let saved: Tensor<Scalar>
    /// Bit i set when input i is being differentiated.
    let differentiated: UInt64

    /// Whether input `index` needs a gradient (it depends on something being differentiated).
    public func needsGradient(_ index: Int) -> Bool { differentiated & (1 << UInt64(index)) != 0 }

    /// Whether the reverse pass asking for this gradient is itself being recorded, to be
    /// differentiated again (`creatingGraph`): then the inputs are tracked, as in a first-order
    /// pass, which records nothing, they are not.
    public var isRecordingReversePass: Bool { inputs.contains { $0.isTracked } }

    /// The gradients along `upstream` of `composite` — what a fused op computes, written with ops
    /// that have gradients of their own — at this call's inputs (nil for those that need none),
    /// recorded so that they can be differentiated again. A fused op whose backward pass is one
    /// kernel, or reads values it kept untracked, returns these while ``isRecordingReversePass``.
    ///
    /// ```swift
    /// if call.isRecordingReversePass {
    ///     return call.compositeGradients(along: g) { x in x[0].normalizedAlongLastAxis(epsilon: ε) * x[1] }
    /// }
    /// ```
    public func compositeGradients(along upstream: Tensor<Scalar>,
                                   of composite: ([Tensor<Scalar>]) -> Tensor<Scalar>) -> [Tensor<Scalar>?] {
        let differentiatedInputs = inputs.indices.filter(needsGradient)
        let gradients = valueWithGradient(at: differentiatedInputs.map { inputs[$0] }, creatingGraph: true) { tracked in
            var all = inputs
            for (position, index) in differentiatedInputs.enumerated() { all[index] = tracked[position] }
            return (composite(all) * upstream).sum()
        }.gradients
        var result = [Tensor<Scalar>?](repeating: nil, count: inputs.count)
        for (position, index) in differentiatedInputs.enumerated() { result[index] = gradients[position] }
        return result
    }
}

extension TensorOperation {
    /// Runs the op on `inputs`, returning its value of `shape`, which the caller has worked out
    /// (and checked the inputs against). If any input is being differentiated, the op is
    /// recorded on the tape so that gradients flow back through ``gradients(_:of:)``.
    public func callAsFunction(_ inputs: [Tensor<Scalar>], shape: [Int]) -> Tensor<Scalar> {
        Tensor.launch(self, inputs, indices: [], shape: shape)
    }

    /// Runs the op on tensor `inputs` and `indices`, which its ``forward(_:)`` finds after the
    /// tensors (``OperationBuffers/indices(_:)`` at `inputs.count`, `inputs.count + 1`, …) and its
    /// gradient as ``OperationCall/indices``. Indices get no gradient.
    public func callAsFunction(_ inputs: [Tensor<Scalar>], indices: [IndexTensor], shape: [Int]) -> Tensor<Scalar> {
        Tensor.launch(self, inputs, indices: indices, shape: shape)
    }

    /// Runs the op in place: it may write `target` and each of `companions` (each made unique
    /// first, so no other tensor sees the change), reading them and then `inputs`, in that order,
    /// as its inputs. Not recorded for differentiation: this is how an optimizer updates a
    /// parameter and its state, and how a trace captures that update.
    public func update(_ target: inout Tensor<Scalar>, with companions: inout [Tensor<Scalar>],
                       reading inputs: [Tensor<Scalar>]) {
        Tensor.launch(self, updating: &target, with: &companions, reading: inputs)
    }
}

// The engine's side of a launch, generic over the scalar type only and specialised for each,
// so that whichever op is launched, the bookkeeping runs as Float or Double code.
extension Tensor {
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func launch(_ op: any TensorOperation<Scalar>, _ inputs: [Tensor], indices: [IndexTensor], shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        var output = Tensor(shape: shape, count: count, storage: .make(count: count))
        // An op that saves nothing gets an empty view, not an allocation.
        let savedCount = op.savedCount
        let saved = savedCount == 0 ? Tensor(shape: [], count: 0, storage: output.storage)
            : Tensor(shape: [savedCount], count: savedCount, storage: .make(count: savedCount))
        run(op, inputs, [], [], indices: indices, output: output, saved: saved)
        if let tape = Tape.recording(inputs) {
            output.tracking = tape.record(op, inputs: inputs, indices: indices, output: output, saved: saved)
        }
        return output
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func launch(_ op: any TensorOperation<Scalar>, updating target: inout Tensor, with companions: inout [Tensor],
                       reading inputs: [Tensor]) {
        target.makeUnique()
        for index in companions.indices { companions[index].makeUnique() }
        let none = Tensor(shape: [], count: 0, storage: target.storage)
        run(op, [target], companions, inputs, indices: [], output: none, saved: none, updating: companions.count + 1)
    }

    /// Runs `op`'s forward pass on the tensors' storage — its inputs are `first`, `second`,
    /// `third` and `indices` one after another, of which the first `updating` are written in
    /// place — and writes the launch into the thread's program if it is recording one.
    private static func run(_ op: any TensorOperation<Scalar>, _ first: [Tensor], _ second: [Tensor], _ third: [Tensor],
                            indices: [IndexTensor], output: Tensor, saved: Tensor, updating: Int = 0) {
        let workspaceCount = op.workspaceCount
        let workspace = workspaceCount > 0 ? TensorStorage<Scalar>.make(count: workspaceCount) : nil
        let tensorCount = first.count + second.count + third.count
        let inputCount = tensorCount + indices.count
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Scalar>.self, capacity: inputCount + 3) { pointers in
            for (index, input) in first.enumerated() { pointers[index] = input.base }
            for (index, input) in second.enumerated() { pointers[first.count + index] = input.base }
            for (index, input) in third.enumerated() { pointers[first.count + second.count + index] = input.base }
            // An operand pointer of the op's type, over `Int32`s: read only through `indices(_:)`.
            for (index, input) in indices.enumerated() { pointers[tensorCount + index] = input.base.operand() }
            pointers[inputCount] = output.base
            pointers[inputCount + 1] = saved.base
            pointers[inputCount + 2] = workspace?.elements ?? saved.base
            op.forward(OperationBuffers(pointers: UnsafePointer(pointers.baseAddress!), inputCount: inputCount))
        }
        if let program = Program<Scalar>.recording {
            program.append(op, first + second + third, indices: indices, output: output, saved: saved, updating: updating)
        }
    }
}
