/// The elements behind one or more tensors: a fixed-size, reference-counted buffer.
///
/// Tensors share storage freely — a copy, a reshape or a run of rows is a new ``Tensor`` over the
/// same storage — and a tensor about to be written in place makes its storage unique first
/// (``Tensor/makeUnique()``), so sharing is never visible: tensors keep value semantics.
///
/// The elements live in the object's own allocation (one `malloc` per tensor), at an address that
/// stays put for the storage's lifetime — what lets a recorded program refer to a buffer by its address
/// from one replay to the next — and that starts a cache line (64 bytes), as the matrix kernels
/// want their operands: a row of vectors that straddles lines costs loads.
final class TensorStorage<Scalar>: ManagedBuffer<TensorStorage.Header, Scalar> {
    /// The number of elements, and how many element slots before the first are skipped to reach
    /// a cache line.
    struct Header {
        let count: Int
        let skipped: Int
    }

    /// New, uninitialised storage for `count` elements.
    static func make(count: Int) -> TensorStorage {
        let lineElements = max(64 / MemoryLayout<Scalar>.stride, 1)
        let storage = create(minimumCapacity: count + lineElements - 1) { buffer in
            let address = buffer.withUnsafeMutablePointerToElements { UInt(bitPattern: $0) }
            let skipped = Int((64 - address % 64) % 64) / MemoryLayout<Scalar>.stride
            return Header(count: count, skipped: skipped)
        }
        return unsafeDowncast(storage, to: TensorStorage.self)
    }

    /// The number of elements.
    var count: Int { header.count }

    /// The first element. Valid for as long as the storage lives.
    var elements: UnsafeMutablePointer<Scalar> { withUnsafeMutablePointerToElements { $0 + header.skipped } }

    /// Gives the view of `count` elements from `offset` in `storage` storage of its own, copying
    /// them if anything else shares the storage: what writing a tensor in place needs to keep
    /// value semantics.
    static func makeUnique(_ storage: inout TensorStorage, offset: inout Int, count: Int) {
        if isKnownUniquelyReferenced(&storage) { return }
        let copy = TensorStorage.make(count: count)
        copy.elements.initialize(from: storage.elements + offset, count: count)
        (storage, offset) = (copy, 0)
    }
}
