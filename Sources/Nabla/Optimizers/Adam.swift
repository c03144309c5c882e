import RealModule

/// Adam (Kingma & Ba), with PyTorch's semantics: bias-corrected first and second moment
/// estimates, ε added outside the square root, and weight decay as an L2 term in the gradient.
public struct Adam<Scalar: TensorScalar>: Optimizer {
    /// η.
    public var learningRate: Scalar
    /// Decay rates of the first and second moment estimates.
    public let beta1, beta2: Scalar
    /// Added to the denominator for numerical stability.
    public let epsilon: Scalar
    /// λ, the L2 penalty's coefficient.
    public let weightDecay: Scalar
    private var state: [String: (step: Int, m: Tensor<Scalar>, v: Tensor<Scalar>)] = [:]

    /// Creates the optimizer (defaults: η 0.001, β 0.9 and 0.999, ε 1e-8).
    public init(learningRate: Scalar = 0.001, beta1: Scalar = 0.9, beta2: Scalar = 0.999,
                epsilon: Scalar = 1e-8, weightDecay: Scalar = 0) {
        check(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1,
              "Adam: betas \(beta1), \(beta2) must lie in [0, 1)")
        check(learningRate >= 0 && epsilon > 0 && weightDecay >= 0,
              "Adam: learning rate \(learningRate) and weight decay \(weightDecay) must not be negative, epsilon \(epsilon) must be positive")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// Applies one step to one parameter.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func update(_ parameter: inout Tensor<Scalar>, along gradient: Tensor<Scalar>, name: String) {
        var (step, m, v) = state.removeValue(forKey: name)
            ?? (0, Tensor(zeros: parameter.shape), Tensor(zeros: parameter.shape))
        step += 1
        let (b1, b2, eps, wd) = (beta1, beta2, epsilon, weightDecay)
        let correction1 = 1 - Scalar.pow(b1, step)
        let correction2 = 1 - Scalar.pow(b2, step)
        let stepSize = learningRate / correction1
        parameter.withUnsafeMutableBufferPointer { w in
            m.withUnsafeMutableBufferPointer { m in
                v.withUnsafeMutableBufferPointer { v in
                    gradient.withUnsafeBufferPointer { g in
                        for i in 0..<w.count {
                            let d = g[i] + wd * w[i]
                            m[i] = b1 * m[i] + (1 - b1) * d
                            v[i] = b2 * v[i] + (1 - b2) * d * d
                            w[i] -= stepSize * m[i] / ((v[i] / correction2).squareRoot() + eps)
                        }
                    }
                }
            }
        }
        state[name] = (step, m, v)
    }
}
