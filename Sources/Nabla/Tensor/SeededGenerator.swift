import RealModule

/// A small, fast, seedable random number generator: xoshiro256** seeded through SplitMix64.
///
/// The standard library's `SystemRandomNumberGenerator` cannot be seeded, so every random
/// number in Nabla (initial weights, shuffles, gradient-check directions) comes from one of
/// these, passed explicitly. The same seed gives the same sequence on every run and machine:
/// the algorithm is fixed integer arithmetic, and ``nextNormal()`` uses only `log`, `sqrt`,
/// `cos` and `sin` in Double.
///
/// ```swift
/// var rng = SeededGenerator(seed: 42)
/// let w = Tensor<Float>(randomNormal: [784, 30], using: &rng)
/// ```
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)
    private var spareNormal: Double?

    /// Creates a generator whose whole future sequence is determined by `seed`.
    public init(seed: UInt64) {
        // SplitMix64 spreads any seed (0 included) over the 256-bit state: its outputs for seed,
        // seed + γ, seed + 2γ, … (splitMix64 adds γ first).
        var s = seed
        func splitMix() -> UInt64 {
            defer { s &+= 0x9E37_79B9_7F4A_7C15 }
            return splitMix64(s)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// The next 64 random bits (xoshiro256**).
    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    /// A uniform Double in [0, 1), with 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A standard normal sample (mean 0, variance 1), by the Box–Muller transform.
    public mutating func nextNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let radius = (-2 * Double.log(1 - nextUniform())).squareRoot()
        let angle = 2 * Double.pi * nextUniform()
        spareNormal = radius * Double.sin(angle)
        return radius * Double.cos(angle)
    }

    /// A uniformly random integer in `0..<upperBound`, without modulo bias.
    public mutating func nextInt(below upperBound: Int) -> Int {
        precondition(upperBound > 0, "nextInt(below:): upper bound \(upperBound) must be positive")
        return Int(next(upperBound: UInt64(upperBound)))
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

extension SeededGenerator {
    /// `0..<count` in a random order (Fisher–Yates), fixed by the generator's state: the same
    /// seed shuffles the same way on every platform and Swift version.
    public mutating func permutation(of count: Int) -> [Int] {
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, nextInt(below: i + 1))
        }
        return order
    }
}

/// SplitMix64's output function (seeding, and dropout's counter-based masks): a bijection of 64-bit words whose outputs for consecutive
/// inputs pass statistical tests of randomness.
@inline(__always)
func splitMix64(_ value: UInt64) -> UInt64 {
    var z = value &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
