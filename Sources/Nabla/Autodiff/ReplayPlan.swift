/// A recorded step turned into a fixed program over buffers allocated once: the forward pass and
/// the reverse pass of a tape whose ops are all ``Primitive``s, replayed without building a graph.
///
/// The tape it is built from starts with the parameters as leaves, then the step's two data
/// inputs (an input batch and its targets: leaves that need no gradient), then the ops.
/// Replaying reads the parameters and inputs where they are, writes every intermediate value and
/// gradient into one arena, and writes the parameters' gradients into tensors the caller owns.
/// It allocates nothing.
///
/// Only what the tape recorded is replayed, so a plan is built only when every op's inputs are
/// parameters, data inputs or results of recorded ops. A constant (or a `detached` value) would be
/// frozen at its traced value, so it makes the plan refuse instead.
///
/// A run can also take plain SGD's step on every parameter. One read by a single op, once, is
/// stepped by that op inside the reverse pass, after the op's other gradients (which may read
/// it) are formed; the others are stepped along their gradients at the end.
final class ReplayPlan<Scalar: TensorScalar> {
    /// One recorded op: which nodes it reads, which node it writes.
    private struct Instruction {
        let op: any Primitive<Scalar>
        let inputs: [Int]
        let output: Int
    }

    /// Why a tape cannot be replayed.
    struct Refusal: Error {
        let reason: String
    }

    /// The shapes this plan was traced at: its parameters', then its inputs'.
    let parameterShapes: [[Int]]
    let inputShapes: [[Int]]

    private let instructions: [Instruction]
    private let output: Int
    /// Where each node's value lives: the arena for ops, pinned storage for leaves.
    private let values: UnsafeMutablePointer<UnsafeMutablePointer<Scalar>>
    /// Where each node's gradient lives; nil for nodes no gradient flows to.
    private let gradients: UnsafeMutablePointer<UnsafeMutablePointer<Scalar>?>
    /// Whether a node's gradient has been written yet in this reverse pass.
    private let reached: UnsafeMutablePointer<Bool>
    /// Each node's number of elements.
    private let counts: [Int]
    /// For each parameter, whether a single op reads it, once: that op can then take its step.
    private let readOnce: [Bool]
    private let arena: UnsafeMutableRawPointer
    /// Where a second contribution to a gradient is formed before being added in (fan-out).
    private let scratch: UnsafeMutablePointer<Scalar>

    /// Builds the plan for `tape`, whose first `parameterCount` nodes are the parameters and next
    /// two the data inputs, differentiating the scalar node `output`.
    init(tape: Tape<Scalar>, parameterCount: Int, output: Int) throws(Refusal) {
        let nodes = tape.nodes
        let leafCount = parameterCount + 2
        let describe = { (index: Int) in "op \(index - leafCount), \(nodes[index].recordedBy) → \(nodes[index].shape)," }
        guard output >= leafCount, output < nodes.count, nodes[output].shape.reduce(1, *) == 1 else {
            throw Refusal(reason: "the traced function's result is not a single number computed from its inputs")
        }
        var instructions: [Instruction] = []
        var reads = [Int](repeating: 0, count: parameterCount)
        var needsGradient = [Bool](repeating: false, count: nodes.count)
        for index in 0..<parameterCount { needsGradient[index] = true }
        for index in leafCount..<nodes.count {
            guard let primitive = nodes[index].primitive else {
                throw Refusal(reason: "\(describe(index)) records only a pullback closure, which cannot be replayed "
                              + "(it is not a Primitive)")
            }
            var inputs: [Int] = []
            for input in primitive.inputs {
                guard let input else {
                    throw Refusal(reason: "\(describe(index)) reads a constant or detached tensor, which replaying "
                                  + "would freeze at its traced value")
                }
                inputs.append(input)
                if input < parameterCount { reads[input] += 1 }
                needsGradient[index] = needsGradient[index] || needsGradient[input]
            }
            instructions.append(Instruction(op: primitive.op, inputs: inputs, output: index))
        }

        // One arena: each op's value, then its gradient if one flows to it. Regions are whole
        // multiples of 16 elements from a 64-byte-aligned base, so each starts on a cache line.
        let counts = nodes.map { $0.shape.reduce(1, *) }
        let aligned = { (count: Int) in (count + 15) / 16 * 16 }
        var offsets: [(value: Int, gradient: Int?)] = []
        var size = 0
        for index in leafCount..<nodes.count {
            let value = size
            size += aligned(counts[index])
            var gradient: Int? = nil
            if needsGradient[index] { gradient = size; size += aligned(counts[index]) }
            offsets.append((value, gradient))
        }
        let scratchCount = (0..<nodes.count).filter { needsGradient[$0] }.map { counts[$0] }.max() ?? 0
        let scratchOffset = size
        size += aligned(scratchCount)

        let arena = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(size, 1) * MemoryLayout<Scalar>.stride,
                                                     alignment: 64)
        let base = arena.initializeMemory(as: Scalar.self, repeating: 0, count: Swift.max(size, 1))
        values = .allocate(capacity: nodes.count)
        values.initialize(repeating: base, count: nodes.count)  // leaves are pinned per run
        gradients = .allocate(capacity: nodes.count)
        gradients.initialize(repeating: nil, count: nodes.count)
        reached = .allocate(capacity: nodes.count)
        reached.initialize(repeating: false, count: nodes.count)
        for (position, offset) in offsets.enumerated() {
            values[leafCount + position] = base + offset.value
            gradients[leafCount + position] = offset.gradient.map { base + $0 }
        }
        scratch = base + scratchOffset
        self.arena = arena

        self.instructions = instructions
        self.output = output
        self.counts = counts
        self.readOnce = reads.map { $0 == 1 }
        self.parameterShapes = nodes[0..<parameterCount].map(\.shape)
        self.inputShapes = [nodes[parameterCount].shape, nodes[parameterCount + 1].shape]
    }

    deinit {
        arena.deallocate()
        values.deallocate()
        gradients.deallocate()
        reached.deallocate()
    }

    /// Whether the plan was traced at these shapes.
    func fits(_ input: Tensor<Scalar>, _ target: Tensor<Scalar>) -> Bool {
        input.shape == inputShapes[0] && target.shape == inputShapes[1]
    }

    /// Runs the step: the value of the output, with each parameter's gradient written into
    /// `parameterGradients` (in parameter order, shaped like the parameters). With `sgd`, each
    /// parameter then takes plain SGD's step w ← w − rate·(∂ + decay·w), and the gradients of
    /// those its op stepped are not written.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func run(
        input: Tensor<Scalar>, target: Tensor<Scalar>, parameters: [NamedParameter<Scalar>],
        gradients parameterGradients: inout [Tensor<Scalar>], sgd: (rate: Scalar, decay: Scalar)?
    ) -> Scalar {
        let first = parameterShapes.count
        return input.withUnsafeBufferPointer { input in
            target.withUnsafeBufferPointer { target in
                values[first] = UnsafeMutablePointer(mutating: input.baseAddress!)
                values[first + 1] = UnsafeMutablePointer(mutating: target.baseAddress!)
                return pin(parameters, from: 0, writable: sgd != nil) {
                    parameterGradients.withUnsafeMutableBufferPointer { tensors in
                        pin(gradientsOf: tensors, from: 0) {
                            forward()
                            backward(sgd: sgd)
                            return values[output][0]
                        }
                    }
                }
            }
        }
    }

    /// Points the parameters' leaves at their storage (unshared first if it is to be written),
    /// then runs `body`.
    private func pin<R>(_ parameters: [NamedParameter<Scalar>], from index: Int, writable: Bool, _ body: () -> R) -> R {
        guard index < parameters.count else { return body() }
        let parameter = parameters[index].parameter
        if writable {
            return parameter.wrappedValue.withUnsafeMutableBufferPointer { storage in
                values[index] = storage.baseAddress!
                return pin(parameters, from: index + 1, writable: writable, body)
            }
        }
        return parameter.wrappedValue.withUnsafeBufferPointer { storage in
            values[index] = UnsafeMutablePointer(mutating: storage.baseAddress!)
            return pin(parameters, from: index + 1, writable: writable, body)
        }
    }

    /// Points the parameters' gradients at the caller's tensors, then runs `body`.
    private func pin<R>(gradientsOf tensors: UnsafeMutableBufferPointer<Tensor<Scalar>>, from index: Int, _ body: () -> R) -> R {
        guard index < tensors.count else { return body() }
        return tensors[index].withUnsafeMutableBufferPointer { storage in
            gradients[index] = storage.baseAddress!
            return pin(gradientsOf: tensors, from: index + 1, body)
        }
    }

    /// Whether `node` is a parameter that, with SGD on, the one op reading it steps.
    private func isSteppedByItsOp(_ node: Int) -> Bool {
        node < readOnce.count && readOnce[node]
    }

    private func inputs(of instruction: Instruction) -> PrimitiveInputs<Scalar> {
        let nodes = instruction.inputs
        return PrimitiveInputs(UnsafePointer(values[nodes[0]]),
                               nodes.count > 1 ? UnsafePointer(values[nodes[1]]) : nil,
                               nodes.count > 2 ? UnsafePointer(values[nodes[2]]) : nil)
    }

    private func forward() {
        for instruction in instructions {
            instruction.op.forward(inputs(of: instruction), into: values[instruction.output])
        }
    }

    /// The reverse pass, in the same order as ``Tape/gradients(of:seed:at:)``: each op reached
    /// from the output passes its gradient to the inputs that need one, adding where a value
    /// was used more than once; then, with `sgd`, the parameters' steps.
    private func backward(sgd: (rate: Scalar, decay: Scalar)?) {
        reached.update(repeating: false, count: counts.count)
        if let seed = gradients[output] {  // nil when the output depends on no parameter
            seed[0] = 1
            reached[output] = true
        }
        for instruction in instructions.reversed() {
            let node = instruction.output
            guard reached[node], let upstream = gradients[node] else { continue }
            let inputs = inputs(of: instruction)
            for (position, input) in instruction.inputs.enumerated() {
                guard let destination = gradients[input] else { continue }
                if sgd != nil && isSteppedByItsOp(input) { continue }
                let isFirst = !reached[input]
                instruction.op.backward(input: position, inputs, output: values[node], upstream: upstream,
                                        into: isFirst ? destination : scratch)
                if isFirst {
                    reached[input] = true
                } else {
                    for i in 0..<counts[input] { destination[i] += scratch[i] }
                }
            }
            // Its parameters' steps come last: the gradients above may read their old values.
            guard let sgd else { continue }
            for (position, input) in instruction.inputs.enumerated() where isSteppedByItsOp(input) {
                instruction.op.step(input: position, inputs, output: values[node], upstream: upstream,
                                    parameter: values[input], count: counts[input], rate: sgd.rate,
                                    decay: sgd.decay, scratch: scratch)
                reached[input] = true
            }
        }
        for parameter in 0..<parameterShapes.count {
            let stepped = sgd != nil && isSteppedByItsOp(parameter) && reached[parameter]
            // A parameter the output does not depend on gets zeros, as in the eager pass.
            if !reached[parameter] { gradients[parameter]!.update(repeating: 0, count: counts[parameter]) }
            if let sgd, !stepped {
                Scalar.sgdStep(values[parameter], gradient: gradients[parameter]!, count: counts[parameter],
                               rate: sgd.rate, decay: sgd.decay)
            }
        }
    }
}
