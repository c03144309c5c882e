/// Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay, with
/// PyTorch's semantics:
///
///     d = g + λ·w
///     b = d on the first step, else μ·b + (1 − dampening)·d       (when μ ≠ 0)
///     d = d + μ·b if Nesterov, else b                               (when μ ≠ 0)
///     w = w − η·d
///
/// Plain SGD (μ = λ = 0) with ``QuadraticLoss`` is the book's step w ← w − (η/m)·Σₓ∇Cₓ.
public struct SGD<Scalar: TensorScalar>: Optimizer {
    /// η.
    public var learningRate: Scalar
    /// μ; 0 for plain SGD.
    public let momentum: Scalar
    /// How much of each new gradient the velocity forgoes.
    public let dampening: Scalar
    /// Whether to use Nesterov momentum.
    public let nesterov: Bool
    /// λ, the L2 penalty's coefficient.
    public let weightDecay: Scalar
    private var velocity: [String: Tensor<Scalar>] = [:]

    /// Creates the optimizer. Nesterov momentum needs a positive momentum and no dampening.
    public init(learningRate: Scalar, momentum: Scalar = 0, dampening: Scalar = 0,
                nesterov: Bool = false, weightDecay: Scalar = 0) {
        check(learningRate >= 0 && momentum >= 0 && weightDecay >= 0,
              "SGD: learning rate \(learningRate), momentum \(momentum) and weight decay \(weightDecay) must not be negative")
        check(!nesterov || (momentum > 0 && dampening == 0),
              "SGD: Nesterov momentum needs momentum > 0 and dampening 0 (got \(momentum), \(dampening))")
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weightDecay = weightDecay
    }

    /// The learning rate and weight decay without momentum, when the update keeps no velocity.
    public var plainStep: (rate: Scalar, decay: Scalar)? {
        momentum == 0 ? (learningRate, weightDecay) : nil
    }

    /// Applies one step to one parameter.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func update(_ parameter: inout Tensor<Scalar>, along gradient: Tensor<Scalar>, name: String) {
        let (lr, mu, wd, keep) = (learningRate, momentum, weightDecay, 1 - dampening)
        if mu == 0 {
            parameter.withUnsafeMutableBufferPointer { w in
                gradient.withUnsafeBufferPointer { g in
                    Scalar.sgdStep(w.baseAddress!, gradient: g.baseAddress!, count: w.count, rate: lr, decay: wd)
                }
            }
            return
        }
        let previous = velocity.removeValue(forKey: name)  // taken out, so it is updated in place
        let firstStep = previous == nil
        var buffer = previous ?? Tensor(zeros: parameter.shape)
        let nesterov = self.nesterov
        parameter.withUnsafeMutableBufferPointer { w in
            buffer.withUnsafeMutableBufferPointer { b in
                gradient.withUnsafeBufferPointer { g in
                    for i in 0..<w.count {
                        let d = g[i] + wd * w[i]
                        b[i] = firstStep ? d : mu * b[i] + keep * d
                        w[i] -= lr * (nesterov ? d + mu * b[i] : b[i])
                    }
                }
            }
        }
        velocity[name] = buffer
    }
}
