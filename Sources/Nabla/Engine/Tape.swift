/// The record of one differentiation scope: every op that ran on tracked tensors, in the order it
/// ran, with the values its gradient needs.
///
/// Creation order is already a topological order (an op can only consume tensors that exist), so
/// the reverse pass is a plain backwards loop over an array: no recursion, no sort, no stack
/// depth to overflow, whatever the length of the graph.
///
/// Tensors refer to their tape weakly (through a `TapeHandle`). The scope that made the tape owns
/// it (and, after the forward pass, the pullback it returns does), so the graph is freed as soon
/// as that scope or pullback is gone, and a tensor that outlives it simply becomes a constant.
final class Tape<Scalar: TensorScalar> {
    /// A recorded value: a variable (no op) or the result of an op.
    struct Node {
        let op: (any TensorOperation<Scalar>)?
        let shape: [Int]
        /// The op's inputs, outputs and saved values.
        let call: OperationCall<Scalar>?
        /// Where its inputs' nodes start in ``inputNodes``.
        let firstInput: Int
    }

    private(set) var nodes: [Node] = []
    /// Every op's inputs' nodes, one op after another: -1 for a constant.
    private var inputNodes: [Int] = []

    /// What this tape's tensors refer to it through.
    let handle = TapeHandle<Scalar>()

    init() {
        // A small network's step fits without regrowing.
        nodes.reserveCapacity(64)
        inputNodes.reserveCapacity(128)
        handle.tape = self
    }

    /// False once the forward pass is over: ops run in the reverse pass, or on tensors that
    /// escaped the scope, must not grow the graph.
    var isRecording = true

    /// The recording tape that `inputs`' tracked tensors belong to, if any.
    static func recording(_ inputs: [Tensor<Scalar>]) -> Tape? {
        var found: Tape?
        for input in inputs {
            guard let tape = input.activeTape else { continue }
            check(found == nil || found === tape, "an op mixes tensors from two different differentiation scopes")
            found = tape
        }
        return found
    }

    /// The tape of the innermost differentiation scope running on this thread, if any.
    static var current: Tape? { ThreadContext.tape.current(as: Tape.self) }

    /// Adds `value` as a variable of the graph and returns it tracked.
    func variable(_ value: Tensor<Scalar>) -> Tensor<Scalar> {
        var tracked = value.detached
        tracked.tracking = Tracking(handle: handle, index: nodes.count)
        nodes.append(Node(op: nil, shape: value.shape, call: nil, firstInput: inputNodes.count))
        return tracked
    }

    /// Records that `op` computed `output` (and `saved`) from `inputs` and `indices`; returns the
    /// output's place.
    func record(_ op: any TensorOperation<Scalar>, inputs: [Tensor<Scalar>], indices: [IndexTensor] = [],
                output: Tensor<Scalar>, saved: Tensor<Scalar>) -> Tracking<Scalar> {
        check(inputs.count <= 64, "\(op.name): an op takes at most 64 inputs, not \(inputs.count)")
        let firstInput = inputNodes.count
        var differentiated: UInt64 = 0
        for (position, input) in inputs.enumerated() {
            let node = input.activeTape === self ? input.tracking!.index : -1
            inputNodes.append(node)
            if node >= 0 { differentiated |= 1 << UInt64(position) }
        }
        // The inputs and the output are kept tracked: a first-order reverse pass runs with the
        // tape no longer recording, so nothing they feed is recorded again, and a reverse pass
        // that creates a graph records the gradient's ops with their dependence on both.
        let tracking = Tracking(handle: handle, index: nodes.count)
        var trackedOutput = output.detached
        trackedOutput.tracking = tracking
        let call = OperationCall(inputs: inputs, indices: indices, output: trackedOutput, saved: saved, differentiated: differentiated)
        nodes.append(Node(op: op, shape: output.shape, call: call, firstInput: firstInput))
        return tracking
    }

    /// The reverse pass: gradients of the node `output` (seeded with `seed`) with respect to each
    /// node in `leaves`; zeros for a leaf the output does not depend on. `creatingGraph`, the
    /// pass records its own ops on this tape, so that the gradients can be differentiated again.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func gradients(of output: Int, seed: Tensor<Scalar>, at leaves: [Int], creatingGraph: Bool = false) -> [Tensor<Scalar>] {
        let wasRecording = isRecording
        isRecording = creatingGraph && isRecording
        defer { isRecording = wasRecording }

        var grads = [Tensor<Scalar>?](repeating: nil, count: output + 1)
        grads[output] = seed.detached
        // The gradients of a tensor's slices, put in place all at once when its turn comes (see
        // `Slicing`): every consumer of a node comes after it, so by then they are all here.
        // By node; a dictionary, so that a pass with no slices allocates nothing for them.
        var slices: [Int: [(gradient: Tensor<Scalar>, placement: SlicePlacement)]] = [:]
        let lastLeaf = leaves.max() ?? -1
        // Nothing before the first leaf leads to a leaf. (A gradient taken where its input stands,
        // inside a recorded reverse pass, has its leaf deep in the graph.)
        let firstLeaf = max(leaves.min() ?? 0, 0)
        for index in stride(from: output, through: firstLeaf, by: -1) {
            if !slices.isEmpty, let pieces = slices.removeValue(forKey: index) {
                let placed = PlaceSlices.placing(pieces.map(\.gradient), at: pieces.map(\.placement), in: nodes[index].shape)
                grads[index] = grads[index].map { $0 + placed } ?? placed
            }
            guard let grad = grads[index], let op = nodes[index].op, let call = nodes[index].call else { continue }
            if let slicing = op as? any Slicing, let placement = slicing.placement {
                let input = inputNodes[nodes[index].firstInput]
                if input >= 0 { slices[input, default: []].append((grad, placement)) }
                if index > lastLeaf { grads[index] = nil }
                continue
            }
            let shares = op.gradients(grad, of: call)
            check(shares.count == call.inputs.count,
                  "backward: \(op.name) returned \(shares.count) gradients for \(call.inputs.count) inputs")
            for (position, share) in shares.enumerated() {
                let input = inputNodes[nodes[index].firstInput + position]
                guard input >= 0, let share else { continue }
                check(share.shape == nodes[input].shape,
                      "backward: \(op.name) returned a gradient of shape \(share.shape) for an input of shape \(nodes[input].shape)")
                grads[input] = grads[input].map { $0 + share } ?? share  // fan-out: gradients add up
            }
            if index > lastLeaf { grads[index] = nil }  // free intermediates as we go
        }
        return leaves.map { leaf in
            (leaf < grads.count ? grads[leaf] : nil) ?? Tensor(zeros: nodes[leaf].shape)
        }
    }
}

/// A tensor's place in a tape.
struct Tracking<Scalar: TensorScalar> {
    let handle: TapeHandle<Scalar>
    let index: Int

    /// The tape, while it lives.
    var tape: Tape<Scalar>? { handle.tape }
}

/// What a tracked tensor holds of its tape: a strong reference to this handle, which refers to
/// the tape weakly. Copying a tensor retains the handle, cheaper than copying a weak reference
/// (tensors are copied all the time), and the tape still dies with its scope.
final class TapeHandle<Scalar: TensorScalar> {
    weak var tape: Tape<Scalar>?
}

extension Tensor {
    /// Whether this tensor is part of a graph that is still recording.
    public var isTracked: Bool { activeTape != nil }

    /// The same values, cut off from the graph: gradients do not flow through the result.
    public var detached: Tensor {
        var copy = self
        copy.tracking = nil
        return copy
    }

    /// The tape this tensor records onto, if it is tracked and that tape is still recording.
    var activeTape: Tape<Scalar>? {
        guard let tape = tracking?.tape, tape.isRecording else { return nil }
        return tape
    }

    /// A tensor of `shape` over this one's storage from element `offset` on, recorded as `op`'s
    /// output for differentiation: a view computes nothing, so it is never launched or replayed.
    func view(_ op: any TensorOperation<Scalar>, shape: [Int], offset: Int = 0) -> Tensor {
        var view = Tensor(shape: shape, count: shape.reduce(1, *), storage: storage, offset: self.offset + offset)
        if let tape = activeTape {
            view.tracking = tape.record(op, inputs: [self], output: view, saved: view.detached)
        }
        return view
    }
}
