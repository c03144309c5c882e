import CNablaKernels
import RealModule

/// Adam (Kingma & Ba), with PyTorch's semantics: bias-corrected first and second moment
/// estimates, ε added outside the square root, and weight decay as an L2 term in the gradient.
/// Subnormal numbers are flushed to zero, as with PyTorch's `torch.set_flush_denormal(True)`: a
/// moment estimate that decays below the smallest normal number is stored as zero, and on x86 the
/// whole update runs in the processor's flush-to-zero and denormals-are-zero modes, so that a
/// subnormal gradient or product on the way counts as zero too. Subnormal arithmetic is many
/// times slower, and values that small no longer move a weight.
public struct Adam<Scalar: TensorScalar>: Optimizer {
    /// Decay rates of the first and second moment estimates.
    public let beta1, beta2: Scalar
    /// Added to the denominator for numerical stability.
    public let epsilon: Scalar
    /// λ, the L2 penalty's coefficient.
    public let weightDecay: Scalar
    /// `[η]`: the learning rate, read by every step, replayed ones included.
    public var hyperparameters: Tensor<Scalar>
    /// Each parameter's first and second moment estimates, and its one-element step count.
    public var state: [String: [Tensor<Scalar>]] = [:]

    /// Creates the optimizer (defaults: η 0.001, β 0.9 and 0.999, ε 1e-8).
    public init(learningRate: Scalar = 0.001, beta1: Scalar = 0.9, beta2: Scalar = 0.999,
                epsilon: Scalar = 1e-8, weightDecay: Scalar = 0) {
        check(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1,
              "Adam: betas \(beta1), \(beta2) must lie in [0, 1)")
        check(learningRate >= 0 && epsilon > 0 && weightDecay >= 0,
              "Adam: learning rate \(learningRate) and weight decay \(weightDecay) must not be negative, epsilon \(epsilon) must be positive")
        self.hyperparameters = Tensor([learningRate])
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// η.
    public var learningRate: Scalar {
        get { hyperparameters.base[0] }
        set { hyperparameters.withUnsafeMutableBufferPointer { $0[0] = newValue } }
    }

    /// Zero moment estimates and a zero step count.
    public func makeState(for parameter: Tensor<Scalar>) -> [Tensor<Scalar>] {
        [Tensor(zeros: parameter.shape), Tensor(zeros: parameter.shape), Tensor(zeros: [1])]
    }

    /// Applies one step to one parameter.
    public func update(_ parameter: inout Tensor<Scalar>, state: inout [Tensor<Scalar>], along gradient: Tensor<Scalar>) {
        check(state.count == 3 && state[0].shape == parameter.shape && state[1].shape == parameter.shape && state[2].count == 1,
              "Adam: a state of shapes \(state.map(\.shape)) does not fit a parameter of shape \(parameter.shape)")
        let step = AdamStep<Scalar>(count: parameter.count, beta1: beta1, beta2: beta2, epsilon: epsilon,
                                    weightDecay: weightDecay)
        step.update(&parameter, with: &state, reading: [gradient, hyperparameters])
    }
}

/// One parameter's Adam step in place. Operands: the parameter w, its moments m and v and its
/// step count, then the gradient g and the hyperparameters [η].
struct AdamStep<Scalar: TensorScalar>: TensorOperation {
    let count: Int
    let beta1, beta2, epsilon, weightDecay: Scalar

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (w, m, v, step) = (buffers.updating(0), buffers.updating(1), buffers.updating(2), buffers.updating(3))
        let (g, learningRate, f, d) = (buffers.input(4), buffers.input(5)[0], Float.self, Double.self)
        step[0] += 1
        let stepSize = learningRate / (1 - Scalar.pow(beta1, Int(step[0])))
        let inverseRoot2 = 1 / (1 - Scalar.pow(beta2, Int(step[0]))).squareRoot()
        if Scalar.isFloat {
            nabla_adam_step_f32(w.assuming(f), m.assuming(f), v.assuming(f), g.assuming(f), count, Float(stepSize),
                                Float(beta1), Float(beta2), Float(inverseRoot2), Float(epsilon), Float(weightDecay))
        } else {
            nabla_adam_step_f64(w.assuming(d), m.assuming(d), v.assuming(d), g.assuming(d), count, Double(stepSize),
                                Double(beta1), Double(beta2), Double(inverseRoot2), Double(epsilon), Double(weightDecay))
        }
    }
}
