/// The gradient of a loss with respect to each of a model's parameters, by parameter name.
///
/// Returned by ``valueWithGradient(at:in:)->(Tensor<Model.Scalar>,_)`` and consumed by
/// ``Optimizer/update(_:along:)``. Nothing accumulates between steps: each call returns fresh
/// gradients.
public struct Gradients<Scalar: TensorScalar>: CustomStringConvertible {
    /// Parameter names, in the model's order.
    public let names: [String]
    /// The gradients, in the order of ``names``.
    public let tensors: [Tensor<Scalar>]

    /// Pairs names with gradients.
    public init(names: [String], tensors: [Tensor<Scalar>]) {
        check(names.count == tensors.count, "Gradients: \(names.count) names for \(tensors.count) tensors")
        self.names = names
        self.tensors = tensors
    }

    /// The gradient of the parameter called `name`, if there is one.
    public subscript(name: String) -> Tensor<Scalar>? {
        names.firstIndex(of: name).map { tensors[$0] }
    }

    /// The gradient for the parameter at `position` in the model's order, if it has that name:
    /// the fast path optimizers take, falling back to a search by name.
    func gradient(at position: Int, named name: String) -> Tensor<Scalar>? {
        position < names.count && names[position] == name ? tensors[position] : self[name]
    }

    /// Each name with its gradient's shape.
    public var description: String {
        "Gradients(" + zip(names, tensors).map { "\($0): \($1.shape)" }.joined(separator: ", ") + ")"
    }
}

/// Evaluates `body` — typically a loss of the model's output — and returns its value and the
/// gradient with respect to every parameter of `model`.
///
/// ```swift
/// let (loss, gradients) = valueWithGradient(at: model) { model in
///     QuadraticLoss()(model(images), targets)
/// }
/// optimizer.update(&model, along: gradients)
/// ```
public func valueWithGradient<Model: Module>(
    at model: Model, in body: (Model) -> Tensor<Model.Scalar>
) -> (value: Tensor<Model.Scalar>, gradients: Gradients<Model.Scalar>) {
    // Generic over the model, so this runs unspecialised: hand over at once to code that is
    // specialised for the scalar type.
    valueWithGradient(of: model.parameters) { body(model) }
}

/// Differentiates `body` with respect to `parameters`, which it reads through their wrappers.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
func valueWithGradient<Scalar>(
    of parameters: [NamedParameter<Scalar>], in body: () -> Tensor<Scalar>
) -> (value: Tensor<Scalar>, gradients: Gradients<Scalar>) {
    let (value, grads) = valueWithGradient(at: parameters.map { $0.parameter.wrappedValue }) { tracked in
        Substitution(parameters, tracked).during(body)
    }
    return (value, Gradients(names: parameters.map { $0.name }, tensors: grads))
}
