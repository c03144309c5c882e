import Nabla
import Testing

@Suite struct AutodiffTests {
    @Test func gradientOfASimpleFunction() {
        let x = Tensor<Double>([1, 2, 3])
        let (value, grad) = valueWithGradient(at: x) { x in (x * x).sum() }
        #expect(value.scalar == 14 && grad.scalars == [2, 4, 6])
    }

    @Test func selfProductCountsBothUses() {
        let x = Tensor<Float>([3])
        #expect(gradient(at: x) { x in (x * x * x).sum() }.scalars == [27])
    }

    @Test func broadcastGradientsSumToEachInputShape() {
        let x = Tensor<Double>(ones: [3, 4]), b = Tensor<Double>(ones: [4])
        let (gx, gb) = gradient(at: x, b) { x, b in (x + b).sum() }
        #expect(gx.shape == [3, 4] && gb.shape == [4] && gb.scalars == [3, 3, 3, 3])
    }

    @Test func constantsGetNoGradientAndDoNotBreakTheGraph() {
        let c = Tensor<Double>([10, 20])
        let grad = gradient(at: Tensor<Double>([1, 2])) { x in (x * c + c).sum() }
        #expect(grad.scalars == [10, 20])
    }

    @Test func inputsThatDoNotReachTheOutputGetZeros() {
        let (gx, gy) = gradient(at: Tensor<Double>([1, 2]), Tensor<Double>(ones: [2, 2])) { x, _ in x.sum() }
        #expect(gx.scalars == [1, 1] && gy.scalars == [0, 0, 0, 0])
        let g = gradient(at: Tensor<Double>([5])) { _ in Tensor(3) }
        #expect(g.scalars == [0])
    }

    @Test func detachStopsGradients() {
        let g = gradient(at: Tensor<Double>([2])) { x in (x * x.detached).sum() }
        #expect(g.scalars == [2])
    }

    @Test func nonScalarOutputNeedsAnExplicitUpstreamGradient() async {
        let x = Tensor<Double>([1, 2, 3])
        let (value, pullback) = valueWithPullback(at: [x]) { x in x[0] * 2 }
        #expect(value.scalars == [2, 4, 6])
        #expect(pullback(Tensor([1, 0, -1]))[0].scalars == [2, 0, -2])
        await #expect(processExitsWith: .failure) {
            _ = gradient(at: Tensor<Double>([1, 2, 3])) { $0 * 2 }
        }
    }

    @Test func pullbackCanRunRepeatedly() {
        let (_, pullback) = valueWithPullback(at: [Tensor<Double>([1, 2])]) { x in sigmoid(x[0]).sum() }
        #expect(pullback(Tensor(1)) == pullback(Tensor(1)))
        #expect(pullback(Tensor(2))[0] == pullback(Tensor(1))[0] * 2)
    }

    @Test func untrackedEvaluationRecordsNothing() {
        let x = Tensor<Float>([1, 2])
        #expect(!(x * x).isTracked)
        var escaped: Tensor<Float>?
        _ = gradient(at: x) { x in
            #expect(x.isTracked)
            escaped = x * 2
            return escaped!.sum()
        }
        #expect(escaped.map { !$0.isTracked } == true)  // the scope ended: now a constant
    }

    @Test func longChainRunsBackwardWithoutOverflowingTheStack() {
        let grad = gradient(at: Tensor<Float>([1])) { x in
            var y = x
            for _ in 0..<100_000 { y = y + 1 }
            return y.sum()
        }
        #expect(grad.scalars == [1])
    }

    @Test func floatAndDoubleAgree() {
        let xd = random([4, 5], seed: 3), wd = random([5, 3], seed: 4)
        let f: ([Tensor<Double>]) -> Tensor<Double> = { t in logSoftmax(tanh(matmul(t[0], t[1]))).sum() }
        let gd = valueWithGradient(at: [xd, wd], in: f).gradients
        let gf = valueWithGradient(at: [Tensor<Float>(converting: xd), Tensor<Float>(converting: wd)]) { t in
            logSoftmax(tanh(matmul(t[0], t[1]))).sum()
        }.gradients
        for (d, f) in zip(gd, gf) { expectClose(f.scalars, d.scalars.map(Float.init), tolerance: 1e-5) }
    }
}
