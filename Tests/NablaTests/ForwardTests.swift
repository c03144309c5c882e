import Nabla
import Testing

/// Forward values of every op, against numbers worked out by hand.
@Suite struct ForwardTests {
    let m = Tensor<Double>([1, 2, 3, 4, 5, 6], shape: [2, 3])

    @Test func arithmeticAndBroadcasting() {
        #expect((m + Tensor([10, 20, 30])).scalars == [11, 22, 33, 14, 25, 36])
        #expect((m - Tensor([1, 2], shape: [2, 1])).scalars == [0, 1, 2, 2, 3, 4])
        #expect((m * 2).scalars == [2, 4, 6, 8, 10, 12])
        #expect((12 / m).scalars == [12, 6, 4, 3, 2.4, 2])
        #expect((-m).scalars == [-1, -2, -3, -4, -5, -6])
        let outer = Tensor<Double>([1, 2, 3], shape: [3, 1]) * Tensor([1, 10], shape: [1, 2])
        #expect(outer.shape == [3, 2] && outer.scalars == [1, 10, 2, 20, 3, 30])
        #expect(Tensor<Double>([1, 2], shape: [2, 1, 1]).broadcast(to: [2, 2, 2]).scalars == [1, 1, 1, 1, 2, 2, 2, 2])
        #expect(m.sum(toShape: [3]).scalars == [5, 7, 9])
        #expect(m.sum(toShape: [2, 1]).scalars == [6, 15])
    }

    /// NaN goes through every element-wise op as IEEE arithmetic says, on the vectorised path (a
    /// Float tensor of 8 or more) and the others alike; a maximum or an argmax with NaN in its
    /// slice is NaN, or the NaN's index, as in NumPy and PyTorch.
    @Test func notANumberPropagates() {
        let nan = Float.nan
        let floats = Tensor<Float>([nan, 1, -2, 3, nan, 0.5, -0.5, 2, nan, 7], shape: [10])
        for (name, op) in [("sigmoid", sigmoid), ("tanh", tanh), ("relu", relu), ("exp", exp)] as [(String, (Tensor<Float>) -> Tensor<Float>)] {
            let y = op(floats).scalars
            #expect([0, 4, 8].allSatisfy { y[$0].isNaN }, "\(name): \(y)")
            #expect(y.indices.filter { ![0, 4, 8].contains($0) }.allSatisfy { !y[$0].isNaN }, "\(name): \(y)")
        }
        #expect(sigmoid(Tensor<Double>([.nan, 1])).scalars[0].isNaN)
        // ±∞ give exactly 0 and 1, on the vectorised path (8 or more floats) as on the others.
        let infinities = Tensor<Float>([-.infinity, .infinity, -100, 100, -.infinity, -89, 89, 0], shape: [8])
        #expect(sigmoid(infinities).scalars == [0, 1, 0, 1, 0, 0, 1, 0.5])
        #expect(sigmoid(Tensor<Double>([-.infinity, .infinity])).scalars == [0, 1])
        // Softmax: a NaN, or a row that is all −∞, makes its row NaN and leaves the others, on
        // the vectorised path (rows of 20 floats) and Double's alike.
        for rows in [Tensor<Float>(converting: softmaxRows()), nil] as [Tensor<Float>?] {
            let y = rows.map { softmax($0).scalars.map(Double.init) } ?? softmax(softmaxRows()).scalars
            #expect(y[0..<40].allSatisfy(\.isNaN) && y[40..<60].allSatisfy { $0 > 0 && $0 < 1 }, "\(y)")
            #expect(abs(y[40..<60].reduce(0, +) - 1) < 1e-6 && y[60..<80].allSatisfy { $0 == 0.05 || abs($0 - 0.05) < 1e-7 })
        }
        let withNaN = Tensor<Double>([0.1, .nan, 0.5, 0.3, 0.2, 0.9], shape: [2, 3])
        #expect(withNaN.argmax(alongAxis: 1) == [1, 2])
        let maxima = withNaN.max(alongAxis: 1).scalars
        #expect(maxima[0].isNaN && maxima[1] == 0.9)
    }

    /// The fused scaled causal softmax gives the composite's weights — scale, fill with −∞,
    /// softmax — on the vectorised path (rows of 20 floats) and Double's, a NaN under the mask
    /// ignored as the fill ignores it.
    @Test func aCausalSoftmaxIsTheMaskedComposite() {
        var values = random([2, 3, 20, 20], seed: 5).scalars
        values[5] = .nan   // row 0, column 5: masked for query 0
        let x = Tensor(values, shape: [2, 3, 20, 20])
        let composite = softmax((x * 0.35).filled(where: .causalMask(size: 20), with: -.infinity))
        let fused = softmax(x, scaledBy: 0.35, causal: true)
        expectClose(fused.scalars, composite.scalars, tolerance: 1e-15)
        let fusedFloat = softmax(Tensor<Float>(converting: x), scaledBy: 0.35, causal: true)
        expectClose(Tensor<Double>(converting: fusedFloat).scalars, composite.scalars, tolerance: 3e-7)
        #expect(fused.scalars[0] == 1 && fused.scalars[1..<20].allSatisfy { $0 == 0 })
    }

    /// Four rows of 20: one with a NaN in its middle, one all −∞, one ordinary, one all +5 (equal
    /// weights).
    func softmaxRows() -> Tensor<Double> {
        var values = (0..<80).map { Double($0 % 20) * 0.3 - 2 }
        values[7] = .nan
        for j in 20..<40 { values[j] = -.infinity }
        for j in 60..<80 { values[j] = 5 }
        return Tensor(values, shape: [4, 20])
    }

    @Test func matrixProducts() {
        let b = Tensor<Double>([1, 0, 2, 1, 0, 3], shape: [3, 2])
        // [[1,2,3],[4,5,6]] · [[1,0],[2,1],[0,3]] = [[5, 11], [14, 23]]
        #expect(matmul(m, b).scalars == [5, 11, 14, 23])
        #expect(matmul(m.transposed(), b.transposed(), transposingA: true, transposingB: true).scalars == [5, 11, 14, 23])
        #expect(matmul(m, m, transposingB: true).scalars == [14, 32, 32, 77])
        #expect(matmul(m, m, transposingA: true).shape == [3, 3])
        #expect(matmul(m, m, transposingA: true).scalars == [17, 22, 27, 22, 29, 36, 27, 36, 45])
        #expect(m.transposed().scalars == [1, 4, 2, 5, 3, 6])
        // [[1,2,3],[4,5,6]] · [[1,0,2],[1,0,3]]ᵀ + [10, 20] = [[7, 11], [16, 22]] + bias
        #expect(Tensor.affine(m, weight: Tensor([1, 0, 2, 1, 0, 3], shape: [2, 3]), bias: Tensor([10, 20])).scalars == [17, 30, 26, 42])
    }

    @Test func reductions() {
        #expect(m.sum().scalar == 21 && m.mean().scalar == 3.5)
        // Every count of leftover elements past the sum's four interleaved lanes.
        for n in 1...9 {
            #expect(Tensor<Double>((1...n).map(Double.init)).sum().scalar == Double(n * (n + 1) / 2), "n = \(n)")
        }
        #expect(m.sum(alongAxis: 0).scalars == [5, 7, 9])
        #expect(m.sum(alongAxis: 1).scalars == [6, 15])
        #expect(m.sum(alongAxis: -1, keepingDimension: true).shape == [2, 1])
        #expect(m.mean(alongAxis: 0).scalars == [2.5, 3.5, 4.5])
        let n = Tensor<Double>([3, 9, 1, 7, 2, 8], shape: [2, 3])
        #expect(n.max(alongAxis: 1).scalars == [9, 8] && n.max(alongAxis: 0).scalars == [7, 9, 8])
        #expect(n.argmax(alongAxis: 1) == [1, 2] && n.argmax(alongAxis: 0) == [1, 0, 1])
        // Ties go to the first; a later, smaller value after a larger one does not win.
        let ties = Tensor<Double>([5, 9, 9, 1, 4, 4, 2, 4], shape: [2, 4])
        #expect(ties.argmax(alongAxis: 1) == [1, 0] && ties.argmax(alongAxis: 0) == [0, 0, 0, 1])
        let cube = Tensor<Double>((0..<24).map(Double.init), shape: [2, 3, 4])
        #expect(cube.sum(alongAxis: 1).scalars == [12, 15, 18, 21, 48, 51, 54, 57])
    }

    @Test func elementaryFunctions() {
        let x = Tensor<Double>([1, 4, 9])
        expectClose(exp(Tensor<Double>([0, 1])).scalars, [1, 2.718281828459045])
        expectClose(log(Tensor<Double>([1, 2.718281828459045])).scalars, [0, 1])
        #expect(sqrt(x).scalars == [1, 2, 3])
        #expect(x.squared().scalars == [1, 16, 81])
        #expect(pow(x, 0.5).scalars == [1, 2, 3])
    }

    @Test func activations() {
        let x = Tensor<Double>([-1000, -1, 0, 1, 1000])
        expectClose(sigmoid(x).scalars, [0, 0.2689414213699951, 0.5, 0.7310585786300049, 1])
        expectClose(tanh(Tensor<Double>([0, 1])).scalars, [0, 0.7615941559557649])
        #expect(relu(x).scalars == [0, 0, 0, 1, 1000])
        // softmax([1, 2, 3]) = e^(x-3) / Σ: [0.09003057, 0.24472847, 0.66524096]
        let s = softmax(Tensor<Double>([1, 2, 3, 1001, 1002, 1003], shape: [2, 3]))
        expectClose(s.scalars, [0.09003057317038046, 0.24472847105479764, 0.6652409557748219,
                                0.09003057317038046, 0.24472847105479764, 0.6652409557748219])
        let ls = logSoftmax(Tensor<Float>([1000, 0]))
        #expect(ls.scalars == [0, -1000])  // the naive log(softmax) gives -inf here
        let column = softmax(Tensor<Double>([0, 0, 0, 0], shape: [2, 2]), alongAxis: 0)
        #expect(column.scalars == [0.5, 0.5, 0.5, 0.5])
    }

    @Test func shaping() {
        #expect(m.reshaped(to: [3, -1]).shape == [3, 2])
        #expect(m.rows(1..<2).scalars == [4, 5, 6])
        #expect(m.gathering(rows: [1, 0, 1]).scalars == [4, 5, 6, 1, 2, 3, 4, 5, 6])
        let joined0 = Tensor(concatenating: [m, Tensor([7, 8, 9], shape: [1, 3])])
        #expect(joined0.shape == [3, 3] && joined0.scalars.last == 9)
        let joined1 = Tensor(concatenating: [m, Tensor([0, 0], shape: [2, 1])], alongAxis: 1)
        #expect(joined1.scalars == [1, 2, 3, 0, 4, 5, 6, 0])
    }

    @Test func counting() {
        #expect(Tensor<Float>([1, 2, 3]).countEqual(Tensor([1, 0, 3])) == 2)
        let outputs = Tensor<Float>([0.1, 0.9, 0.8, 0.2, 0.3, 0.7], shape: [3, 2])
        #expect(outputs.argmax(alongAxis: 1).countEqual([1, 0, 0]) == 2)
    }
}
