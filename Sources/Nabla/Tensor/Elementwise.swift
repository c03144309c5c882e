import CNablaKernels

// The loops elementwise ops are built on, over raw storage.

/// Below this many elements a loop runs on the calling thread: handing work to the pool costs
/// microseconds, more than a small tensor's loop (every tensor of the book's mini-batch of 10).
let parallelElementMinimum = 1 << 14

/// Runs `body(context, chunk)` over `0..<count` in contiguous chunks, on the worker pool when
/// the work is large: `count` units of `unitSize` elements each (rows of a matrix, images of a
/// batch). `body` must only write to its own chunk's units.
///
/// `body` must capture nothing: what it reads comes in `context` (a tuple of pointers and
/// values, or the op itself). A closure handed to another thread is made escapable, and one
/// that captures then has its captures put on the heap, an allocation at every call that a
/// replayed step must not make; one that captures nothing costs none. (The compiler cannot check
/// it; the benchmarks' allocation counts on all cores do.)
@inline(__always)
package func forEachChunk<Context>(_ count: Int, unitSize: Int = 1, _ context: Context,
                                   _ body: (_ context: Context, _ chunk: Range<Int>) -> Void) {
    guard let shares = parallelShares(count, unitSize: unitSize) else { return body(context, 0..<count) }
    withoutActuallyEscaping(body) { body in runShares(ChunkLoop(context: context, body: body), count: count, shares: shares) }
}

/// Like ``forEachChunk(_:unitSize:_:_:)``, in at most `maxShares` chunks, each passed with its
/// number (0, 1, …), so that a chunk can use scratch memory of its own.
@inline(__always)
func forEachShare<Context>(_ count: Int, unitSize: Int = 1, maxShares: Int = Int.max, _ context: Context,
                           _ body: (_ context: Context, _ share: Int, _ chunk: Range<Int>) -> Void) {
    guard let shares = parallelShares(count, unitSize: unitSize, maxShares: maxShares) else { return body(context, 0, 0..<count) }
    withoutActuallyEscaping(body) { body in runShares(ShareLoop(context: context, body: body), count: count, shares: shares) }
}

/// How many shares a loop over `count` units splits into, or nil to run it on the calling thread.
@inline(__always)
private func parallelShares(_ count: Int, unitSize: Int, maxShares: Int = Int.max) -> Int? {
    let shares = min(nabla_thread_count(), count, maxShares)
    return count * unitSize >= parallelElementMinimum && shares > 1 ? shares : nil
}

/// A loop the worker pool runs share by share. The pool reaches it through its type (a
/// metatype, which needs no allocation) and a pointer to it on the caller's stack.
private protocol ParallelLoop {
    func run(share: Int, _ chunk: Range<Int>)
}

extension ParallelLoop {
    static func run(at loop: UnsafeRawPointer, share: Int, _ chunk: Range<Int>) {
        loop.assumingMemoryBound(to: Self.self).pointee.run(share: share, chunk)
    }
}

private struct ChunkLoop<Context>: ParallelLoop {
    let context: Context
    let body: (Context, Range<Int>) -> Void
    func run(share: Int, _ chunk: Range<Int>) { body(context, chunk) }
}

private struct ShareLoop<Context>: ParallelLoop {
    let context: Context
    let body: (Context, Int, Range<Int>) -> Void
    func run(share: Int, _ chunk: Range<Int>) { body(context, share, chunk) }
}

/// One parallel loop as the pool's workers see it.
private struct ParallelJob {
    let loop: UnsafeRawPointer
    let type: any ParallelLoop.Type
    let count: Int
    let shares: Int
}

/// Runs `loop` in `shares` contiguous shares of `0..<count` on the worker pool.
@inline(__always)
private func runShares<Loop: ParallelLoop>(_ loop: Loop, count: Int, shares: Int) {
    withUnsafePointer(to: loop) { loop in
        var job = ParallelJob(loop: UnsafeRawPointer(loop), type: Loop.self, count: count, shares: shares)
        withUnsafeMutablePointer(to: &job) { nabla_parallel_for(shares, runParallelShare, UnsafeMutableRawPointer($0)) }
    }
}

/// Runs share `share` of the ``ParallelJob`` at `context`.
private let runParallelShare: @convention(c) (UnsafeMutableRawPointer?, Int) -> Void = { context, share in
    let job = context!.assumingMemoryBound(to: ParallelJob.self).pointee
    job.type.run(at: job.loop, share: share, job.count * share / job.shares ..< job.count * (share + 1) / job.shares)
}

/// Σ `term(i)` over `0..<count`, in four interleaved running sums. A single running sum waits for
/// each addition to finish before starting the next, and a large batch's cost runs on one core
/// while the others wait (Docs/Performance.md has the measurement).
@inline(__always)
func interleavedSum<Scalar: TensorScalar>(count: Int, _ term: (Int) -> Scalar) -> Scalar {
    var (s0, s1, s2, s3) = (Scalar(0), Scalar(0), Scalar(0), Scalar(0))
    var i = 0
    while i + 4 <= count {
        s0 += term(i)
        s1 += term(i + 1)
        s2 += term(i + 2)
        s3 += term(i + 3)
        i += 4
    }
    while i < count {
        s0 += term(i)
        i += 1
    }
    return (s0 + s1) + (s2 + s3)
}

/// Adds the `rows` rows of the [rows, columns] matrix at `x` into `y`, one row after another: a
/// bias's gradient, from the gradient of every row it was added to.
@inline(__always)
func addRows<Scalar: TensorScalar>(
    of x: UnsafePointer<Scalar>, rows: Int, columns: Int, into y: UnsafeMutablePointer<Scalar>
) {
    for row in 0..<rows {
        let xRow = x + row * columns
        for j in 0..<columns { y[j] += xRow[j] }
    }
}

extension Array where Element == Int {
    /// Whether this shape is a non-empty trailing part of `shape`, so that a tensor of this shape
    /// broadcasts against one of `shape` by simple repetition.
    func isSuffix(of shape: [Int]) -> Bool {
        !isEmpty && count <= shape.count && shape.suffix(count).elementsEqual(self) && !contains(0)
    }
}

/// The shape two shapes broadcast to, or a stop naming the op and both shapes.
func broadcastShape(_ a: [Int], _ b: [Int], op: String) -> [Int] {
    let rank = max(a.count, b.count)
    let pa = [Int](repeating: 1, count: rank - a.count) + a
    let pb = [Int](repeating: 1, count: rank - b.count) + b
    return (0..<rank).map { axis in
        let (x, y) = (pa[axis], pb[axis])
        check(x == y || x == 1 || y == 1,
              "\(op): shapes \(a) and \(b) do not broadcast: dimension \(axis) is \(x) against \(y)")
        return x == 1 ? y : x
    }
}

/// How a tensor of shape `from` is read when broadcast to shape `to`: the stride of each of `to`'s
/// dimensions in the source's elements, 0 where the source repeats.
func broadcastStrides(from source: [Int], to target: [Int]) -> [Int] {
    let padded = [Int](repeating: 1, count: target.count - source.count) + source
    var strides = [Int](repeating: 0, count: target.count)
    var step = 1
    for axis in (0..<target.count).reversed() {
        strides[axis] = padded[axis] == 1 && target[axis] != 1 ? 0 : step
        step *= padded[axis]
    }
    return strides
}

/// Calls `body(o, a, b)` for every element `o` of a tensor of `shape`, in order, with the offsets
/// `a` and `b` that two sources with these strides (``broadcastStrides(from:to:)``) read there.
/// Allocates nothing: the index lives on the stack.
@inline(__always)
func forEachBroadcastElement(_ shape: [Int], _ stridesA: [Int], _ stridesB: [Int], _ body: (Int, Int, Int) -> Void) {
    guard let inner = shape.last else { return body(0, 0, 0) }
    let (innerA, innerB) = (stridesA[shape.count - 1], stridesB[shape.count - 1])
    forEachBroadcastRow(shape, stridesA, stridesB, rows: 0..<broadcastRowCount(shape)) { o, a, b in
        for j in 0..<inner { body(o + j, a + j * innerA, b + j * innerB) }
    }
}

/// How many rows — runs along the last dimension — a tensor of `shape` (rank ≥ 1) has.
func broadcastRowCount(_ shape: [Int]) -> Int {
    shape.last == 0 ? 0 : shape.reduce(1, *) / shape.last!
}

/// Calls `body(o, a, b)` for each row in `rows` of a tensor of `shape` (rank ≥ 1) — each run of
/// `shape.last` elements — with the offsets where the row starts in it and in two sources read
/// with these strides. A row is where a loop can run straight (each source's stride along it is
/// one, or zero for a repeated value); `rows` lets a parallel loop give each thread its own.
@inline(__always)
func forEachBroadcastRow(_ shape: [Int], _ stridesA: [Int], _ stridesB: [Int], rows: Range<Int>, _ body: (Int, Int, Int) -> Void) {
    guard !rows.isEmpty else { return }
    let outer = shape.count - 1, inner = shape[outer]
    withUnsafeTemporaryAllocation(of: Int.self, capacity: max(outer, 1)) { index in
        // The first row's index in the outer dimensions, and where the sources start there.
        var (a, b, rest) = (0, 0, rows.lowerBound)
        for axis in (0..<outer).reversed() {
            index[axis] = rest % shape[axis]
            rest /= shape[axis]
            a += index[axis] * stridesA[axis]
            b += index[axis] * stridesB[axis]
        }
        for row in rows {
            body(row * inner, a, b)
            // The next row: carry through the outer dimensions.
            var axis = outer - 1
            while axis >= 0 {
                index[axis] += 1
                a += stridesA[axis]
                b += stridesB[axis]
                if index[axis] < shape[axis] { break }
                a -= stridesA[axis] * shape[axis]
                b -= stridesB[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }
}

/// Fills `y`, a tensor of `shape`, from `x` read with `strides` along each of its dimensions (a
/// broadcast's, with 0 where `x` repeats, or a permutation's), row by row and split across
/// threads: a row copied straight, one value repeated, or gathered at a stride.
@inline(__always)
func copyRows<Scalar>(of x: UnsafePointer<Scalar>, strides: [Int], into y: UnsafeMutablePointer<Scalar>, shape: [Int]) {
    guard let inner = shape.last else { y[0] = x[0]; return }
    let innerStride = strides[shape.count - 1]
    forEachChunk(broadcastRowCount(shape), unitSize: inner, (x, strides, y, shape, inner, innerStride)) { operands, rows in
        let (x, strides, y, shape, inner, innerStride) = operands
        forEachBroadcastRow(shape, strides, strides, rows: rows) { o, i, _ in
            switch innerStride {
            case 0: (y + o).update(repeating: x[i], count: inner)
            case 1: (y + o).update(from: x + i, count: inner)
            default: for k in 0..<inner { y[o + k] = x[i + k * innerStride] }
            }
        }
    }
}
