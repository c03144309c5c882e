import RealModule

/// The cross-entropy of softmax probabilities, computed from logits in one numerically stable
/// op: C = −(1/m)·Σₓ Σⱼ yⱼ·log softmax(z)ⱼ over a batch of m examples — the mean negative
/// log-likelihood of the book's chapter 6 (`network3.py`'s softmax layer and cost).
///
/// The target is either
/// - **class indices**, one per example: logits [..., classes] and an ``IndexTensor`` [...] (a
///   language model's [B, T] next tokens), each in 0..<classes — or the same as a tensor of whole
///   numbers (a dataset's labels, exact up to 2²⁴ in Float). C is then the mean of
///   −log softmax(z)[label]; or
/// - **probabilities** of the logits' shape (one-hot rows, or any distribution).
///
/// log softmax(z)ⱼ is evaluated as zⱼ − max z − log Σₖ e^(zₖ − max z), which never overflows. The
/// gradient with respect to the logits is (softmax(z) − y)/m for targets that sum to one; class
/// indices get none.
///
/// ```swift
/// let cost = SoftmaxCrossEntropyLoss<Float>()(model(images), labels)   // labels: [batch]
/// ```
public struct SoftmaxCrossEntropyLoss<Scalar: TensorScalar>: Loss {
    /// Creates the loss.
    public init() {}

    /// The mean over examples of −log softmax(logits)[label], or of −Σ target·log softmax(logits).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func callAsFunction(_ logits: Tensor<Scalar>, _ target: Tensor<Scalar>) -> Tensor<Scalar> {
        let labels = logits.rank >= 1 && target.shape == Array(logits.shape.dropLast())
        check(logits.rank >= 1 && logits.shape.last! > 0 && (labels || target.shape == logits.shape), """
            SoftmaxCrossEntropyLoss: logits \(logits.shape) and target \(target.shape) do not fit: the target must be \
            class indices [\(logits.shape.dropLast().map(String.init).joined(separator: ", "))] or probabilities \(logits.shape)
            """)
        let classes = logits.shape.last!
        let op = SoftmaxCrossEntropy<Scalar>(rows: logits.count / classes, classes: classes, labels: labels ? .scalars : nil)
        return op([logits, target], shape: [])
    }

    /// The mean over examples of −log softmax(logits)[label], for labels of the logits' shape but
    /// the last (the classes).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func callAsFunction(_ logits: Tensor<Scalar>, _ labels: IndexTensor) -> Tensor<Scalar> {
        check(logits.rank >= 1 && logits.shape.last! > 0 && labels.shape == Array(logits.shape.dropLast()),
              "SoftmaxCrossEntropyLoss: logits \(logits.shape) and labels \(labels.shape) do not fit: the labels must be "
              + "[\(logits.shape.dropLast().map(String.init).joined(separator: ", "))]")
        let classes = logits.shape.last!
        let op = SoftmaxCrossEntropy<Scalar>(rows: logits.count / classes, classes: classes, labels: .integers)
        return op([logits], indices: [labels], shape: [])
    }
}

/// Softmax cross-entropy as one op over [rows, classes] logits; it saves the softmax
/// probabilities, from which its gradient is one pass.
struct SoftmaxCrossEntropy<Scalar: TensorScalar>: TensorOperation {
    let rows, classes: Int
    /// How the target holds each row's class, or nil for a target of probabilities.
    let labels: IndexOperand?

    var name: String { "softmax cross-entropy" }
    var savedCount: Int { rows * classes }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (logits, probabilities) = (buffers.input(0), buffers.saved)
        var total: Scalar = 0
        for r in 0..<rows {
            let (z, p) = (logits + r * classes, probabilities + r * classes)
            var largest = z[0]
            for j in 1..<classes where z[j] > largest { largest = z[j] }
            var sum: Scalar = 0
            for j in 0..<classes {
                p[j] = Scalar.exp(z[j] - largest)
                sum += p[j]
            }
            for j in 0..<classes { p[j] /= sum }
            let logSum = largest + Scalar.log(sum)   // log Σ e^z
            if let labels {
                total += logSum - z[labels.index(r, of: buffers, at: 1, length: classes, op: "SoftmaxCrossEntropyLoss label")]
            } else {
                let y = buffers.input(1) + r * classes
                for j in 0..<classes { total += y[j] * (logSum - z[j]) }
            }
        }
        buffers.output[0] = total / Scalar(rows)
    }

    func gradients(_ g: Tensor<Scalar>, of call: OperationCall<Scalar>) -> [Tensor<Scalar>?] {
        let (logits, gradient) = (call.inputs[0], SoftmaxCrossEntropyGradient(operation: self))
        guard let labels else {
            let dLogits = call.needsGradient(0) ? gradient([call.saved, g, call.inputs[1]], shape: logits.shape) : nil
            // −log softmax(z)·g/m.
            let dTarget = call.needsGradient(1) ? -logSoftmax(logits) * (g / Scalar(rows)) : nil
            return [dLogits, dTarget]
        }
        // Class indices are not differentiable.
        let dLogits = call.needsGradient(0) ? labels.launch(gradient, on: [call.saved, g], indicesOf: call, shape: logits.shape) : nil
        return labels.gradients(dLogits)
    }
}

/// (softmax(z)·Σⱼyⱼ − y)·g/m from (probabilities, g, target), y one-hot rows for class indices.
/// It has no gradient of its own: the fused loss is not twice differentiable (the same loss
/// composed as `-(logSoftmax(z) * y).sum(alongAxis: -1).mean()` is).
/// (Σⱼyⱼ is 1 for a distribution; a gradient check perturbs the target off the simplex.)
struct SoftmaxCrossEntropyGradient<Scalar: TensorScalar>: TensorOperation {
    let operation: SoftmaxCrossEntropy<Scalar>

    var name: String { "softmax cross-entropy gradient" }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(_ buffers: OperationBuffers<Scalar>) {
        let (p, out) = (buffers.input(0), buffers.output)
        let (rows, classes) = (operation.rows, operation.classes)
        let scale = buffers.input(1)[0] / Scalar(rows)
        if let labels = operation.labels {
            for i in 0..<(rows * classes) { out[i] = p[i] * scale }
            for r in 0..<rows {
                let k = r * classes + labels.index(r, of: buffers, at: 2, length: classes, op: "SoftmaxCrossEntropyLoss label")
                out[k] = (p[k] - 1) * scale   // as a one-hot target gives, to the bit
            }
        } else {
            let target = buffers.input(2)
            for r in 0..<rows {
                let (p, y, out) = (p + r * classes, target + r * classes, out + r * classes)
                var total: Scalar = 0
                for j in 0..<classes { total += y[j] }
                for j in 0..<classes { out[j] = (p[j] * total - y[j]) * scale }
            }
        }
    }
}
