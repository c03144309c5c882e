/// RMSprop (Hinton's lecture 6e), with PyTorch's `torch.optim.RMSprop` semantics:
///
///     g ← g + λ·w                                  (weight decay as an L2 term)
///     s ← α·s + (1 − α)·g²
///     a ← √(s − ḡ²) + ε if centered (ḡ ← α·ḡ + (1 − α)·g), else √s + ε
///     b ← μ·b + g/a,  w ← w − η·b                   (with momentum μ > 0)
///     w ← w − η·g/a                                (without)
///
/// Written as tensor math (``TensorMathOptimizer``).
public struct RMSprop<Scalar: TensorScalar>: TensorMathOptimizer {
    /// α, the decay of the running mean of squared gradients.
    public let alpha: Scalar
    /// Added to the denominator for numerical stability.
    public let epsilon: Scalar
    /// λ, the L2 penalty's coefficient.
    public let weightDecay: Scalar
    /// μ; 0 for none.
    public let momentum: Scalar
    /// Whether to divide by the gradients' estimated variance rather than their mean square.
    public let centered: Bool
    /// `[η]`: the learning rate, read by every step, replayed ones included.
    public var hyperparameters: Tensor<Scalar>
    /// Each parameter's running mean square, then (centered) its running mean, then (with
    /// momentum) its momentum buffer.
    public var state: [String: [Tensor<Scalar>]] = [:]

    /// Creates the optimizer (PyTorch's defaults: η 0.01, α 0.99, ε 1e-8).
    public init(learningRate: Scalar = 0.01, alpha: Scalar = 0.99, epsilon: Scalar = 1e-8, weightDecay: Scalar = 0,
                momentum: Scalar = 0, centered: Bool = false) {
        check(alpha >= 0 && alpha <= 1, "RMSprop: alpha \(alpha) must lie in [0, 1]")
        check(learningRate >= 0 && epsilon > 0 && weightDecay >= 0 && momentum >= 0,
              "RMSprop: learning rate \(learningRate), weight decay \(weightDecay) and momentum \(momentum) must not be negative, epsilon \(epsilon) must be positive")
        (self.alpha, self.epsilon, self.weightDecay, self.momentum, self.centered) = (alpha, epsilon, weightDecay, momentum, centered)
        hyperparameters = Tensor([learningRate])
    }

    /// Zeros for each running statistic the settings need.
    public func makeState(for parameter: Tensor<Scalar>) -> [Tensor<Scalar>] {
        (0 ..< 1 + (centered ? 1 : 0) + (momentum > 0 ? 1 : 0)).map { _ in Tensor(zeros: parameter.shape) }
    }

    /// One RMSprop step.
    public func updated(_ w: Tensor<Scalar>, named name: String, gradient: Tensor<Scalar>,
                        state: [Tensor<Scalar>]) -> (parameter: Tensor<Scalar>, state: [Tensor<Scalar>]) {
        let g = weightDecay == 0 ? gradient : gradient + w * weightDecay
        let squares = state[0] * alpha + g * g * (1 - alpha)
        var newState = [squares]
        var average = sqrt(squares) + epsilon
        if centered {
            let mean = state[1] + (g - state[1]) * (1 - alpha)          // PyTorch's lerp
            newState.append(mean)
            average = sqrt(squares - mean * mean) + epsilon
        }
        guard momentum > 0 else { return (w - learningRateTensor * (g / average), newState) }
        let buffer = state[newState.count] * momentum + g / average
        return (w - learningRateTensor * buffer, newState + [buffer])
    }
}
