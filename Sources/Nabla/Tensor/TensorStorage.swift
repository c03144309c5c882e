/// The elements behind one or more tensors: a fixed-size, reference-counted buffer.
///
/// Tensors share storage freely — a copy, a reshape or a run of rows is a new ``Tensor`` over the
/// same storage — and a tensor about to be written in place makes its storage unique first
/// (``Tensor/makeUnique()``), so sharing is never visible: tensors keep value semantics.
///
/// The elements live in the object's own allocation (one `malloc` per tensor), at an address that
/// stays put for the storage's lifetime. That is what lets a ``Program`` refer to a buffer by its
/// address from one replay to the next.
final class TensorStorage<Scalar>: ManagedBuffer<Int, Scalar> {
    /// New, uninitialised storage for `count` elements.
    static func make(count: Int) -> TensorStorage {
        unsafeDowncast(create(minimumCapacity: count) { _ in count }, to: TensorStorage.self)
    }

    /// The number of elements.
    var count: Int { header }

    /// The first element. Valid for as long as the storage lives.
    var elements: UnsafeMutablePointer<Scalar> { withUnsafeMutablePointerToElements { $0 } }
}
