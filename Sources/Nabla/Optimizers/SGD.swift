import CNablaKernels

/// Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay, with
/// PyTorch's semantics:
///
///     d = g + λ·w
///     b = d on the first step, else μ·b + (1 − dampening)·d       (when μ ≠ 0)
///     d = d + μ·b if Nesterov, else b                               (when μ ≠ 0)
///     w = w − η·d
///
/// Plain SGD (μ = λ = 0) with ``QuadraticLoss`` is the book's step w ← w − (η/m)·Σₓ∇Cₓ.
/// With momentum, subnormal numbers are flushed to zero as ``Adam`` flushes them: a velocity b
/// below the smallest normal number is stored (and applied) as zero, and on x86 the update runs
/// in the processor's flush-to-zero and denormals-are-zero modes.
public struct SGD<Scalar: TensorScalar>: Optimizer {
    /// μ; 0 for plain SGD.
    public let momentum: Scalar
    /// How much of each new gradient the velocity forgoes.
    public let dampening: Scalar
    /// Whether to use Nesterov momentum.
    public let nesterov: Bool
    /// λ, the L2 penalty's coefficient.
    public let weightDecay: Scalar
    /// Which parameters, by name, weight decay applies to (by default all).
    public let decays: @Sendable (_ parameterName: String) -> Bool
    /// `[η]`: the learning rate, read by every step, replayed ones included.
    public var hyperparameters: Tensor<Scalar>
    /// With momentum, each parameter's velocity and a one-element flag set after its first step.
    public var state: [String: [Tensor<Scalar>]] = [:]

    /// Creates the optimizer. Nesterov momentum needs a positive momentum and no dampening.
    ///
    /// Weight decay applies to the parameters whose names `decays` accepts: the book's L2
    /// regularization decays weights, not biases, by 1 − η·λ/n per step (n the training-set
    /// size), which is `weightDecay: λ / n, decays: { $0.hasSuffix("weight") }`.
    public init(learningRate: Scalar, momentum: Scalar = 0, dampening: Scalar = 0,
                nesterov: Bool = false, weightDecay: Scalar = 0,
                decays: @escaping @Sendable (_ parameterName: String) -> Bool = { _ in true }) {
        check(learningRate >= 0 && momentum >= 0 && weightDecay >= 0,
              "SGD: learning rate \(learningRate), momentum \(momentum) and weight decay \(weightDecay) must not be negative")
        check(!nesterov || (momentum > 0 && dampening == 0),
              "SGD: Nesterov momentum needs momentum > 0 and dampening 0 (got \(momentum), \(dampening))")
        self.hyperparameters = Tensor([learningRate])
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.decays = decays
    }

    /// η.
    public var learningRate: Scalar {
        get { hyperparameters.base[0] }
        set { hyperparameters.withUnsafeMutableBufferPointer { $0[0] = newValue } }
    }

    /// No state for plain SGD; with momentum, a zero velocity and a cleared first-step flag.
    public func makeState(for parameter: Tensor<Scalar>) -> [Tensor<Scalar>] {
        momentum == 0 ? [] : [Tensor(zeros: parameter.shape), Tensor(zeros: [1])]
    }

    /// Applies one step to one parameter, with weight decay.
    public func update(_ parameter: inout Tensor<Scalar>, state: inout [Tensor<Scalar>], along gradient: Tensor<Scalar>) {
        step(&parameter, state: &state, along: gradient, weightDecay: weightDecay)
    }

    /// Applies one step to one parameter, with weight decay if ``decays`` accepts its name.
    public func update(_ parameter: inout Tensor<Scalar>, named name: String, state: inout [Tensor<Scalar>],
                       along gradient: Tensor<Scalar>) {
        step(&parameter, state: &state, along: gradient, weightDecay: weightDecay == 0 || decays(name) ? weightDecay : 0)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func step(_ parameter: inout Tensor<Scalar>, state: inout [Tensor<Scalar>], along gradient: Tensor<Scalar>,
                      weightDecay: Scalar) {
        check(momentum == 0 ? state.isEmpty : state.count == 2 && state[0].shape == parameter.shape && state[1].count == 1,
              "SGD: a state of shapes \(state.map(\.shape)) does not fit a parameter of shape \(parameter.shape)")
        let step = SGDStep<Scalar>(count: parameter.count, momentum: momentum, dampening: dampening,
                                   nesterov: nesterov, weightDecay: weightDecay)
        step.update(&parameter, with: &state, reading: [gradient, hyperparameters])
    }
}

/// One parameter's SGD step in place. Operands: the parameter w, then (with momentum) its
/// velocity b and first-step flag, then the gradient g and the hyperparameters [η].
struct SGDStep<Scalar: TensorScalar>: TensorOperation {
    let count: Int
    let momentum, dampening: Scalar
    let nesterov: Bool
    let weightDecay: Scalar

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (w, f, d) = (buffers.updating(0), Float.self, Double.self)
        guard momentum != 0 else {
            let (g, rate) = (buffers.input(1), buffers.input(2)[0])
            if Scalar.isFloat {
                nabla_sgd_step_f32(w.assuming(f), g.assuming(f), count, Float(rate), Float(weightDecay))
            } else {
                nabla_sgd_step_f64(w.assuming(d), g.assuming(d), count, Double(rate), Double(weightDecay))
            }
            return
        }
        let (v, started, g, rate) = (buffers.updating(1), buffers.updating(2), buffers.input(3), buffers.input(4)[0])
        let (nesterov, first) = (Int32(nesterov ? 1 : 0), Int32(started[0] == 0 ? 1 : 0))
        if Scalar.isFloat {
            nabla_momentum_step_f32(w.assuming(f), v.assuming(f), g.assuming(f), count, Float(rate), Float(momentum),
                                    Float(1 - dampening), Float(weightDecay), nesterov, first)
        } else {
            nabla_momentum_step_f64(w.assuming(d), v.assuming(d), g.assuming(d), count, Double(rate), Double(momentum),
                                    Double(1 - dampening), Double(weightDecay), nesterov, first)
        }
        started[0] = 1
    }
}
