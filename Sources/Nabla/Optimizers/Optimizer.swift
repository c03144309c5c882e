/// Updates a model's parameters from their gradients, keeping whatever per-parameter state it
/// needs (velocities, moment estimates) keyed by parameter name.
///
/// An optimizer is an update rule for one parameter; updating a whole model is shared:
///
/// ```swift
/// var optimizer = SGD<Float>(learningRate: 3)
/// optimizer.update(&model, along: gradients)
/// ```
public protocol Optimizer<Scalar> {
    /// The scalar type.
    associatedtype Scalar: TensorScalar

    /// Updates one parameter in place.
    mutating func update(_ parameter: inout Tensor<Scalar>, along gradient: Tensor<Scalar>, name: String)

    /// The update as plain SGD's w ← w − rate·(g + decay·w), when that is the whole rule and the
    /// optimizer keeps no state; nil (the default) otherwise. A traced training step
    /// (``TracedGradient/step(_:_:optimizer:)``) then applies it inside the reverse pass.
    var plainStep: (rate: Scalar, decay: Scalar)? { get }
}

extension Optimizer {
    /// Nil: the update is applied through ``update(_:along:name:)``.
    public var plainStep: (rate: Scalar, decay: Scalar)? { nil }
}

extension Optimizer {
    /// Updates every parameter of `model` along its gradient.
    ///
    /// A parameter with no gradient (gradients taken for another model) stops the program with
    /// its name: silently skipping it would leave it untrained.
    public mutating func update<Model: Layer>(
        _ model: inout Model, along gradients: Gradients<Scalar>
    ) where Model.Scalar == Scalar {
        update(model.parameters, along: gradients)
    }

    /// Updates each of `parameters` along its gradient, found by position and name.
    mutating func update(_ parameters: [NamedParameter<Scalar>], along gradients: Gradients<Scalar>) {
        for position in parameters.indices {
            let p = parameters[position]
            guard let gradient = gradients.gradient(at: position, named: p.name) else {
                fatalError("update: no gradient for parameter \(p.name); the gradients are for \(gradients.names)")
            }
            check(gradient.shape == p.parameter.wrappedValue.shape,
                  "update: gradient \(gradient.shape) for parameter \(p.name) of shape \(p.parameter.wrappedValue.shape)")
            update(&p.parameter.wrappedValue, along: gradient, name: p.name)
        }
    }
}
