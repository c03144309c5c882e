import RealModule

/// How a layer's parameter is first filled: a function of its shape, its fan-in and fan-out, and
/// the seeded generator.
public struct Initializer<Scalar: TensorScalar>: Sendable {
    /// Makes a tensor of `shape` for a layer with `fanIn` inputs and `fanOut` outputs.
    public let make: @Sendable (_ shape: [Int], _ fanIn: Int, _ fanOut: Int, _ rng: inout SeededGenerator) -> Tensor<Scalar>

    /// Wraps a custom rule.
    public init(_ make: @escaping @Sendable (_ shape: [Int], _ fanIn: Int, _ fanOut: Int, _ rng: inout SeededGenerator) -> Tensor<Scalar>) {
        self.make = make
    }

    /// N(0, 1): the book's chapter 1 choice for weights and biases.
    public static var standardNormal: Initializer {
        Initializer { shape, _, _, rng in Tensor(randomNormal: shape, using: &rng) }
    }

    /// N(0, σ²) whatever the layer's size: GPT-2's and nanoGPT's σ = 0.02 for every weight and
    /// embedding (and 0.02/√(2·layers) for the projections into the residual stream).
    public static func normal(standardDeviation: Scalar) -> Initializer {
        Initializer { shape, _, _, rng in Tensor(randomNormal: shape, standardDeviation: standardDeviation, using: &rng) }
    }

    /// N(0, 1/n_in): the book's chapter 3 weights, which keep sigmoid neurons out of saturation.
    public static var scaledNormal: Initializer {
        Initializer { shape, fanIn, _, rng in
            Tensor(randomNormal: shape, standardDeviation: 1 / Scalar(fanIn).squareRoot(), using: &rng)
        }
    }

    /// N(0, 1/n_out): `network3.py`'s weights in the book's chapter 6. n_out is the fan-out
    /// divided by `poolArea`: for a convolution followed by 2×2 pooling, network3 counts
    /// filters·k²/4. (The book notes that 1/n_in was the better choice, and keeps 1/n_out; so do
    /// the networks that reproduce it.)
    public static func outputScaledNormal(poolArea: Int = 1) -> Initializer {
        Initializer { shape, _, fanOut, rng in
            Tensor(randomNormal: shape, standardDeviation: (Scalar(poolArea) / Scalar(fanOut)).squareRoot(), using: &rng)
        }
    }

    /// Glorot (Xavier) uniform: U(−a, a) with a = √(6 / (n_in + n_out)).
    public static var glorotUniform: Initializer {
        Initializer { shape, fanIn, fanOut, rng in
            let a = (6 / Scalar(fanIn + fanOut)).squareRoot()
            return Tensor(randomUniform: shape, in: -a...a, using: &rng)
        }
    }

    /// He normal: N(0, 2/n_in), for ReLU layers.
    public static var heNormal: Initializer {
        Initializer { shape, fanIn, _, rng in
            Tensor(randomNormal: shape, standardDeviation: (2 / Scalar(fanIn)).squareRoot(), using: &rng)
        }
    }

    /// N(0, gain²/n_in): PyTorch's `kaiming_normal_` (fan-in mode), which keeps a layer's outputs
    /// at the scale of its inputs through the nonlinearity that follows: a gain of 5/3 for tanh
    /// (makemore part 3's hidden layer), √2 for ReLU (``heNormal``).
    public static func kaimingNormal(gain: Scalar) -> Initializer {
        Initializer { shape, fanIn, _, rng in
            Tensor(randomNormal: shape, standardDeviation: gain / Scalar(fanIn).squareRoot(), using: &rng)
        }
    }

    /// All zeros.
    public static var zeros: Initializer {
        Initializer { shape, _, _, _ in Tensor(zeros: shape) }
    }

    /// All ones (a normalisation's gain).
    public static var ones: Initializer {
        Initializer { shape, _, _, _ in Tensor(ones: shape) }
    }

    /// U(−1/√n_in, 1/√n_in): PyTorch's default for `nn.Linear` (weights and biases), `nn.LSTM`
    /// and `nn.GRU` (where n_in is the hidden size).
    public static var pytorchUniform: Initializer {
        Initializer { shape, fanIn, _, rng in
            let a = 1 / Scalar(fanIn).squareRoot()
            return Tensor(randomUniform: shape, in: -a...a, using: &rng)
        }
    }
}
