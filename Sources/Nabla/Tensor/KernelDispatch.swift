// How an op (or a data reader) reaches a C kernel, which comes in a Float and a Double form: it
// checks which type its `Scalar` is, once per call, and views its pointers as that type.

extension TensorScalar {
    /// Whether this is `Float` (the alternative being `Double`): which form of a C kernel to call.
    @inline(__always)
    package static var isFloat: Bool { Self.self == Float.self }
}

extension UnsafePointer where Pointee: TensorScalar {
    /// The same elements as `T`, which the caller has checked `Pointee` is.
    @inline(__always)
    package func assuming<T>(_: T.Type) -> UnsafePointer<T> { UnsafeRawPointer(self).assumingMemoryBound(to: T.self) }
}

extension UnsafeMutablePointer where Pointee: TensorScalar {
    /// The same elements as `T`, which the caller has checked `Pointee` is.
    @inline(__always)
    package func assuming<T>(_: T.Type) -> UnsafeMutablePointer<T> { UnsafeMutableRawPointer(self).assumingMemoryBound(to: T.self) }
}
