import RealModule

/// A cost comparing a batch of network outputs with targets, as a scalar tensor to minimise.
///
/// Outputs and targets have the same shape, [batch, classes]; the cost averages over the batch.
public protocol Loss<Scalar> {
    /// The scalar type.
    associatedtype Scalar: TensorScalar

    /// The cost of `output` against `target`.
    func callAsFunction(_ output: Tensor<Scalar>, _ target: Tensor<Scalar>) -> Tensor<Scalar>
}

/// Checks a loss's operands and returns the batch size.
func batchSize<Scalar>(_ output: Tensor<Scalar>, _ target: Tensor<Scalar>, loss: String) -> Int {
    check(output.shape == target.shape && output.rank == 2,
          "\(loss): output \(output.shape) and target \(target.shape) must both be [batch, classes]")
    return output.shape[0]
}

/// The book's quadratic cost, exactly: C = (1/m)·Σₓ ½‖a − y‖² over a mini-batch of m examples.
///
/// Half the squared error is summed over the outputs of each example, then averaged over
/// examples. (The mean over all elements would be ten times smaller for ten outputs, and so
/// would its gradients.) With ``SGD`` at learning rate η this gives the book's step
/// w ← w − (η/m)·Σₓ∇Cₓ.
public struct QuadraticLoss<Scalar: TensorScalar>: Loss {
    /// Creates the loss.
    public init() {}

    /// (1/m)·Σₓ ½‖output − target‖².
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func callAsFunction(_ output: Tensor<Scalar>, _ target: Tensor<Scalar>) -> Tensor<Scalar> {
        _ = batchSize(output, target, loss: "QuadraticLoss")
        // One node instead of four (subtract, square, sum, divide) on the training path.
        return Quadratic<Scalar>(shape: output.shape)([output, target], shape: [])
    }
}

/// The book's cost as one primitive: C = (1/m)·Σ ½(a − y)² over an [m, classes] batch, whose
/// gradient is (a − y)/m with respect to the outputs a (and its negative for the targets y).
struct Quadratic<Scalar: TensorScalar>: Primitive {
    let rows, count: Int

    init(shape: [Int]) { (rows, count) = (shape[0], shape[0] * shape[1]) }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ inputs: PrimitiveInputs<Scalar>, into cost: UnsafeMutablePointer<Scalar>) {
        let (a, y) = (inputs[0], inputs[1])
        var sum: Scalar = 0
        for i in 0..<count { sum += (a[i] - y[i]) * (a[i] - y[i]) }
        cost.initialize(to: sum / Scalar(rows) / 2)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func backward(
        input index: Int, _ inputs: PrimitiveInputs<Scalar>, output _: UnsafePointer<Scalar>,
        upstream g: UnsafePointer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        let (a, y) = (inputs[0], inputs[1])
        let scale = (index == 0 ? g[0] : -g[0]) / Scalar(rows)
        for i in 0..<count { gradient[i] = (a[i] - y[i]) * scale }
    }
}

/// The cross-entropy cost for sigmoid outputs (the book's chapter 3), computed from the logits.
///
/// With a = σ(z): C = −(1/m)·Σₓ Σⱼ [yⱼ ln aⱼ + (1 − yⱼ) ln(1 − aⱼ)]. It takes z, the output of the
/// last layer *before* its sigmoid, and evaluates each term as max(z, 0) − z·y + ln(1 + e^−|z|),
/// which stays finite where ln a would be ln 0. Its gradient is (σ(z) − y)/m: no σ′ factor, so
/// saturated neurons still learn.
public struct SigmoidCrossEntropyLoss<Scalar: TensorScalar>: Loss {
    /// Creates the loss.
    public init() {}

    /// The mean over examples of the summed binary cross-entropy, from logits.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func callAsFunction(_ logits: Tensor<Scalar>, _ target: Tensor<Scalar>) -> Tensor<Scalar> {
        _ = batchSize(logits, target, loss: "SigmoidCrossEntropyLoss")
        // One primitive, so that a traced training step can replay it; the same cost composed
        // from primitives, (relu(z) + log(1 + exp(−|z|)) − z·y).sum() / m, is its test reference.
        return SigmoidCrossEntropy<Scalar>(shape: logits.shape)([logits, target], shape: [])
    }
}

/// Binary cross-entropy from logits as one primitive: C = (1/m)·Σ [max(z, 0) − z·y + ln(1 + e^−|z|)]
/// over an [m, classes] batch, with ∂C/∂z = (σ(z) − y)/m and ∂C/∂y = −z/m.
struct SigmoidCrossEntropy<Scalar: TensorScalar>: Primitive {
    let rows, count: Int

    init(shape: [Int]) { (rows, count) = (shape[0], shape[0] * shape[1]) }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ inputs: PrimitiveInputs<Scalar>, into cost: UnsafeMutablePointer<Scalar>) {
        let (z, y) = (inputs[0], inputs[1])
        var sum: Scalar = 0
        for i in 0..<count {
            sum += Swift.max(z[i], 0) - z[i] * y[i] + .log(onePlus: .exp(-Swift.abs(z[i])))
        }
        cost.initialize(to: sum / Scalar(rows))
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func backward(
        input index: Int, _ inputs: PrimitiveInputs<Scalar>, output _: UnsafePointer<Scalar>,
        upstream g: UnsafePointer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        let (z, y) = (inputs[0], inputs[1])
        let scale = g[0] / Scalar(rows)
        if index == 0 {
            for i in 0..<count { gradient[i] = (1 / (1 + .exp(-z[i])) - y[i]) * scale }
        } else {
            for i in 0..<count { gradient[i] = -z[i] * scale }
        }
    }
}

/// The cross-entropy of softmax probabilities against one-hot (or any probability) targets,
/// computed from logits: C = −(1/m)·Σₓ Σⱼ yⱼ·log softmax(z)ⱼ.
public struct SoftmaxCrossEntropyLoss<Scalar: TensorScalar>: Loss {
    /// Creates the loss.
    public init() {}

    /// The mean over examples of −Σ y·logSoftmax(z).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func callAsFunction(_ logits: Tensor<Scalar>, _ target: Tensor<Scalar>) -> Tensor<Scalar> {
        let m = batchSize(logits, target, loss: "SoftmaxCrossEntropyLoss")
        return -(target * logSoftmax(logits)).sum() / Scalar(m)
    }
}
