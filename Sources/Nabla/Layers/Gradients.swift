/// The gradient of a loss with respect to each of a model's parameters, by parameter name.
///
/// Returned by ``valueWithGradient(at:in:)-(Model,_)`` and consumed by
/// ``Optimizer/update(_:along:)``. Nothing accumulates between steps: each call returns fresh
/// gradients.
public struct Gradients<Scalar: TensorScalar>: CustomStringConvertible {
    /// Parameter names, in the model's order.
    public let names: [String]
    private let byName: [String: Tensor<Scalar>]

    /// Pairs names with gradients.
    public init(names: [String], tensors: [Tensor<Scalar>]) {
        check(names.count == tensors.count, "Gradients: \(names.count) names for \(tensors.count) tensors")
        self.names = names
        self.byName = Dictionary(uniqueKeysWithValues: zip(names, tensors))
    }

    /// The gradient of the parameter called `name`, if there is one.
    public subscript(name: String) -> Tensor<Scalar>? { byName[name] }

    /// Each name with its gradient's shape.
    public var description: String {
        "Gradients(" + names.map { "\($0): \(byName[$0]!.shape)" }.joined(separator: ", ") + ")"
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
public func valueWithGradient<Model: Layer>(
    at model: Model, in body: (Model) -> Tensor<Model.Scalar>
) -> (value: Tensor<Model.Scalar>, gradients: Gradients<Model.Scalar>) {
    let parameters = model.parameters
    let originals = parameters.map { $0.parameter.wrappedValue }
    let (value, grads) = valueWithGradient(at: originals) { tracked in
        // Let the model see tracked copies of its parameters for the forward pass only.
        for (p, t) in zip(parameters, tracked) { p.parameter.wrappedValue = t }
        defer { for (p, t) in zip(parameters, originals) { p.parameter.wrappedValue = t } }
        return body(model)
    }
    return (value, Gradients(names: parameters.map(\.name), tensors: grads))
}
