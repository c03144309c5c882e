/// An optimizer whose update rule is written as tensor math: given a parameter, its gradient
/// and its state, it returns the new parameter and state (as mlx's `applySingle`), and the shared
/// ``Optimizer/update(_:named:state:along:)`` writes them back in place, one `Assign` each.
///
/// The rule is built of ordinary ops, so a ``TracedGradient`` records it with the rest of the
/// step and replays it with no allocation, and it needs no kernel of its own. What it reads that
/// may change between steps (the learning rate) comes from ``Optimizer/hyperparameters``; any
/// other setting is a constant of the recorded step, and an optimizer made anew with other
/// settings is recorded again. ``AdamW`` and ``RMSprop`` are written this way:
///
/// ```swift
/// struct SignSGD: TensorMathOptimizer {
///     var hyperparameters = Tensor<Float>([0.01])
///     var state: [String: [Tensor<Float>]] = [:]
///     func makeState(for parameter: Tensor<Float>) -> [Tensor<Float>] { [] }
///     func updated(_ p: Tensor<Float>, named name: String, gradient g: Tensor<Float>,
///                  state: [Tensor<Float>]) -> (parameter: Tensor<Float>, state: [Tensor<Float>]) {
///         (p - learningRateTensor * sign(g), [])
///     }
/// }
/// ```
public protocol TensorMathOptimizer: Optimizer {
    /// The parameter called `name` and its state after one step along `gradient`.
    func updated(_ parameter: Tensor<Scalar>, named name: String, gradient: Tensor<Scalar>,
                 state: [Tensor<Scalar>]) -> (parameter: Tensor<Scalar>, state: [Tensor<Scalar>])
}

extension TensorMathOptimizer {
    /// η, the first element of ``Optimizer/hyperparameters``.
    public var learningRate: Scalar {
        get { hyperparameters.withUnsafeBufferPointer { $0[0] } }
        set { hyperparameters.withUnsafeMutableBufferPointer { $0[0] = newValue } }
    }

    /// η as a scalar tensor for the rule's arithmetic: a view of the hyperparameters, so that a
    /// replayed step reads the learning rate of the moment.
    public var learningRateTensor: Tensor<Scalar> { hyperparameters.slice(alongAxis: 0, 0 ..< 1).reshaped(to: []) }

    /// Applies ``updated(_:named:gradient:state:)`` to the parameter called `name`.
    public func update(_ parameter: inout Tensor<Scalar>, named name: String, state: inout [Tensor<Scalar>],
                       along gradient: Tensor<Scalar>) {
        let expected = makeState(for: parameter).map(\.shape)
        check(state.map(\.shape) == expected,
              "\(Self.self): a state of shapes \(state.map(\.shape)) does not fit parameter \(name) of shape \(parameter.shape)")
        let (newParameter, newState) = updated(parameter, named: name, gradient: gradient, state: state)
        check(newParameter.shape == parameter.shape && newState.map(\.shape) == expected,
              "\(Self.self): the rule returned shapes \(newParameter.shape) and \(newState.map(\.shape)) for \(parameter.shape) and \(expected)")
        parameter.assign(newParameter)
        for index in state.indices { state[index].assign(newState[index]) }
    }

    /// Applies the rule to a parameter with no name.
    public func update(_ parameter: inout Tensor<Scalar>, state: inout [Tensor<Scalar>], along gradient: Tensor<Scalar>) {
        update(&parameter, named: "", state: &state, along: gradient)
    }
}

extension Tensor {
    /// Writes `value`'s elements into this tensor's storage, in place (after making it unique):
    /// how an update computed with tensor ops lands in a parameter, a state or a buffer that a
    /// recorded step names. Not recorded for differentiation.
    public mutating func assign(_ value: Tensor) {
        check(value.shape == shape, "assign: a value of shape \(value.shape) for a tensor of shape \(shape)")
        var none: [Tensor] = []
        Assign<Scalar>(count: count).update(&self, with: &none, reading: [value])
    }
}

/// Copies its second operand into its first, in place: the one write of a tensor-math update.
struct Assign<Scalar: TensorScalar>: TensorOperation {
    let count: Int

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        buffers.updating(0).update(from: buffers.input(1), count: count)
    }
}
