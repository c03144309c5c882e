/// A step recorded once and replayed: every op launched while it was recording, in order, over
/// buffers that stay allocated from one replay to the next.
///
/// Recording is transparent. While a program records on a thread, each launch on that thread —
/// forward pass, reverse pass, an optimizer's update, whatever ran — is written down as the op
/// and the buffers it read and wrote. Replaying calls the same ops' ``TensorOperation/forward(_:)``
/// on the same buffers again, so it computes exactly what the recorded run computed, to the bit,
/// allocating nothing. The program knows nothing about any op, layer or optimizer.
///
/// Its buffers are of two kinds:
/// - **slots**, the storage of tensors that live outside the step — its inputs, the parameters
///   and layer states, the optimizer's state — named when recording starts and pointed at their
///   current storage before each replay;
/// - every other buffer a launch touched (intermediate values, gradients, constants made during
///   the step), which the program keeps. Those that lived only inside the recorded run — a
///   launch wrote them, nothing held them once it was over — share memory wherever their lives
///   in the program do not overlap (see `shareBuffers`), so that a replay needs about what the
///   eager step had live at its peak, not everything it ever made.
///
/// What it cannot capture is work done outside launches on values computed inside the step: a
/// loop that reads a tensor's elements (``Tensor/scalars``) and decides something from them. Such
/// a read while recording makes the program refuse to replay, saying where (see ``refusal``).
/// Control flow on tensor values is the limit of any trace: the program keeps the path of the
/// run it recorded.
final class Program<Scalar: TensorScalar> {
    /// A launch's operand: a buffer (slots first) and where in it the tensor starts, in bytes
    /// (a buffer may hold indices, whose elements are not the scalar's size).
    struct Operand: Equatable {
        let buffer: Int
        let byteOffset: Int
    }

    /// Why the program cannot be replayed, if it cannot.
    private(set) var refusal: String?

    /// The memory of the buffers the program keeps once recorded (each storage once), and what
    /// they would take if none shared memory.
    private(set) var bufferMemory = (bytes: 0, withoutSharing: 0)

    private var ops: [any TensorOperation<Scalar>] = []
    /// Each launch's operands: its inputs, then its output and saved buffer.
    private var operandStarts: [Int] = [0]
    private var operands: [Operand] = []
    private var workspaceCount = 0
    /// How many slots the program reads, numbered from 0.
    let slotCount: Int
    /// Buffer numbers by the address of their storage's first element, while recording, with
    /// (for a slot) where in the storage the slot's tensor starts.
    private var buffers: [UnsafeMutableRawPointer: (number: Int, offset: Int)] = [:]
    /// The buffers met while recording, numbered from `slotCount` on.
    private var met: [MetBuffer] = []
    /// The buffers the program keeps, numbered from `slotCount` on: laid out when recording ends.
    private var kept: [TensorStorage<Scalar>] = []
    /// The storage of those that are indices (an ``IndexTensor`` made inside the step: a
    /// constant), by the same numbers; nil for the others.
    private var keptIndices: [TensorStorage<Int32>?] = []
    /// Which of them outside code held when recording ended (other than the step's results):
    /// tensors the step captured from outside, such as a model's constants.
    private var captured: [Int] = []

    /// A buffer met while recording. One the step read before any launch wrote it (a constant,
    /// whose values must outlive the recorded run) is held from the start; one a launch produced
    /// is only watched, so that it dies when the eager step lets go of it — and then its address,
    /// reused by a later storage, names a new buffer.
    struct MetBuffer {
        var held: TensorStorage<Scalar>?
        weak var produced: TensorStorage<Scalar>?
        /// A constant's storage when it holds indices.
        var heldIndices: TensorStorage<Int32>?
        /// The buffer's size in bytes.
        let bytes: Int

        var isAlive: Bool { held != nil || produced != nil || heldIndices != nil }
    }

    /// Every buffer's first element, by buffer number: slots filled in before each replay.
    private var addresses: UnsafeMutablePointer<UnsafeMutablePointer<Scalar>>?
    /// One launch's operand addresses, then its workspace's.
    private var launchAddresses: UnsafeMutablePointer<UnsafeMutablePointer<Scalar>>?
    private var workspace: TensorStorage<Scalar>?

    /// Where a slot's tensor lies: its storage's first element, and its offset there in bytes.
    struct Origin {
        let storage: UnsafeMutableRawPointer
        let offset: Int
    }

    /// Prepares to record a step whose outside tensors lie at `slots`, in the order
    /// ``run(slots:)`` will give their first elements.
    init(slots: UnsafeBufferPointer<Origin>) {
        slotCount = slots.count
        for (index, slot) in slots.enumerated() where buffers.updateValue((index, slot.offset), forKey: slot.storage) != nil {
            refusal = "two of the step's inputs, parameters or optimizer states share storage (slot \(index))"
        }
    }

    deinit {
        addresses?.deallocate()
        launchAddresses?.deallocate()
    }

    /// The program the calling thread is recording, if any.
    static var recording: Program? { ThreadContext.program.current(as: Program.self) }

    /// Runs `body`, recording every launch it makes on this thread.
    func record<R>(_ body: () -> R) -> R { ThreadContext.program.with(self, body) }

    /// Writes down one launch of `op` on `inputs` and `indices`, of which the first `updating`
    /// inputs are written in place, producing `output` and `saved`.
    func append(_ op: any TensorOperation<Scalar>, _ inputs: [Tensor<Scalar>], indices: [IndexTensor],
                output: Tensor<Scalar>, saved: Tensor<Scalar>, updating: Int) {
        ops.append(op)
        let start = operands.count
        for tensor in inputs { operands.append(operand(tensor)) }
        for index in indices {
            operands.append(operand(at: index.firstStorageByte, offset: index.offset * MemoryLayout<Int32>.stride) {
                MetBuffer(heldIndices: index.storage, bytes: index.storage.count * MemoryLayout<Int32>.stride)
            })
        }
        operands.append(operand(output, produced: true))
        operands.append(operand(saved, produced: true))
        if refusal == nil, operands[start..<(start + updating)].contains(where: { $0.buffer >= slotCount }) {
            // Its update would land in a buffer of the program's own, seen by nobody.
            refusal = "op \(ops.count - 1), \(op.name), updates in place a tensor that is not one of the step's "
                + "inputs, parameters or optimizer states"
        }
        operandStarts.append(operands.count)
        workspaceCount = max(workspaceCount, op.workspaceCount)
    }

    /// Where `tensor` is: its buffer (a new one if its storage is new, which a launch has
    /// `produced` or not), and its offset there (from the slot's tensor, for a slot, which may be
    /// a view).
    private func operand(_ tensor: Tensor<Scalar>, produced: Bool = false) -> Operand {
        operand(at: UnsafeMutableRawPointer(tensor.storage.elements), offset: tensor.offset * MemoryLayout<Scalar>.stride) {
            let bytes = tensor.storage.count * MemoryLayout<Scalar>.stride
            return produced ? MetBuffer(produced: tensor.storage, bytes: bytes) : MetBuffer(held: tensor.storage, bytes: bytes)
        }
    }

    /// The operand `offset` bytes into the storage whose first element is at `key`: a buffer met
    /// before, or the new one `meeting` describes.
    private func operand(at key: UnsafeMutableRawPointer, offset: Int, meeting: () -> MetBuffer) -> Operand {
        if let (number, slotOffset) = buffers[key], number < slotCount || met[number - slotCount].isAlive {
            return Operand(buffer: number, byteOffset: offset - slotOffset)
        }
        met.append(meeting())
        buffers[key] = (slotCount + met.count - 1, 0)
        return Operand(buffer: slotCount + met.count - 1, byteOffset: offset)
    }

    /// Notes that `tensor`'s elements are being read on the CPU through `accessor`. While a
    /// program records, a read of anything the step computed or took in makes it unreplayable.
    static func noteHostRead(of tensor: Tensor<Scalar>, by accessor: String) {
        recording?.noteHostRead(of: UnsafeMutableRawPointer(tensor.storage.elements), by: accessor)
    }

    /// One recorded launch: the op, and its operands — its inputs, then its output and saved buffer.
    typealias Launch = (op: any TensorOperation<Scalar>, operands: [Operand])

    /// Lets `pass` rewrite the recorded launches before the program first runs: an optimisation
    /// that replaces some launches by fewer, computing the same.
    func rewrite(_ pass: (inout [Launch]) -> Void) {
        var launches = ops.indices.map { Launch(ops[$0], Array(operands[operandStarts[$0] ..< operandStarts[$0 + 1]])) }
        pass(&launches)
        ops = launches.map(\.op)
        operands = launches.flatMap(\.operands)
        operandStarts = [0] + launches.reduce(into: [Int]()) { starts, launch in
            starts.append((starts.last ?? 0) + launch.operands.count)
        }
    }

    /// Ends recording: what the program needs to replay is laid out once. `results` are the
    /// exports the caller holds.
    func finishRecording(results: [Export]) {
        let held = Set(results.map { $0.buffer - slotCount })
        // What is alive now is kept as it is: results, constants, and whatever outside code
        // holds; the rest lived inside the step only.
        var alive = met.map { $0.held ?? $0.produced }
        keptIndices = met.map(\.heldIndices)
        let bytes = met.map(\.bytes)
        met = []   // so that the program's only references to each are in `alive` and `keptIndices`
        captured = alive.indices.filter { index in
            guard !held.contains(index) else { return false }
            if keptIndices[index] != nil { return !isKnownUniquelyReferenced(&keptIndices[index]) }
            return alive[index] != nil && !isKnownUniquelyReferenced(&alive[index])
        }
        kept = shareBuffers(alive, constant: keptIndices.map { $0 != nil }, bytes: bytes)
        var distinct = Set<ObjectIdentifier>()
        let shared = kept.indices.filter { keptIndices[$0] == nil && distinct.insert(ObjectIdentifier(kept[$0])).inserted }
            .map { kept[$0].count * MemoryLayout<Scalar>.stride }.reduce(0, +)
        let indexBytes = keptIndices.compactMap { $0.map { $0.count * MemoryLayout<Int32>.stride } }.reduce(0, +)
        bufferMemory = (shared + indexBytes, bytes.reduce(0, +))
        let addresses = UnsafeMutablePointer<UnsafeMutablePointer<Scalar>>.allocate(capacity: slotCount + kept.count)
        for index in kept.indices {
            (addresses + slotCount + index).initialize(to: keptIndices[index]?.elements.operand() ?? kept[index].elements)
        }
        self.addresses = addresses
        let widest = zip(operandStarts, operandStarts.dropFirst()).map { $1 - $0 }.max() ?? 0
        launchAddresses = .allocate(capacity: widest + 1)
        workspace = .make(count: workspaceCount)
        buffers = [:]
    }

    /// The tensor `tensor` is at replay: the same view of the buffer the program keeps for it,
    /// which holds its value after each ``run(slots:)``. If the caller still holds what an
    /// earlier run returned, the buffer is replaced first, so that nothing returned is overwritten.
    func export(_ tensor: Tensor<Scalar>) -> Export {
        let place = operand(tensor)
        if place.buffer < slotCount {
            refusal = "the step returns one of its inputs, parameters or optimizer states as it is"
        }
        return Export(buffer: place.buffer, offset: place.byteOffset / MemoryLayout<Scalar>.stride, shape: tensor.shape)
    }

    /// A tensor a run hands back to its caller.
    struct Export {
        let buffer: Int
        let offset: Int
        let shape: [Int]
    }

    /// The tensor `export` names, after a run.
    func tensor(_ export: Export) -> Tensor<Scalar> {
        let storage = kept[export.buffer - slotCount]
        return Tensor(shape: export.shape, count: export.shape.reduce(1, *), storage: storage, offset: export.offset)
    }

    /// Gives `export`'s buffer new storage if anything outside the program still holds it: a
    /// copy, since a buffer no launch writes (a gradient of zeros, a constant) must keep its values.
    func release(_ export: Export) {
        let index = export.buffer - slotCount
        guard !isKnownUniquelyReferenced(&kept[index]) else { return }
        let copy = TensorStorage<Scalar>.make(count: kept[index].count)
        copy.elements.initialize(from: kept[index].elements, count: kept[index].count)
        kept[index] = copy
        addresses![export.buffer] = copy.elements
    }

    /// Whether a tensor the step captured from outside has been let go of since: a captured
    /// variable given a new value, say. The step would now read the new one, so the program no
    /// longer computes what it does, and must be recorded again.
    var isStale: Bool {
        captured.contains { keptIndices[$0] != nil ? isKnownUniquelyReferenced(&keptIndices[$0]) : isKnownUniquelyReferenced(&kept[$0]) }
    }

    /// Replays the program, with slot `i` at `slots[i]`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func run(slots: UnsafePointer<UnsafeMutablePointer<Scalar>>) {
        let (addresses, pointers) = (addresses!, launchAddresses!)
        addresses.update(from: slots, count: slotCount)
        let workspace = workspace!.elements
        // Buffer pointers, not the arrays: a class's stored properties are checked for exclusive
        // access on every read, and an op read out of an array is copied (its arrays retained).
        ops.withUnsafeBufferPointer { ops in
            operandStarts.withUnsafeBufferPointer { operandStarts in
                operands.withUnsafeBufferPointer { operands in
                    for index in ops.indices {
                        let (start, end) = (operandStarts[index], operandStarts[index + 1])
                        for position in start..<end {
                            let operand = operands[position]
                            pointers[position - start] = (UnsafeMutableRawPointer(addresses[operand.buffer]) + operand.byteOffset)
                                .assumingMemoryBound(to: Scalar.self)
                        }
                        pointers[end - start] = workspace
                        ops[index].forward(OperationBuffers(pointers: pointers, inputCount: end - start - 2))
                    }
                }
            }
        }
    }
}

extension Program {
    /// Storage for every buffer: those in `alive` as they are (and an empty one for a `constant`
    /// of indices, which the program keeps apart); each of the others — written first
    /// by one launch, used last by the same or a later one — from a pool, so that buffers whose
    /// spans of launches do not overlap share memory. A buffer takes the smallest free storage of
    /// at least its `bytes`, or new storage; storage returns to the pool after the
    /// launch that used its buffer last, so no launch's output shares memory with its inputs.
    private func shareBuffers(_ alive: [TensorStorage<Scalar>?], constant: [Bool], bytes: [Int]) -> [TensorStorage<Scalar>] {
        let counts = bytes.map { $0 / MemoryLayout<Scalar>.stride }
        var (first, last) = ([Int](repeating: -1, count: alive.count), [Int](repeating: -1, count: alive.count))
        for launch in ops.indices {
            let (start, end) = (operandStarts[launch], operandStarts[launch + 1])
            for position in start..<end where operands[position].buffer >= slotCount {
                let index = operands[position].buffer - slotCount
                if first[index] < 0 {
                    first[index] = launch
                    // Only a launch's output or saved buffer can be new to the step and die in it.
                    check(alive[index] != nil || constant[index] || position >= end - 2,
                          "program: launch \(launch), \(ops[launch].name), reads a buffer no launch wrote")
                }
                last[index] = launch
            }
        }
        var (starting, ending) = ([[Int]](repeating: [], count: ops.count), [[Int]](repeating: [], count: ops.count))
        for index in alive.indices where alive[index] == nil && !constant[index] && first[index] >= 0 {
            starting[first[index]].append(index)
            ending[last[index]].append(index)
        }
        var storage = alive
        var free: [TensorStorage<Scalar>] = []   // by size, smallest first
        for launch in ops.indices {
            for index in starting[launch] {
                if let fit = free.firstIndex(where: { $0.count >= counts[index] }) {
                    storage[index] = free.remove(at: fit)
                } else {
                    storage[index] = .make(count: counts[index])
                }
            }
            for index in ending[launch] {
                let done = storage[index]!
                free.insert(done, at: free.firstIndex { $0.count >= done.count } ?? free.endIndex)
            }
        }
        // A buffer a rewrite left unused by any launch needs no memory.
        return storage.map { $0 ?? .make(count: 0) }
    }
}

/// What a recording program is to values of any element type: told when one is read on the CPU.
protocol HostReadWatching: AnyObject {
    /// Notes that the storage whose first element is at `elements` is being read through `accessor`.
    func noteHostRead(of elements: UnsafeMutableRawPointer, by accessor: String)
}

extension Program: HostReadWatching {
    /// A read of anything the step computed or took in makes the program unreplayable.
    func noteHostRead(of elements: UnsafeMutableRawPointer, by accessor: String) {
        guard refusal == nil, buffers[elements] != nil else { return }
        let after = ops.last.map { "after op \(ops.count - 1), \($0.name)" } ?? "before any op"
        refusal = "the step reads a tensor's values on the CPU (\(accessor)) \(after); "
            + "a replay would keep the values of the traced run"
    }
}
