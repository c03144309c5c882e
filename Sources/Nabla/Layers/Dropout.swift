/// Dropout: in training, each element of the input is set to zero with probability p, afresh
/// for every call; in inference it passes the input through (rescaled, or not, by `scaling`).
///
/// The masks come from the layer's seed and the number of masks it has drawn, a ``LayerState``:
/// the same seed gives the same masks, eagerly or in a replayed step, and a checkpoint saves the
/// count so that a resumed run draws the masks an uninterrupted one would have. (In Float the
/// count is exact up to 2²⁴ ≈ 16.7 million training steps.)
///
/// ```swift
/// Dropout<Float>(probability: 0.5, using: &rng)
/// ```
public struct Dropout<Scalar: TensorScalar>: Layer {
    /// p, the probability that an element is dropped.
    public let probability: Double
    /// Where the factor 1/(1 − p) goes; see ``DropoutScaling``.
    public let scaling: DropoutScaling
    /// Fixes the sequence of masks.
    public let seed: UInt64
    /// How many masks the layer has drawn.
    @LayerState public var masksDrawn = Tensor<Scalar>(zeros: [1])

    /// Creates a layer that drops with probability `probability` (0 ≤ p < 1), its seed drawn
    /// from `rng`.
    public init(probability: Double, scaling: DropoutScaling = .inverted, using rng: inout SeededGenerator) {
        check(probability >= 0 && probability < 1, "Dropout: probability \(probability) must be in [0, 1)")
        (self.probability, self.scaling, self.seed) = (probability, scaling, rng.next())
    }

    /// In training, the input with each element dropped with probability p; in inference, the
    /// input (times 1 − p with ``DropoutScaling/atEvaluation``).
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        guard dropsInCurrentMode else { return isIdentityInCurrentMode ? input : input * Scalar(1 - probability) }
        return dropping { draw, count in input * DropoutMask(count: input.count, draw: draw)([count], shape: input.shape) }
    }

    /// In training, `apply`'s result with this call's mask — how it is drawn, and the count of
    /// masks drawn before it — applied by `apply` itself (as the fused attention applies it to its
    /// weights); the mask is then counted as drawn, in place. (So an op recorded for
    /// differentiation, which holds its inputs, must be given a copy of the count.)
    func dropping(_ apply: (DropoutDraw<Scalar>, Tensor<Scalar>) -> Tensor<Scalar>) -> Tensor<Scalar> {
        let keep = 1 - probability
        let draw = DropoutDraw(keep: keep, scale: scaling == .inverted ? Scalar(1 / keep) : 1, seed: seed)
        let dropped = apply(draw, masksDrawn)
        $masksDrawn.update(CountUp())
        return dropped
    }

    /// Whether a call drops anything: in training, with p > 0. (p = 0 drops nothing in either
    /// mode, and draws no mask: a GPT's default dropout.)
    var dropsInCurrentMode: Bool { LayerMode.current == .training && probability > 0 }

    /// Whether a call returns its input as it is: it drops nothing and rescales nothing.
    var isIdentityInCurrentMode: Bool { !dropsInCurrentMode && (scaling == .inverted || probability == 0) }

    /// The probability and scaling (not the seed: a network is the same whatever its masks).
    public var moduleDescription: ModuleDescription {
        ModuleDescription(of: self, settings: ["probability": .number(probability), "scaling": .choice(scaling)])
    }
}

/// Where dropout's rescaling goes. Both make a unit's expected contribution in training equal
/// to its contribution at evaluation, and so give the same network in expectation; they differ
/// in the scale of the weights that follow (and so in the step size an optimizer takes on them).
public enum DropoutScaling: Sendable {
    /// Kept elements are multiplied by 1/(1 − p) in training; evaluation passes the input
    /// unchanged. PyTorch's `nn.Dropout`, and the usual choice.
    case inverted
    /// Kept elements pass unchanged in training; evaluation multiplies the input by 1 − p. The
    /// book's `network3.py` ("weight scaling": its layers compute (1 − p)·x·W + b at evaluation,
    /// which is W applied to (1 − p)·x): use this to reproduce chapter 6 exactly.
    case atEvaluation
}
