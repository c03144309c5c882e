import RealModule

/// The book's network and its hand-written backpropagation (chapter 2, equations BP1–BP4),
/// vectorised over a mini-batch, with no automatic differentiation: the independent reference
/// that Nabla's gradients are proven equal to.
///
/// It uses no Nabla type and no shared kernel, only loops over plain arrays. Layer l has weights
/// wˡ of shape [nₗ, nₗ₋₁] (row j feeds neuron j) and biases bˡ of [nₗ]; a mini-batch is m rows.
/// The cost is the book's C = (1/m)·Σₓ ½‖aᴸ − y‖², so the gradients are averages over the batch.
public struct BookNetwork<Scalar: Real & BinaryFloatingPoint> {
    /// Neurons per layer, input first: [784, 30, 10] for the book's network.
    public let sizes: [Int]
    /// wˡ for each layer after the input, row-major [nₗ, nₗ₋₁].
    public var weights: [[Scalar]]
    /// bˡ for each layer after the input.
    public var biases: [[Scalar]]

    /// Creates the network from given weights and biases.
    public init(sizes: [Int], weights: [[Scalar]], biases: [[Scalar]]) {
        precondition(weights.count == sizes.count - 1 && biases.count == sizes.count - 1)
        for l in 1..<sizes.count {
            precondition(weights[l - 1].count == sizes[l] * sizes[l - 1] && biases[l - 1].count == sizes[l])
        }
        self.sizes = sizes
        self.weights = weights
        self.biases = biases
    }

    private static func sigmoid(_ z: Scalar) -> Scalar { 1 / (1 + .exp(-z)) }

    /// ∂C/∂w and ∂C/∂b for every layer, for a mini-batch of `m` inputs x ([m, n₀] row-major) and
    /// targets y ([m, n_L]).
    public func gradients(inputs x: [Scalar], targets y: [Scalar], batchSize m: Int)
        -> (weights: [[Scalar]], biases: [[Scalar]])
    {
        let layers = sizes.count - 1
        // Forward pass, keeping every activation aˡ (a⁰ = x): zˡ = wˡaˡ⁻¹ + bˡ, aˡ = σ(zˡ).
        var activations: [[Scalar]] = [x]
        for l in 0..<layers {
            let (n, nIn) = (sizes[l + 1], sizes[l])
            let input = activations[l]
            var a = [Scalar](repeating: 0, count: m * n)
            for s in 0..<m {
                for j in 0..<n {
                    var z = biases[l][j]
                    for k in 0..<nIn { z += weights[l][j * nIn + k] * input[s * nIn + k] }
                    a[s * n + j] = Self.sigmoid(z)
                }
            }
            activations.append(a)
        }

        var weightGradients = [[Scalar]](repeating: [], count: layers)
        var biasGradients = [[Scalar]](repeating: [], count: layers)
        // BP1: δᴸ = (aᴸ − y) ⊙ σ′(zᴸ), with σ′(z) = σ(z)(1 − σ(z)) = a(1 − a).
        var delta = zip(activations[layers], y).map { a, y in (a - y) * a * (1 - a) }
        for l in stride(from: layers - 1, through: 0, by: -1) {
            let (n, nIn) = (sizes[l + 1], sizes[l])
            let input = activations[l]
            // BP3: ∂C/∂bˡⱼ = δˡⱼ, averaged over the batch.
            var gb = [Scalar](repeating: 0, count: n)
            // BP4: ∂C/∂wˡⱼₖ = aˡ⁻¹ₖ δˡⱼ, averaged over the batch.
            var gw = [Scalar](repeating: 0, count: n * nIn)
            for s in 0..<m {
                for j in 0..<n {
                    let d = delta[s * n + j]
                    gb[j] += d
                    for k in 0..<nIn { gw[j * nIn + k] += d * input[s * nIn + k] }
                }
            }
            let scale = 1 / Scalar(m)
            biasGradients[l] = gb.map { $0 * scale }
            weightGradients[l] = gw.map { $0 * scale }
            // BP2: δˡ⁻¹ = ((wˡ)ᵀ δˡ) ⊙ σ′(zˡ⁻¹).
            if l > 0 {
                var previous = [Scalar](repeating: 0, count: m * nIn)
                for s in 0..<m {
                    for k in 0..<nIn {
                        var sum: Scalar = 0
                        for j in 0..<n { sum += weights[l][j * nIn + k] * delta[s * n + j] }
                        let a = input[s * nIn + k]
                        previous[s * nIn + k] = sum * a * (1 - a)
                    }
                }
                delta = previous
            }
        }
        return (weightGradients, biasGradients)
    }
}
