import Nabla
import Testing

/// Every differentiable op, gradient-checked in Double against central differences.
@Suite struct GradientTests {
    let a34 = random([3, 4], seed: 1)
    let b34 = random([3, 4], seed: 2)
    let b4 = random([4], seed: 3)
    let c31 = random([3, 1], seed: 4)
    let c14 = random([1, 4], seed: 5)
    let s = Tensor<Double>(1.7)
    let positive = random([3, 4], seed: 6).map { abs($0) + 0.5 }

    @Test(arguments: ["+", "-", "*", "/"])
    func arithmeticWithBroadcasting(op: String) {
        let f: (Tensor<Double>, Tensor<Double>) -> Tensor<Double> = switch op {
        case "+": { $0 + $1 }
        case "-": { $0 - $1 }
        case "*": { $0 * $1 }
        default: { $0 / $1 }
        }
        // Non-scalar output: the checker compares the whole Jacobian.
        expectGradientsCorrect(at: [a34, positive]) { f($0[0], $0[1]) }
        expectGradientsCorrect(at: [a34, b4.map { abs($0) + 0.5 }]) { f($0[0], $0[1]) }
        expectGradientsCorrect(at: [c31.map { abs($0) + 0.5 }, c14.map { abs($0) + 0.5 }]) { f($0[0], $0[1]) }
        expectGradientsCorrect(at: [a34, s]) { f($0[0], $0[1]) }
        expectGradientsCorrect(at: [s, positive]) { f($0[0], $0[1]) }
    }

    @Test func negationAndScalarOperands() {
        expectGradientsCorrect(at: [a34]) { -$0[0] }
        expectGradientsCorrect(at: [positive]) { (2 - $0[0] * 3 + 1) / 4 + 5 / $0[0] }
    }

    @Test func fanOut() {
        expectGradientsCorrect(at: [a34]) { $0[0] * $0[0] }
        expectGradientsCorrect(at: [a34, b4]) { x in
            let y = x[0] + x[1]
            return (y * y + sigmoid(y) * x[0]).sum()
        }
    }

    @Test func broadcastAndItsInverse() {
        expectGradientsCorrect(at: [c31]) { $0[0].broadcast(to: [2, 3, 4]) }
        expectGradientsCorrect(at: [a34]) { $0[0].sum(toShape: [4]) }
        expectGradientsCorrect(at: [a34]) { $0[0].sum(toShape: [3, 1]) }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matrixProduct(transposingA: Bool, transposingB: Bool) {
        let a = random(transposingA ? [4, 3] : [3, 4], seed: 10)
        let b = random(transposingB ? [5, 4] : [4, 5], seed: 11)
        expectGradientsCorrect(at: [a, b]) {
            matmul($0[0], $0[1], transposingA: transposingA, transposingB: transposingB)
        }
    }

    @Test func affine() {
        expectGradientsCorrect(at: [random([5, 4], seed: 13), random([3, 4], seed: 14), random([3], seed: 15)]) {
            Tensor.affine($0[0], weight: $0[1], bias: $0[2])
        }
        // It is exactly matmul then add.
        let (x, w, b) = (random([5, 4], seed: 13), random([3, 4], seed: 14), random([3], seed: 15))
        expectClose(Tensor.affine(x, weight: w, bias: b).scalars, (matmul(x, w, transposingB: true) + b).scalars, tolerance: 1e-12)
    }

    @Test func reductionsAlongEveryAxis() {
        let cube = random([2, 3, 4], seed: 12)
        expectGradientsCorrect(at: [cube]) { $0[0].sum() }
        expectGradientsCorrect(at: [cube]) { $0[0].mean() }
        for axis in [0, 1, 2, -1] {
            for keep in [false, true] {
                expectGradientsCorrect(at: [cube]) { $0[0].sum(alongAxis: axis, keepingDimension: keep) }
                expectGradientsCorrect(at: [cube]) { $0[0].mean(alongAxis: axis, keepingDimension: keep) }
                expectGradientsCorrect(at: [cube]) { $0[0].max(alongAxis: axis, keepingDimension: keep) }
            }
        }
    }

    @Test func elementaryFunctions() {
        expectGradientsCorrect(at: [a34]) { exp($0[0]) }
        expectGradientsCorrect(at: [positive]) { log($0[0]) }
        expectGradientsCorrect(at: [positive]) { sqrt($0[0]) }
        expectGradientsCorrect(at: [a34]) { $0[0].squared() }
        expectGradientsCorrect(at: [positive]) { pow($0[0], 2.5) }
        expectGradientsCorrect(at: [positive]) { pow($0[0], -1.5) }
    }

    @Test func activations() {
        expectGradientsCorrect(at: [a34 * 3]) { sigmoid($0[0]) }
        expectGradientsCorrect(at: [a34]) { tanh($0[0]) }
        // Keep every element away from relu's kink at 0, where the derivative does not exist.
        let awayFromZero = a34.map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 }
        expectGradientsCorrect(at: [awayFromZero]) { relu($0[0]) }
    }

    @Test func reluGradientAtZeroInfinityAndNaN() {
        // Long enough for the vector loop and its tail: inactive and at-zero units pass nothing,
        // a NaN input passes NaN whatever its gradient, an active unit passes its gradient, NaN too.
        let x: [Float] = Array(repeating: [2, -1, 0, .nan, .infinity, -.infinity, 3], count: 5).flatMap { $0 }
        let g: [Float] = Array(repeating: [1, 1, 1, 5, .nan, 7, .nan], count: 5).flatMap { $0 }
        let (_, pullback) = valueWithPullback(at: [Tensor(x)]) { relu($0[0]) }
        let dx = pullback(Tensor(g))[0].scalars
        for (i, (input, up)) in zip(x, g).enumerated() {
            if input > 0 {
                #expect(dx[i] == up || (dx[i].isNaN && up.isNaN), "element \(i)")
            } else if input.isNaN {
                #expect(dx[i].isNaN, "element \(i)")
            } else {
                #expect(dx[i] == 0 && dx[i].sign == .plus, "element \(i)")
            }
        }
    }

    @Test func softmaxAtOrdinaryAndLargeInputs() {
        for x in [a34, a34 * 10 + 1000, a34 - 1000] {
            expectGradientsCorrect(at: [x]) { softmax($0[0]) }
            expectGradientsCorrect(at: [x]) { logSoftmax($0[0]) }
            expectGradientsCorrect(at: [x]) { softmax($0[0], alongAxis: 0) }
            expectGradientsCorrect(at: [x]) { logSoftmax($0[0], alongAxis: 0) }
        }
    }

    @Test func shaping() {
        expectGradientsCorrect(at: [a34]) { $0[0].reshaped(to: [2, 6]) }
        expectGradientsCorrect(at: [a34]) { $0[0].transposed() }
        expectGradientsCorrect(at: [a34]) { $0[0].rows(1..<3) }
        expectGradientsCorrect(at: [a34]) { $0[0].gathering(rows: [2, 0, 2]) }
        expectGradientsCorrect(at: [a34, b34]) { Tensor(concatenating: [$0[0], $0[1]], alongAxis: 0) }
        expectGradientsCorrect(at: [a34, c31]) { Tensor(concatenating: [$0[0], $0[1], $0[0]], alongAxis: 1) }
    }

    @Test func directionalModeForLargeInputs() {
        let x = random([64, 100], seed: 20), w = random([100, 30], seed: 21, scale: 0.1)
        let report = checkGradients(at: [x, w], directions: 5) { t in sigmoid(matmul(t[0], t[1])).sum() }
        #expect(report.passed, "\(report)")
        #expect(report.comparisons == 5)
    }
}
