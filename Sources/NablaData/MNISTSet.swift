import CNablaKernels
import Nabla
/// A set of MNIST digits, kept compact: one byte per pixel, converted to tensors per batch.
public struct MNISTSet: Sendable {
    /// Pixels per image (28 × 28).
    public static let pixelCount = 784
    /// Number of classes (the digits 0 to 9).
    public static let classCount = 10

    /// What the set is (`training`, `validation`, `test`).
    public let name: String
    // Slices, so that training and validation share the one buffer the file was read into.
    private let pixelStorage: ArraySlice<UInt8>
    private let labelStorage: ArraySlice<UInt8>

    /// Pixel bytes, image after image, row-major; 0 is white, 255 black. (A copy: read images
    /// through ``images(at:as:)``.)
    public var pixels: [UInt8] { Array(pixelStorage) }
    /// The digit of each image. (A copy: read labels through ``labels(at:)``.)
    public var labels: [UInt8] { Array(labelStorage) }

    /// Number of images.
    public var count: Int { labelStorage.count }

    /// Creates a set, checking that pixels and labels agree and that labels are digits.
    public init(name: String, pixels: [UInt8], labels: [UInt8]) throws {
        try self.init(name: name, pixelSlice: pixels[...], labelSlice: labels[...])
    }

    /// Creates a set over parts of larger buffers, without copying them.
    init(name: String, pixelSlice pixels: ArraySlice<UInt8>, labelSlice labels: ArraySlice<UInt8>) throws {
        guard pixels.count == labels.count * Self.pixelCount else {
            throw DataError(file: name, "\(pixels.count) pixel bytes for \(labels.count) labels (expected \(labels.count * Self.pixelCount))")
        }
        if let bad = labels.firstIndex(where: { $0 >= Self.classCount }) {
            throw DataError(file: name, "label \(labels[bad]) at index \(bad - labels.startIndex) is not a digit 0–9")
        }
        self.name = name
        self.pixelStorage = pixels
        self.labelStorage = labels
    }

    /// The label of image `i`.
    private func label(_ i: Int) -> Int {
        check(i >= 0 && i < count, "labels: index \(i) is out of bounds for \(count) images")
        return Int(labelStorage[labelStorage.startIndex + i])
    }

    /// The images at `range` as a set of their own (for example a quick subset), sharing storage.
    public func subset(_ range: Range<Int>) -> MNISTSet {
        check(range.lowerBound >= 0 && range.upperBound <= count, "subset: \(range) is out of bounds for \(count) images")
        let p = pixelStorage.startIndex, l = labelStorage.startIndex
        return try! MNISTSet(name: name,
                             pixelSlice: pixelStorage[p + range.lowerBound * Self.pixelCount ..< p + range.upperBound * Self.pixelCount],
                             labelSlice: labelStorage[l + range.lowerBound ..< l + range.upperBound])
    }

    /// The images at `indices` as a [n, 784] tensor, pixels scaled by 1/256 like the book's data.
    public func images<Scalar: TensorScalar>(at indices: some Collection<Int>, as _: Scalar.Type = Scalar.self) -> Tensor<Scalar> {
        var batch = Tensor<Scalar>(zeros: [0, Self.pixelCount])
        images(at: indices, into: &batch)
        return batch
    }

    /// Writes the images at `indices` into `batch` as a [n, 784] tensor. Its storage is reused
    /// when it already has that shape (and is not shared), so a training loop can fill one batch
    /// tensor again and again without allocating.
    public func images<Scalar: TensorScalar>(at indices: some Collection<Int>, into batch: inout Tensor<Scalar>) {
        withIndices(indices) { refill(&batch, rows: $0, trailing: MNISTImageShape.flat.dimensions) { writeImages(at: $0, into: $1) } }
    }

    /// The labels at `indices` as one-hot rows of a [n, 10] tensor: the book's target vectors y.
    public func oneHotLabels<Scalar: TensorScalar>(at indices: some Collection<Int>, as _: Scalar.Type = Scalar.self) -> Tensor<Scalar> {
        var batch = Tensor<Scalar>(zeros: [0, Self.classCount])
        oneHotLabels(at: indices, into: &batch)
        return batch
    }

    /// Writes the labels at `indices` into `batch` as one-hot rows of a [n, 10] tensor, reusing
    /// its storage like ``images(at:into:)``.
    public func oneHotLabels<Scalar: TensorScalar>(at indices: some Collection<Int>, into batch: inout Tensor<Scalar>) {
        withIndices(indices) { refill(&batch, rows: $0, trailing: Self.oneHotDimensions) { writeOneHotLabels(at: $0, into: $1) } }
    }

    /// One one-hot label's dimensions, kept so that batches compare shapes without allocating.
    static let oneHotDimensions = [classCount]

    /// Has `write` fill a tensor of shape [indices.count] + `trailing`, a row for each of
    /// `indices`: in `batch`'s storage if it has that shape, else in a new tensor that replaces it.
    /// (The shape is compared piece by piece: building [n] + trailing would allocate per batch.)
    ///
    /// Specialised: called from a caller's generic code (a training loop in another module), the
    /// unspecialised form looks up the tensor's type metadata on every batch.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func refill<Scalar: TensorScalar>(
        _ batch: inout Tensor<Scalar>, rows indices: UnsafeBufferPointer<Int>, trailing: [Int],
        _ write: (UnsafeBufferPointer<Int>, UnsafeMutablePointer<Scalar>) -> Void
    ) {
        if batch.rank == trailing.count + 1 && batch.shape[0] == indices.count && batch.shape.dropFirst().elementsEqual(trailing) {
            batch.withUnsafeMutableBufferPointer { if let storage = $0.baseAddress { write(indices, storage) } }
        } else {
            // One allocation for the shape ([n] + trailing would make two).
            let shape = [Int](unsafeUninitializedCapacity: trailing.count + 1) { buffer, count in
                buffer[0] = indices.count
                for (axis, size) in trailing.enumerated() { buffer[axis + 1] = size }
                count = trailing.count + 1
            }
            batch = Tensor(shape: shape) { write(indices, $0) }
        }
    }

    /// Calls `body` with `indices` in contiguous storage, checked against the set's size; an
    /// array or array slice is passed as it is, without a copy.
    ///
    /// Specialised for ranges, which are copied: the generic copy walks a range through protocol
    /// witnesses, which took a fifth of evaluating the test set (Docs/Performance.md).
    @_specialize(where Indices == Range<Int>)
    func withIndices<Indices: Collection<Int>>(_ indices: Indices, _ body: (UnsafeBufferPointer<Int>) -> Void) {
        // Closure literals, not a stored closure: a stored one would be allocated on every call.
        if indices.withContiguousStorageIfAvailable({ checked($0, body) }) == nil {
            Array(indices).withUnsafeBufferPointer { checked($0, body) }
        }
    }

    private func checked(_ indices: UnsafeBufferPointer<Int>, _ body: (UnsafeBufferPointer<Int>) -> Void) {
        for i in indices { check(i >= 0 && i < count, "MNISTSet: index \(i) is out of bounds for \(count) images") }
        body(indices)
    }

    // Never inlined: inlined into its generic caller, it would lose the specialised dispatch.
    @inline(never)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func writeImages<Scalar: TensorScalar>(at indices: UnsafeBufferPointer<Int>, into out: UnsafeMutablePointer<Scalar>) {
        pixelStorage.withUnsafeBufferPointer { p in
            // A large batch (an evaluation set) is converted on all cores, a few images each.
            forEachChunk(indices.count, unitSize: Self.pixelCount, (p, indices, out)) { operands, chunk in
                let (p, indices, out) = operands
                let (rows, destination) = (indices.baseAddress! + chunk.lowerBound, out + chunk.lowerBound * Self.pixelCount)
                if Scalar.isFloat {
                    nabla_gather_bytes_to_float(p.baseAddress!, rows, chunk.count, Self.pixelCount, 1 / 256,
                                                destination.assuming(Float.self))
                } else {
                    nabla_gather_bytes_to_double(p.baseAddress!, rows, chunk.count, Self.pixelCount, 1 / 256,
                                                 destination.assuming(Double.self))
                }
            }
        }
    }

    @inline(never)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func writeOneHotLabels<Scalar: TensorScalar>(at indices: UnsafeBufferPointer<Int>, into out: UnsafeMutablePointer<Scalar>) {
        out.initialize(repeating: 0, count: indices.count * Self.classCount)
        labelStorage.withUnsafeBufferPointer { labels in  // indices already checked by `withIndices`
            for row in indices.indices { out[row * Self.classCount + Int(labels[indices[row]])] = 1 }
        }
    }

    @inline(never)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func writeClassIndices<Scalar: TensorScalar>(at indices: UnsafeBufferPointer<Int>, into out: UnsafeMutablePointer<Scalar>) {
        labelStorage.withUnsafeBufferPointer { labels in  // indices already checked by `withIndices`
            for row in indices.indices { out[row] = Scalar(labels[indices[row]]) }
        }
    }

    /// The labels at `indices` as integers.
    public func labels(at indices: some Collection<Int>) -> [Int] {
        indices.map(label)
    }

    /// All images, as a [count, 784] tensor.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func allImages<Scalar: TensorScalar>(as _: Scalar.Type = Scalar.self) -> Tensor<Scalar> {
        images(at: 0..<count)
    }
}

extension MNISTSet {
    /// How many images `model` classifies correctly (its answer is the index of its largest
    /// output), evaluating `batchSize` images at a time.
    public func correctCount<Model: Layer>(of model: Model, batchSize: Int = 1000) -> Int {
        check(batchSize > 0, "correctCount: batch size \(batchSize) is not positive")
        // One batch tensor, refilled: a fresh 3 MB one per batch costs page faults and handing it
        // back to the system, nearly as much as converting the images.
        var batch = Tensor<Model.Scalar>(zeros: [0, Self.pixelCount])
        var correct = 0
        for start in stride(from: 0, to: count, by: batchSize) {
            let range = start ..< Swift.min(start + batchSize, count)
            images(at: range, into: &batch)
            let predicted = model(batch).argmax(alongAxis: 1)
            for (answer, i) in zip(predicted, range) where answer == label(i) { correct += 1 }
        }
        return correct
    }
}
