/// Adam with decoupled weight decay (Loshchilov & Hutter), with PyTorch's `torch.optim.AdamW`
/// semantics: each step first shrinks the parameter by η·λ, then takes Adam's bias-corrected step
///
///     w ← w·(1 − η·λ)
///     m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
///     w ← w − η/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
///
/// Written as tensor math (``TensorMathOptimizer``). Weight decay applies to the parameters that
/// ``decays`` accepts: all of them by default, as in PyTorch; nanoGPT's rule, matrices and above
/// but not biases or norms' gains, is ``decaysMatrices``.
///
/// ```swift
/// var optimizer = AdamW<Float>(learningRate: 1e-3, beta2: 0.99, weightDecay: 0.1, decays: AdamW.decaysMatrices)
/// ```
public struct AdamW<Scalar: TensorScalar>: TensorMathOptimizer {
    /// Decay rates of the first and second moment estimates.
    public let beta1, beta2: Scalar
    /// Added to the denominator for numerical stability.
    public let epsilon: Scalar
    /// λ, the decoupled weight decay.
    public let weightDecay: Scalar
    /// Which parameters weight decay applies to, by name and shape.
    public let decays: @Sendable (_ name: String, _ shape: [Int]) -> Bool
    /// `[η]`: the learning rate, read by every step, replayed ones included.
    public var hyperparameters: Tensor<Scalar>
    /// Each parameter's first and second moment estimates, and its one-element step count.
    public var state: [String: [Tensor<Scalar>]] = [:]

    /// Creates the optimizer (PyTorch's defaults: η 0.001, β 0.9 and 0.999, ε 1e-8, λ 0.01).
    public init(learningRate: Scalar = 0.001, beta1: Scalar = 0.9, beta2: Scalar = 0.999, epsilon: Scalar = 1e-8,
                weightDecay: Scalar = 0.01,
                decays: @escaping @Sendable (_ name: String, _ shape: [Int]) -> Bool = { _, _ in true }) {
        check(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "AdamW: betas \(beta1), \(beta2) must lie in [0, 1)")
        check(learningRate >= 0 && epsilon > 0 && weightDecay >= 0,
              "AdamW: learning rate \(learningRate) and weight decay \(weightDecay) must not be negative, epsilon \(epsilon) must be positive")
        (self.beta1, self.beta2, self.epsilon, self.weightDecay, self.decays) = (beta1, beta2, epsilon, weightDecay, decays)
        hyperparameters = Tensor([learningRate])
    }

    /// nanoGPT's choice: decay every parameter of two or more dimensions (weights, embeddings),
    /// none of one (biases, layer norms' gains).
    public static var decaysMatrices: @Sendable (_ name: String, _ shape: [Int]) -> Bool { { _, shape in shape.count >= 2 } }

    /// Zero moment estimates and a zero step count.
    public func makeState(for parameter: Tensor<Scalar>) -> [Tensor<Scalar>] {
        [Tensor(zeros: parameter.shape), Tensor(zeros: parameter.shape), Tensor(zeros: [])]
    }

    /// One AdamW step.
    public func updated(_ w: Tensor<Scalar>, named name: String, gradient g: Tensor<Scalar>,
                        state: [Tensor<Scalar>]) -> (parameter: Tensor<Scalar>, state: [Tensor<Scalar>]) {
        let lr = learningRateTensor
        let t = state[2] + 1
        let decayed = weightDecay != 0 && decays(name, w.shape) ? w * (1 - lr * weightDecay) : w
        let m = state[0] + (g - state[0]) * (1 - beta1)          // PyTorch's lerp
        let v = state[1] * beta2 + g * g * (1 - beta2)
        let stepSize = lr / (1 - power(beta1, t))
        let denominator = sqrt(v) / sqrt(1 - power(beta2, t)) + epsilon
        return (decayed - stepSize * (m / denominator), [m, v, t])
    }
}

/// `base` raised to the power `exponent`, a tensor: a bias correction βᵗ read at every replay.
func power<Scalar>(_ base: Scalar, _ exponent: Tensor<Scalar>) -> Tensor<Scalar> {
    exp(exponent * Scalar.log(base))
}
