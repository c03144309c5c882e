/// How gradients are limited between the backward pass and the update, as PyTorch's
/// `clip_grad_norm_` and `clip_grad_value_` limit them.
///
/// ```swift
/// let (loss, gradients) = valueWithGradient(at: model) { ... }
/// optimizer.update(&model, along: gradients.clipped(.globalNorm(1)))
/// stepper.clipping = .globalNorm(1)        // the same inside a replayed step
/// ```
public enum GradientClipping<Scalar: TensorScalar>: Equatable, Sendable {
    /// Every gradient scaled by min(1, maxNorm / (‖g‖ + 10⁻⁶)), where ‖g‖ is one L2 norm over
    /// all the gradients together: the direction kept, the step shortened.
    case globalNorm(Scalar)
    /// Every element limited to [−limit, limit].
    case value(Scalar)
}

extension Gradients {
    /// The L2 norm of all the gradients together, as a scalar tensor: √(Σ g²) over every element
    /// of every gradient.
    public var globalNorm: Tensor<Scalar> {
        guard !tensors.isEmpty else { return Tensor(0) }
        return sqrt(Tensor(stacking: tensors.map { $0.squared().sum() }).sum())
    }

    /// The gradients limited as `clipping` says, computed with tensor ops (so a traced step
    /// replays it). A NaN anywhere makes the global norm NaN, and every gradient with it, as in PyTorch.
    public func clipped(_ clipping: GradientClipping<Scalar>) -> Gradients {
        switch clipping {
        case .globalNorm(let maxNorm):
            check(maxNorm > 0, "clipped: the maximum norm \(maxNorm) must be positive")
            let scale = (maxNorm / (globalNorm + 1e-6)).clamped(max: 1)
            return Gradients(names: names, tensors: tensors.map { $0 * scale })
        case .value(let limit):
            check(limit > 0, "clipped: the limit \(limit) must be positive")
            return Gradients(names: names, tensors: tensors.map { $0.clamped(min: -limit, max: limit) })
        }
    }
}
