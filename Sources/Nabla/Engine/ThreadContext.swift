import CNablaKernels

/// A value every op or layer that a thread runs can see, however deep, for the duration of a
/// call: the program being recorded, the tape of the innermost differentiation scope, the values
/// standing in for parameters, the layers' mode. Each thread has its own, so two threads
/// differentiating or recording never see each other's.
enum ThreadContext: Int32 {
    case program, tape, substitution, mode

    /// The object set on this thread, if it is exactly a `T` (a comparison of types, cheaper
    /// than a cast: a parameter asks at every read).
    @inline(__always)
    func current<T: AnyObject>(as _: T.Type) -> T? {
        guard let pointer = nabla_thread_context(rawValue) else { return nil }
        let object = Unmanaged<AnyObject>.fromOpaque(pointer).takeUnretainedValue()
        return type(of: object) == T.self ? unsafeDowncast(object, to: T.self) : nil
    }

    /// The object set on this thread, of whatever type.
    var currentObject: AnyObject? {
        nabla_thread_context(rawValue).map { Unmanaged<AnyObject>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Runs `body` with `object` set on this thread (which keeps it alive), then restores the
    /// one before.
    func with<R>(_ object: AnyObject?, _ body: () throws -> R) rethrows -> R {
        let outer = nabla_thread_context(rawValue)
        nabla_set_thread_context(rawValue, object.map { Unmanaged.passUnretained($0).toOpaque() })
        defer {
            withExtendedLifetime(object) {}
            nabla_set_thread_context(rawValue, outer)
        }
        return try body()
    }
}
