import CAllocationCounter
import Nabla
import Testing

/// Gradients of gradients: Hessian-vector products against explicit Hessians, and a WGAN-GP
/// gradient penalty checked and trained. (Every op's double backward is in the op table.)
@Suite struct HigherOrderTests {
    /// H·v for f(x) = Σx³ + (Σx)², whose Hessian is diag(6x) + 2·11ᵀ.
    @Test func hessianVectorProductOfAPolynomial() {
        let (x, v) = (Tensor<Double>([0.5, -1, 2, 0.25, -0.75]), Tensor<Double>([1, 2, -1, 0.5, 3]))
        let f = { (x: Tensor<Double>) in pow(x, 3).sum() + x.sum().squared() }
        let hv = gradient(at: x) { x in (gradient(at: x, creatingGraph: true, in: f) * v).sum() }
        let expected = zip(x.scalars, v.scalars).map { 6 * $0 * $1 + 2 * v.scalars.reduce(0, +) }
        expectClose(hv.scalars, expected, tolerance: 1e-12)
    }

    /// H·v for f(x) = Σ (x·A) ⊙ x = xᵀAx, whose Hessian is A + Aᵀ, through a matrix product.
    @Test func hessianVectorProductOfAQuadraticForm() {
        let (a, x, v) = (random([4, 4], seed: 1), random([1, 4], seed: 2), random([1, 4], seed: 3))
        let hv = gradient(at: x) { x in
            (gradient(at: x, creatingGraph: true) { (matmul($0, a) * $0).sum() } * v).sum()
        }
        let expected = matmul(v, a + a.transposed(), transposingB: true)   // (A + Aᵀ)·v as a row
        expectClose(hv.scalars, expected.scalars, tolerance: 1e-12)
    }

    /// The full Hessian of a small network's loss in its input, column by column, is symmetric
    /// and matches finite differences of the gradient.
    @Test func secondDerivativesOfANetworkMatchFiniteDifferences() {
        let (w1, b1, w2) = (random([5, 3], seed: 4), random([5], seed: 5), random([1, 5], seed: 6))
        let f = { (t: [Tensor<Double>]) in
            (Tensor.affine(sigmoid(Tensor.affine(t[0], weight: t[1], bias: t[2])), weight: t[3], bias: Tensor([0.1])) ).squared().sum()
        }
        let report = checkSecondOrderGradients(at: [random([2, 3], seed: 7), w1, b1, w2], of: f)
        #expect(report.passed, "\(report)")
        let x = random([1, 3], seed: 8)
        let hessian = (0..<3).map { j -> [Double] in
            let e = Tensor<Double>((0..<3).map { $0 == j ? 1 : 0 }, shape: [1, 3])
            return gradient(at: x) { x in (gradient(at: x, creatingGraph: true) { f([$0, w1, b1, w2]) } * e).sum() }.scalars
        }
        for i in 0..<3 {
            for j in 0..<3 {
                let asymmetry: Double = Swift.abs(hessian[i][j] - hessian[j][i])
                #expect(asymmetry < 1e-12)
            }
        }
    }

    /// The critic's WGAN-GP loss: E[D(fake)] − E[D(real)] + λ·E[(‖∇ₓD(x̂)‖ − 1)²] at points x̂
    /// between real and fake samples.
    static func criticLoss(_ d: (Tensor<Double>) -> Tensor<Double>, _ t: [Tensor<Double>]) -> Tensor<Double> {
        let (real, fake, mix) = (t[0], t[1], t[2])
        let between = mix * real + (1 - mix) * fake
        let slope = gradient(at: between, creatingGraph: true) { d($0).sum() }
        let norms = sqrt(slope.squared().sum(alongAxis: 1))
        return d(fake).mean() - d(real).mean() + 10 * (norms - 1).squared().mean()
    }

    static func samples(_ seed: UInt64) -> [Tensor<Double>] {
        [random([6, 2], seed: seed) * 0.5 + 1, random([6, 2], seed: seed + 1) * 0.5 - 1,
         abs(random([6, 1], seed: seed + 2)).clamped(max: 1)]
    }

    /// The penalty's gradient with respect to the critic's weights — a derivative of a gradient —
    /// against finite differences.
    @Test func gradientPenaltyGradientMatchesFiniteDifferences() {
        let data = Self.samples(10)
        let report = checkGradients(at: [random([4, 2], seed: 11), random([4], seed: 12), random([1, 4], seed: 13)]) { w in
            Self.criticLoss({ matmul(tanh(Tensor.affine($0, weight: w[0], bias: w[1])), w[2], transposingB: true) }, data)
        }
        #expect(report.passed, "\(report)")
    }

    /// A critic trained with the penalty for a few Adam steps: replayed as the eager steps to
    /// the bit, with no allocation once replaying, and its loss falling.
    @Test func aCriticTrainsWithTheGradientPenalty() {
        let make = { () -> Sequential<Double> in
            var rng = SeededGenerator(seed: 14)
            return Sequential {
                Dense(inputSize: 2, outputSize: 8, weightInitializer: .scaledNormal, using: &rng)
                Tanh()
                Dense(inputSize: 8, outputSize: 1, weightInitializer: .scaledNormal, using: &rng)
            }
        }
        let traced = make()
        var eager = make()
        let stepper = TracedGradient(of: traced) { critic, t in Self.criticLoss(critic.callAsFunction, t) }
        var (adam1, adam2) = (Adam<Double>(learningRate: 0.01), Adam<Double>(learningRate: 0.01))
        var batch = Self.samples(20)
        var losses: [Double] = []
        for step in 0..<30 {
            batch[2] = abs(random([6, 1], seed: UInt64(100 + step))).clamped(max: 1)
            let before = nabla_thread_allocation_count()
            let value = stepper.step(batch, optimizer: &adam1)
            if step == 29 && isOptimizedBuild { #expect(nabla_thread_allocation_count() == before, "a replayed step allocated") }
            let (reference, gradients) = valueWithGradient(at: eager) { Self.criticLoss($0.callAsFunction, batch) }
            adam2.update(&eager, along: gradients)
            #expect(value == reference, "step \(step)")
            losses.append(value.scalar)
        }
        #expect(stepper.eagerReason == nil, "\(stepper.eagerReason ?? "")")
        let (first, last): (Double, Double) = (losses.prefix(5).reduce(0, +), losses.suffix(5).reduce(0, +))
        #expect(last < first - 1, "\(losses)")
    }
}
