import RealModule

/// A cost comparing a batch of network outputs with targets, as a scalar tensor to minimise.
///
/// Outputs and targets have the same shape, [batch, classes] — or [..., classes], any leading
/// dimensions counting as the batch; the cost averages over the batch.
public protocol Loss<Scalar> {
    /// The scalar type.
    associatedtype Scalar: TensorScalar

    /// The cost of `output` against `target`.
    func callAsFunction(_ output: Tensor<Scalar>, _ target: Tensor<Scalar>) -> Tensor<Scalar>
}

/// Checks a cost's operands, which must both be [..., classes], and returns the batch size: the
/// product of the leading dimensions.
func batchSize<Scalar>(_ output: Tensor<Scalar>, _ target: Tensor<Scalar>, loss: StaticString) -> Int {
    check(output.shape == target.shape && output.rank >= 1,
          "\(loss): output \(output.shape) and target \(target.shape) must have one shape, [..., classes]")
    return output.shape.dropLast().reduce(1, *)
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
    public func callAsFunction(_ output: Tensor<Scalar>, _ target: Tensor<Scalar>) -> Tensor<Scalar> {
        BatchCost.apply(.halfSquaredError, output, target, loss: "QuadraticLoss")
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
    public func callAsFunction(_ logits: Tensor<Scalar>, _ target: Tensor<Scalar>) -> Tensor<Scalar> {
        BatchCost.apply(.sigmoidCrossEntropy, logits, target, loss: "SigmoidCrossEntropyLoss")
    }
}

/// A cost as one op: a term of each output a and its target y, summed over an [m, classes]
/// batch and averaged over its m rows, C = (1/m)·Σ term(a, y).
///
/// One launch instead of four to seven (subtract, square, sum, divide, …). The same costs
/// composed from tensor ops are the tests' reference.
struct BatchCost<Scalar: TensorScalar>: TensorOperation {
    enum Term {
        /// ½(a − y)²; ∂/∂a = a − y, ∂/∂y = −(a − y).
        case halfSquaredError
        /// Binary cross-entropy of σ(a) from the logit a: max(a, 0) − a·y + ln(1 + e^−|a|);
        /// ∂/∂a = σ(a) − y, ∂/∂y = −a.
        case sigmoidCrossEntropy
    }
    let term: Term
    let rows, count: Int
    /// Which operand's gradient this launch forms, when it is the cost's gradient (upstream g
    /// as a third input); nil for the cost itself.
    var gradientOf: Int? = nil

    var name: String { gradientOf == nil ? "\(term)" : "\(term) gradient" }

    /// The scalar cost of `output` against `target`, which must both be [..., classes].
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func apply(_ term: Term, _ output: Tensor<Scalar>, _ target: Tensor<Scalar>, loss: StaticString) -> Tensor<Scalar> {
        let op = BatchCost(term: term, rows: batchSize(output, target, loss: loss), count: output.count)
        return op([output, target], shape: [])
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (a, y, out) = (buffers.input(0), buffers.input(1), buffers.output)
        if let index = gradientOf {
            let scale = buffers.input(2)[0] / Scalar(rows)
            switch (term, index) {
            case (.halfSquaredError, 0): for i in 0..<count { out[i] = (a[i] - y[i]) * scale }
            case (.halfSquaredError, _): for i in 0..<count { out[i] = (y[i] - a[i]) * scale }
            case (.sigmoidCrossEntropy, 0): for i in 0..<count { out[i] = (1 / (1 + .exp(-a[i])) - y[i]) * scale }
            case (.sigmoidCrossEntropy, _): for i in 0..<count { out[i] = -a[i] * scale }
            }
            return
        }
        let sum: Scalar
        switch term {
        case .halfSquaredError:
            sum = interleavedSum(count: count) { i in (a[i] - y[i]) * (a[i] - y[i]) / 2 }
        case .sigmoidCrossEntropy:
            sum = interleavedSum(count: count) { i in
                Swift.max(a[i], 0) - a[i] * y[i] + .log(onePlus: .exp(-Swift.abs(a[i])))
            }
        }
        out[0] = sum / Scalar(rows)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        if let index = gradientOf { return secondDerivatives(g, of: call, index: index) }
        return (0..<2).map { index in
            guard call.needsGradient(index) else { return nil }
            var op = self
            op.gradientOf = index
            return op([call.inputs[0], call.inputs[1], g], shape: call.inputs[index].shape)
        }
    }

    /// The gradient of the cost's gradient with respect to operand `index`, d = term′(a, y)·g/m,
    /// against upstream u: what differentiating a gradient (a gradient penalty) needs.
    private func secondDerivatives(_ u: Tensor<Scalar>, of call: OperationCall<Scalar>, index: Int) -> [Tensor<Scalar>?] {
        let (a, y, g) = (call.inputs[0], call.inputs[1], call.inputs[2])
        let scale = g / Scalar(rows)
        // term′(a, y), and its derivatives in a and y.
        let (derivative, da, dy): (Tensor<Scalar>, Tensor<Scalar>?, Tensor<Scalar>?)
        switch (term, index) {
        case (.halfSquaredError, 0): (derivative, da, dy) = (a - y, u * scale, -u * scale)
        case (.halfSquaredError, _): (derivative, da, dy) = (y - a, -u * scale, u * scale)
        case (.sigmoidCrossEntropy, 0):
            let p = sigmoid(a)
            (derivative, da, dy) = (p - y, u * p * (1 - p) * scale, -u * scale)
        case (.sigmoidCrossEntropy, _): (derivative, da, dy) = (-a, -u * scale, nil)
        }
        return [call.needsGradient(0) ? da : nil, call.needsGradient(1) ? dy : nil,
                call.needsGradient(2) ? ((u * derivative).sum() / Scalar(rows)).reshaped(to: g.shape) : nil]
    }
}
