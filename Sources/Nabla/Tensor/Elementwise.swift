import CNablaKernels

// The loops every elementwise op is built on. None of these record anything: ops call them for
// the forward value, and pullbacks call them for gradients.

/// Below this many elements a loop runs on the calling thread: handing work to the pool costs
/// microseconds, more than a small tensor's loop (every tensor of the book's mini-batch of 10).
let parallelElementMinimum = 1 << 14

/// Runs `body` over `0..<count` in contiguous chunks, on the worker pool when the work is large:
/// `count` units of `unitSize` elements each (rows of a matrix, images of a batch). `body` must
/// only write to its own chunk's units.
@inline(__always)
func forEachChunk(_ count: Int, unitSize: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = nabla_thread_count()
    guard count * unitSize >= parallelElementMinimum, count > 1, threads > 1 else {
        body(0..<count)
        return
    }
    typealias Job = (body: (Range<Int>) -> Void, count: Int, shares: Int)
    withoutActuallyEscaping(body) { body in
        var job: Job = (body, count, min(threads, count))
        withUnsafeMutablePointer(to: &job) { pointer in
            nabla_parallel_for(min(threads, count), { context, share in
                let job = context!.assumingMemoryBound(to: Job.self).pointee
                job.body(job.count * share / job.shares ..< job.count * (share + 1) / job.shares)
            }, pointer)
        }
    }
}

/// Σ `term(i)` over `0..<count`, in four interleaved running sums. A single running sum waits for
/// each addition to finish before starting the next: over a mini-batch of 1,000 rows of 10, the
/// cost took about 6.5 µs longer that way, while every other core waited for the step to go on.
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

extension Tensor {
    /// A tensor of the same shape with `transform` applied to every element.
    @inline(__always)
    func map(_ transform: (Scalar) -> Scalar) -> Tensor {
        Tensor(shape: shape) { out in
            scalars.withUnsafeBufferPointer { x in
                forEachChunk(x.count) { chunk in
                    for i in chunk { out[i] = transform(x[i]) }
                }
            }
        }
    }

    /// Combines two tensors of the same shape element by element.
    @inline(__always)
    func zipMap(_ other: Tensor, _ combine: (Scalar, Scalar) -> Scalar) -> Tensor {
        Tensor(shape: shape) { out in
            scalars.withUnsafeBufferPointer { a in
                other.scalars.withUnsafeBufferPointer { b in
                    forEachChunk(a.count) { chunk in
                        for i in chunk { out[i] = combine(a[i], b[i]) }
                    }
                }
            }
        }
    }

    /// Combines two tensors element by element under NumPy broadcasting: shapes are aligned at
    /// their last dimension, and each pair of sizes must be equal or contain a 1.
    @inline(__always)
    func broadcastingZipMap(
        _ other: Tensor, op: String, _ combine: (Scalar, Scalar) -> Scalar
    ) -> Tensor {
        if shape == other.shape { return zipMap(other, combine) }
        if other.shape.isSuffix(of: shape) {
            // The common case, a bias row added to every row: `other` repeats, no index walk.
            let period = other.count
            return Tensor(shape: shape) { out in
                scalars.withUnsafeBufferPointer { x in
                    other.scalars.withUnsafeBufferPointer { y in
                        // Chunks of whole periods, so each chunk restarts `other` at 0.
                        forEachChunk(x.count / period, unitSize: period) { rows in
                            for row in rows {
                                let base = row * period
                                for j in 0..<period { out[base + j] = combine(x[base + j], y[j]) }
                            }
                        }
                    }
                }
            }
        }
        let outShape = broadcastShape(shape, other.shape, op: op)
        let a = BroadcastWalk(from: shape, to: outShape)
        let b = BroadcastWalk(from: other.shape, to: outShape)
        let count = outShape.reduce(1, *)
        return Tensor(shape: outShape) { out in
            scalars.withUnsafeBufferPointer { x in
                other.scalars.withUnsafeBufferPointer { y in
                    var walkA = a, walkB = b
                    var o = 0
                    while o < count {
                        let (sa, sb) = (walkA.innerStride, walkB.innerStride)
                        let (oa, ob) = (walkA.offset, walkB.offset)
                        for j in 0..<walkA.innerCount {
                            out[o + j] = combine(x[oa + j * sa], y[ob + j * sb])
                        }
                        o += walkA.innerCount
                        walkA.advanceOuter()
                        walkB.advanceOuter()
                    }
                }
            }
        }
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

/// Walks the elements of a tensor of shape `from` as if broadcast to `to`, one innermost row at
/// a time: a broadcast dimension gets stride 0, so the same element is read again.
struct BroadcastWalk {
    /// Stride of each dimension of `to`, in elements of the source (0 where broadcast).
    private let strides: [Int]
    private let outShape: [Int]
    private var index: [Int]
    /// Offset in the source of the current row's first element.
    private(set) var offset = 0
    /// Elements per innermost row, and the source stride along it.
    let innerCount: Int
    let innerStride: Int

    init(from source: [Int], to target: [Int]) {
        let padded = [Int](repeating: 1, count: target.count - source.count) + source
        var strides = [Int](repeating: 0, count: target.count)
        var step = 1
        for axis in (0..<target.count).reversed() {
            strides[axis] = padded[axis] == 1 && target[axis] != 1 ? 0 : step
            step *= padded[axis]
        }
        self.strides = strides
        self.outShape = target
        self.index = [Int](repeating: 0, count: max(target.count - 1, 0))
        innerCount = target.last ?? 1
        innerStride = strides.last ?? 0
    }

    /// Moves to the next innermost row.
    mutating func advanceOuter() {
        var axis = outShape.count - 2
        while axis >= 0 {
            index[axis] += 1
            offset += strides[axis]
            if index[axis] < outShape[axis] { return }
            offset -= strides[axis] * outShape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
}
