/// The record of one differentiation scope: every op that ran on tracked tensors, in the order it
/// ran.
///
/// Creation order is already a topological order (an op can only consume tensors that exist), so
/// the reverse pass is a plain backwards loop over an array: no recursion, no sort, no stack
/// depth to overflow, whatever the length of the graph.
///
/// Tensors refer to their tape weakly. The scope that made the tape owns it (and, after the
/// forward pass, the pullback closure it returns does), so the graph is freed as soon as that
/// scope or closure is gone, and a tensor that outlives it simply becomes a constant.
final class Tape<Scalar: TensorScalar> {
    /// One way a gradient flows: from a node back into one of its inputs.
    struct Edge {
        /// The input's node index.
        let input: Int
        /// Maps the gradient of the node's value to this input's share of it.
        let pullback: (Tensor<Scalar>) -> Tensor<Scalar>
    }

    /// A recorded value: a leaf (a variable, no edges) or the result of an op. Ops have one to
    /// three inputs, stored inline; only wider ones (concatenation) allocate a list.
    struct Node {
        let shape: [Int]
        /// The function that recorded it, for messages.
        var recordedBy: StaticString = "a variable"
        var first: Edge? = nil
        var second: Edge? = nil
        var third: Edge? = nil
        var more: [Edge] = []
        /// The op in replayable form, when it is a ``Primitive``, with the node of each of its
        /// inputs in order (nil for a constant): what ``ReplayPlan`` is built from.
        var primitive: (op: any Primitive<Scalar>, inputs: [Int?])? = nil

        mutating func add(_ edge: Edge) {
            if first == nil { first = edge }
            else if second == nil { second = edge }
            else if third == nil { third = edge }
            else { more.append(edge) }
        }

        func forEachEdge(_ body: (Edge) -> Void) {
            if let first { body(first) }
            if let second { body(second) }
            if let third { body(third) }
            for edge in more { body(edge) }
        }
    }

    private(set) var nodes: [Node]

    init() {
        nodes = []
        nodes.reserveCapacity(64)  // a small network's step fits without regrowing
    }

    /// False once the forward pass is over: ops run in a pullback, or on tensors that escaped the
    /// scope, must not grow the graph.
    var isRecording = true

    /// Adds `value` as a leaf of the graph and returns it tracked.
    func variable(_ value: Tensor<Scalar>) -> Tensor<Scalar> {
        append(value, Node(shape: value.shape))
    }

    /// Adds `value` as the result of an op whose inputs and pullbacks are `node`'s edges.
    func append(_ value: Tensor<Scalar>, _ node: Node) -> Tensor<Scalar> {
        var tracked = value
        tracked.tracking = Tracking(tape: self, index: nodes.count)
        nodes.append(node)
        return tracked
    }

    /// The reverse pass: gradients of the node `output` (seeded with `seed`) with respect to each
    /// node in `leaves`; zeros for a leaf the output does not depend on.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func gradients(of output: Int, seed: Tensor<Scalar>, at leaves: [Int]) -> [Tensor<Scalar>] {
        let wasRecording = isRecording
        isRecording = false
        defer { isRecording = wasRecording }

        var grads = [Tensor<Scalar>?](repeating: nil, count: output + 1)
        grads[output] = seed.detached
        // Variables are recorded before any op, so every node up to the last leaf is a leaf.
        let lastLeaf = leaves.max() ?? -1
        for index in stride(from: output, through: 0, by: -1) {
            guard let grad = grads[index] else { continue }
            nodes[index].forEachEdge { edge in
                let share = edge.pullback(grad)
                check(share.shape == nodes[edge.input].shape,
                      "backward: a pullback returned shape \(share.shape) for an input of shape \(nodes[edge.input].shape)")
                if let existing = grads[edge.input] {
                    grads[edge.input] = existing + share  // fan-out: gradients add up
                } else {
                    grads[edge.input] = share
                }
            }
            if index > lastLeaf { grads[index] = nil }  // free intermediates as we go
        }
        // A leaf recorded after the output (or never reached from it) gets zeros.
        return leaves.map { leaf in
            (leaf < grads.count ? grads[leaf] : nil) ?? Tensor(zeros: nodes[leaf].shape)
        }
    }
}

/// A tensor's place in a tape.
struct Tracking<Scalar: TensorScalar> {
    weak var tape: Tape<Scalar>?
    let index: Int
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

    /// Returns `self`, the value an op computed from `input`, recorded so that gradients flow back
    /// through `pullback` (the vector–Jacobian product: upstream gradient in, input gradient out).
    ///
    /// Untracked inputs make this a no-op, so evaluation outside a differentiation scope does no
    /// bookkeeping. This is the one call a new primitive op needs; see Docs/Architecture.md.
    /// `op` names the op in messages (such as why a ``TracedGradient`` cannot replay it); it
    /// defaults to the name of the function that calls this one.
    public func recorded(
        from input: Tensor, _ pullback: @escaping (Tensor) -> Tensor, op: StaticString = #function
    ) -> Tensor {
        var recording = Recording<Scalar>()
        let node = Tape<Scalar>.Node(shape: shape, recordedBy: op, first: recording.edge(input, pullback))
        return recording.append(self, node)
    }

    /// Two-input form of ``recorded(from:_:op:)``: one pullback per input.
    public func recorded(
        from lhs: Tensor, _ lhsPullback: @escaping (Tensor) -> Tensor,
        and rhs: Tensor, _ rhsPullback: @escaping (Tensor) -> Tensor, op: StaticString = #function
    ) -> Tensor {
        var recording = Recording<Scalar>()
        let node = Tape<Scalar>.Node(shape: shape, recordedBy: op, first: recording.edge(lhs, lhsPullback),
                                     second: recording.edge(rhs, rhsPullback))
        return recording.append(self, node)
    }

    /// Three-input form of ``recorded(from:_:op:)``: one pullback per input.
    public func recorded(
        from a: Tensor, _ aPullback: @escaping (Tensor) -> Tensor,
        and b: Tensor, _ bPullback: @escaping (Tensor) -> Tensor,
        and c: Tensor, _ cPullback: @escaping (Tensor) -> Tensor, op: StaticString = #function
    ) -> Tensor {
        var recording = Recording<Scalar>()
        let node = Tape<Scalar>.Node(shape: shape, recordedBy: op, first: recording.edge(a, aPullback),
                                     second: recording.edge(b, bPullback), third: recording.edge(c, cPullback))
        return recording.append(self, node)
    }

    /// Any-number-of-inputs form of ``recorded(from:_:op:)``: one pullback per input.
    public func recorded(from inputs: [(Tensor, (Tensor) -> Tensor)], op: StaticString = #function) -> Tensor {
        recorded(from: inputs, name: op, primitive: nil)
    }

    /// Records `self` as computed from `inputs`: one edge per tracked input (a constant has
    /// none). A ``Primitive`` passes itself as `primitive`, which the node keeps with the node of
    /// each of its inputs, so that a trace can replay it; the pullbacks serve the eager pass.
    func recorded(
        from inputs: [(Tensor, (Tensor) -> Tensor)], name: StaticString, primitive: (any Primitive<Scalar>)?
    ) -> Tensor {
        var recording = Recording<Scalar>()
        var node = Tape<Scalar>.Node(shape: shape, recordedBy: name)
        var nodes: [Int?] = []
        for (input, pullback) in inputs {
            let edge = recording.edge(input, pullback)
            if let edge { node.add(edge) }
            nodes.append(edge?.input)
        }
        if let primitive { node.primitive = (primitive, nodes) }
        return recording.append(self, node)
    }
}

/// The tape an op's inputs record onto, found while making their edges.
private struct Recording<Scalar: TensorScalar> {
    private var tape: Tape<Scalar>?

    /// The edge for `input`, or nil if it is a constant (untracked). All tracked inputs of one op
    /// must belong to the same scope.
    mutating func edge(_ input: Tensor<Scalar>, _ pullback: @escaping (Tensor<Scalar>) -> Tensor<Scalar>) -> Tape<Scalar>.Edge? {
        guard let inputTape = input.activeTape else { return nil }
        check(tape == nil || tape === inputTape, "an op mixes tensors from two different differentiation scopes")
        tape = inputTape
        return .init(input: input.tracking!.index, pullback: pullback)
    }

    /// `value` recorded as `node` if any input was tracked; otherwise `value` as it is.
    func append(_ value: Tensor<Scalar>, _ node: Tape<Scalar>.Node) -> Tensor<Scalar> {
        tape?.append(value, node) ?? value
    }
}
