/// Values standing in for parameters on one thread, for the duration of a call: how a model's
/// forward pass records onto a tape without any parameter being changed.
final class Substitution<Scalar: TensorScalar> {
    private let parameters: [ObjectIdentifier]
    private let values: [Tensor<Scalar>]
    /// The substitution this one is nested in, if any.
    private let outer: Substitution?

    /// `values[i]` for `parameters[i]`.
    init(_ parameters: [NamedParameter<Scalar>], _ values: [Tensor<Scalar>]) {
        check(parameters.count == values.count, "substitution: \(values.count) values for \(parameters.count) parameters")
        self.parameters = parameters.map { ObjectIdentifier($0.parameter) }
        self.values = values
        outer = Substitution.current
    }

    /// The substitution in force on this thread.
    static var current: Substitution? { ThreadContext.substitution.current(as: Substitution.self) }

    /// The value standing in for `parameter`, if any.
    func value(for parameter: Parameter<Scalar>) -> Tensor<Scalar>? {
        let key = ObjectIdentifier(parameter)
        // A model has few parameters: a scan beats hashing.
        if let index = parameters.firstIndex(of: key) { return values[index] }
        return outer?.value(for: parameter)
    }

    /// Runs `body` with the substitution in force on this thread.
    func during<R>(_ body: () throws -> R) rethrows -> R { try ThreadContext.substitution.with(self, body) }
}
