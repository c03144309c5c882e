/// Batch normalisation (Ioffe and Szegedy, 2015) of feature vectors: in training, each feature
/// (along the last axis) is normalised by its mean and variance over the batch — every other
/// axis: [N, C], or [N, T, C] as makemore's WaveNet — then scaled by `weight` and shifted by
/// `bias`. Each training step also moves the running statistics a fraction `momentum` of the way
/// to the batch's; inference normalises by those instead, so a trained network's output for one
/// example does not depend on the others in its batch.
///
/// PyTorch's `nn.BatchNorm1d` semantics (biased variance to normalise, unbiased for the running
/// variance; momentum 0.1, ε 1e-5), with the features last: a [N, C, L] PyTorch input is this
/// layer's [N, L, C]. The running statistics are ``LayerState``: saved with the model, and
/// updated by a replayed step exactly as by an eager one.
public struct BatchNorm1D<Scalar: TensorScalar>: Layer {
    /// The gain, [features], initially ones.
    @Parameter public var weight: Tensor<Scalar>
    /// The shift, [features], initially zeros.
    @Parameter public var bias: Tensor<Scalar>
    /// The running mean, [features], initially zeros.
    @LayerState public var runningMean: Tensor<Scalar>
    /// The running (unbiased) variance, [features], initially ones.
    @LayerState public var runningVariance: Tensor<Scalar>
    /// How far each training batch moves the running statistics.
    public let momentum: Scalar
    /// Added to the variance before the square root.
    public let epsilon: Scalar

    /// Creates a layer over `features` features.
    public init(features: Int, momentum: Scalar = 0.1, epsilon: Scalar = 1e-5) {
        check(features > 0, "BatchNorm1D: features \(features) must be positive")
        check(momentum >= 0 && momentum <= 1, "BatchNorm1D: momentum \(momentum) must be in [0, 1]")
        weight = Tensor(ones: [features])
        bias = Tensor(zeros: [features])
        runningMean = Tensor(zeros: [features])
        runningVariance = Tensor(ones: [features])
        (self.momentum, self.epsilon) = (momentum, epsilon)
    }

    /// The shapes, with the momentum and ε.
    public var moduleDescription: ModuleDescription {
        ModuleDescription(of: self, settings: ["momentum": .scalar(momentum), "epsilon": .scalar(epsilon)])
    }

    /// Normalises [..., features] by the batch's statistics in training, by the running ones in
    /// inference.
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let features = weight.count
        check(input.rank >= 2 && input.shape.last == features,
              "BatchNorm1D: input \(input.shape) does not fit \(features) features: expected [batch, ..., \(features)]")
        guard LayerMode.current == .training else {
            return (input - runningMean) / sqrt(runningVariance + epsilon) * weight + bias
        }
        let axes = Array(0..<(input.rank - 1))
        let n = input.count / features
        check(n > 1, "BatchNorm1D: a training batch of shape \(input.shape) has one value per feature: no variance to normalise by")
        let mean = input.mean(alongAxes: axes)
        let centered = input - mean
        let variance = centered.squared().mean(alongAxes: axes)
        $runningMean.update(MovingAverage(momentum: momentum, scale: 1, count: features), reading: [mean])
        $runningVariance.update(MovingAverage(momentum: momentum, scale: Scalar(n) / Scalar(n - 1), count: features),
                                reading: [variance])
        return centered / sqrt(variance + epsilon) * weight + bias
    }
}

/// s ← (1 − momentum)·s + momentum·scale·x, in place on a running statistic s.
struct MovingAverage<Scalar: TensorScalar>: TensorOperation {
    let momentum: Scalar
    let scale: Scalar
    let count: Int

    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (s, x) = (buffers.updating(0), buffers.input(1))
        for i in 0..<count { s[i] = (1 - momentum) * s[i] + momentum * scale * x[i] }
    }
}
