/// Updates a model's parameters from their gradients, keeping whatever per-parameter state it
/// needs (velocities, moment estimates) keyed by parameter name.
///
/// An optimizer is an update rule for one parameter, written as an op that updates the parameter
/// and its state in place (``TensorOperation/update(_:with:reading:)``); updating a whole model is shared:
///
/// ```swift
/// var optimizer = SGD<Float>(learningRate: 3)
/// optimizer.update(&model, along: gradients)
/// ```
///
/// Because the rule is an op, a ``TracedGradient`` records it with the rest of a training step
/// and replays it. Whatever the rule reads that may change between steps (the learning rate, which
/// a schedule lowers) is read from ``hyperparameters``, a tensor, never baked into the op.
public protocol Optimizer<Scalar> {
    /// The scalar type.
    associatedtype Scalar: TensorScalar

    /// What the update reads at every step and may change between steps, as a tensor (for
    /// ``SGD`` and ``Adam``: the learning rate).
    var hyperparameters: Tensor<Scalar> { get set }

    /// η, the step size, which learning-rate schedules change between steps (for ``SGD`` and
    /// ``Adam``, the one element of ``hyperparameters``).
    var learningRate: Scalar { get set }

    /// Each parameter's state, by parameter name: made by ``makeState(for:)`` before its first
    /// update, then updated in place.
    var state: [String: [Tensor<Scalar>]] { get set }

    /// The state a parameter starts with (zeros of its shape, say); empty if the rule keeps none.
    func makeState(for parameter: Tensor<Scalar>) -> [Tensor<Scalar>]

    /// Updates one parameter and its state in place along its gradient.
    func update(_ parameter: inout Tensor<Scalar>, state: inout [Tensor<Scalar>], along gradient: Tensor<Scalar>)

    /// Updates one parameter, given its name (`0.weight`): a rule that treats parameters
    /// differently by name (weight decay on weights only, as the book's L2) implements this; by
    /// default it is ``update(_:state:along:)``.
    func update(_ parameter: inout Tensor<Scalar>, named name: String, state: inout [Tensor<Scalar>],
                along gradient: Tensor<Scalar>)
}

extension Optimizer {
    /// The same update for every parameter, whatever its name.
    public func update(_ parameter: inout Tensor<Scalar>, named name: String, state: inout [Tensor<Scalar>],
                       along gradient: Tensor<Scalar>) {
        update(&parameter, state: &state, along: gradient)
    }
}

extension Optimizer {
    /// Updates every parameter of `model` along its gradient.
    ///
    /// A parameter with no gradient (gradients taken for another model) stops the program with
    /// its name: silently skipping it would leave it untrained.
    public mutating func update<Model: Module>(
        _ model: inout Model, along gradients: Gradients<Scalar>
    ) where Model.Scalar == Scalar {
        update(model.parameters, along: gradients)
    }

    /// Updates each of `parameters` along its gradient, found by position and name.
    @_specialize(where Self == SGD<Float>)
    @_specialize(where Self == SGD<Double>)
    @_specialize(where Self == Adam<Float>)
    @_specialize(where Self == Adam<Double>)
    mutating func update(_ parameters: [NamedParameter<Scalar>], along gradients: Gradients<Scalar>) {
        for position in parameters.indices {
            let p = parameters[position]
            guard let gradient = gradients.gradient(at: position, named: p.name) else {
                fatalError("update: no gradient for parameter \(p.name); the gradients are for \(gradients.names)")
            }
            check(gradient.shape == p.parameter.wrappedValue.shape,
                  "update: gradient \(gradient.shape) for parameter \(p.name) of shape \(p.parameter.wrappedValue.shape)")
            // The state is taken out while it is updated: passed in place, as part of `self`, it
            // would be shared with the copy of `self` the call needs, and copied on write.
            var parameterState = state.removeValue(forKey: p.name) ?? makeState(for: p.parameter.wrappedValue)
            update(&p.parameter.wrappedValue, named: p.name, state: &parameterState, along: gradient)
            state[p.name] = parameterState
        }
    }

    /// The tensors a step updates besides the parameters, in a fixed order: each parameter's
    /// state (made first if it has none yet), then the hyperparameters.
    mutating func forEachStateTensor(of parameters: [NamedParameter<Scalar>], _ body: (inout Tensor<Scalar>) -> Void) {
        for p in parameters {
            // One look-up when the state exists (every step but the first); each tensor is then
            // changed in place through the dictionary's values.
            var position = state.index(forKey: p.name)
            if position == nil {
                state[p.name] = makeState(for: p.parameter.wrappedValue)
                position = state.index(forKey: p.name)
            }
            for index in state.values[position!].indices { body(&state.values[position!][index]) }
        }
        body(&hyperparameters)
    }
}
