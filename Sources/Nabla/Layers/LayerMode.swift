/// Whether layers run as they do while training or while evaluating: dropout drops units only
/// in training, batch statistics are gathered only in training, and so on.
///
/// The mode is a property of the call, not of the layer: it holds on the calling thread for the
/// duration of ``withLayerMode(_:_:)``, and is ``inference`` elsewhere. ``TracedGradient`` runs
/// its step in training mode; evaluation runs in inference mode, with nothing to remember.
///
/// ```swift
/// struct Noise: Layer {
///     func callAsFunction(_ x: Tensor<Float>) -> Tensor<Float> {
///         LayerMode.current == .training ? x + jitter(x.shape) : x
///     }
/// }
/// let training = withLayerMode(.training) { model(x) }
/// ```
public enum LayerMode: Sendable {
    /// While training: dropout and other training-only behaviour active.
    case training
    /// While evaluating: the default.
    case inference

    /// The mode on the calling thread.
    public static var current: LayerMode {
        ThreadContext.mode.current(as: ModeContext.self)?.mode ?? .inference
    }
}

/// Runs `body` with layers in `mode` on the calling thread, then restores the mode before.
public func withLayerMode<R>(_ mode: LayerMode, _ body: () throws -> R) rethrows -> R {
    try ThreadContext.mode.with(mode == .training ? ModeContext.training : ModeContext.inference, body)
}

/// A mode as the object a thread context holds.
private final class ModeContext: Sendable {
    let mode: LayerMode
    private init(_ mode: LayerMode) { self.mode = mode }
    static let training = ModeContext(.training)
    static let inference = ModeContext(.inference)
}
