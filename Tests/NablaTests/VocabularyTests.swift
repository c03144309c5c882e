import Nabla
import Testing

/// The N-D vocabulary — batched products, permutes, masks, gathers — on numbers worked out by
/// hand, with NaN, and with the messages that misuse stops with. (PyTorch's numbers are in
/// ``VocabularyFixtureTests``; gradients in the op table.)
@Suite struct VocabularyTests {
    let m = Tensor<Double>([1, 2, 3, 4, 5, 6], shape: [2, 3])

    @Test func batchedProductsAreOneProductPerMatrix() {
        let a = Tensor<Double>([1, 0, 0, 1, 2, 0, 0, 2], shape: [2, 2, 2])   // I and 2I
        let b = Tensor<Double>([1, 2, 3, 4], shape: [2, 2])
        #expect(matmul(a, b).scalars == [1, 2, 3, 4, 2, 4, 6, 8])
        #expect(matmul(b, a).shape == [2, 2, 2])
        #expect(matmul(a, b, transposingB: true).scalars == [1, 3, 2, 4, 2, 6, 4, 8])
        // [2, 1, 2, 2] against [3, 2, 2]: a batch of 2 × 3 products.
        let c = matmul(a.reshaped(to: [2, 1, 2, 2]), Tensor(ones: [3, 2, 2]))
        #expect(c.shape == [2, 3, 2, 2] && c.sum().scalar == 3 * (4 + 8))
    }

    @Test func permutesMoveAxes() {
        #expect(m.transposed().scalars == [1, 4, 2, 5, 3, 6])
        let x = Tensor<Double>((0..<24).map(Double.init), shape: [2, 3, 4])
        let p = x.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3] && p[3, 1, 2] == x[1, 2, 3])
        #expect(x.transposed(0, -1).shape == [4, 3, 2] && x.transposed(0, -1)[3, 1, 0] == x[0, 1, 3])
        #expect(x.transposed()[1, 3, 2] == x[1, 2, 3])
        #expect(m.expandingShape(at: 1).shape == [2, 1, 3] && m.expandingShape(at: -1).shape == [2, 3, 1])
    }

    @Test func stackingSplittingAndChunking() {
        let s = Tensor(stacking: [m, m * 10], alongAxis: 1)
        #expect(s.shape == [2, 2, 3] && s.scalars == [1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60])
        let pieces = m.split(sizes: [1, 2], alongAxis: 1)
        #expect(pieces[0].scalars == [1, 4] && pieces[1].scalars == [2, 3, 5, 6])
        #expect(m.chunked(into: 3, alongAxis: -1).map(\.scalars) == [[1, 4], [2, 5], [3, 6]])
        #expect(Tensor(concatenating: m.chunked(into: 2), alongAxis: 0) == m)
    }

    @Test func masksAndWhere() {
        let limit = Tensor<Double>([2, 5, 3])
        #expect((m .> limit).scalars == [0, 0, 0, 1, 0, 1])
        #expect((m .<= 2).scalars == [1, 1, 0, 0, 0, 0])
        #expect((m .== limit).scalars == [0, 0, 1, 0, 1, 0] && (m .!= limit).scalars == [1, 1, 0, 1, 0, 1])
        #expect(Tensor.where(m .>= 3, m, Tensor(0)).scalars == [0, 0, 3, 4, 5, 6])
        #expect(maximum(m, limit).scalars == [2, 5, 3, 4, 5, 6] && minimum(m, limit).scalars == [1, 2, 3, 2, 5, 3])
        #expect(m.clamped(min: 2, max: 4.5).scalars == [2, 2, 3, 4, 4.5, 4.5])
        #expect(Tensor<Double>.causalMask(size: 3).scalars == [0, 1, 1, 0, 0, 1, 0, 0, 0])
        let scores = Tensor<Double>(zeros: [3, 3]).filled(where: .causalMask(size: 3), with: -.infinity)
        let third: Double = 1.0 / 3
        #expect(softmax(scores).scalars == [1, 0, 0, 0.5, 0.5, 0, third, third, third])
    }

    /// NaN propagates as PyTorch propagates it: through maximum, minimum and clamp whichever side
    /// holds it; comparisons with NaN are false (and `!=` true); `where` passes it on unchanged.
    @Test func notANumberInTheNewOps() {
        let x = Tensor<Double>([.nan, 1, 2])
        let y = Tensor<Double>([0, .nan, 1])
        #expect(maximum(x, y).scalars.prefix(2).allSatisfy(\.isNaN) && maximum(x, y).scalars[2] == 2)
        #expect(minimum(x, y).scalars.prefix(2).allSatisfy(\.isNaN) && minimum(x, y).scalars[2] == 1)
        #expect(x.clamped(min: 0, max: 1.5).scalars[0].isNaN && x.clamped(min: 0, max: 1.5).scalars[1...] == [1, 1.5])
        #expect((x .> y).scalars == [0, 0, 1] && (x .== x).scalars == [0, 1, 1] && (x .!= x).scalars == [1, 0, 0])
        #expect(Tensor.where(Tensor([1, 0, 1]), x, y).scalars[0].isNaN)
        // Float's variance of a slice with NaN is NaN, the other slice untouched.
        let v = Tensor<Float>([1, .nan, 3, 1, 2, 3], shape: [2, 3]).variance(alongAxis: 1).scalars
        #expect(v[0].isNaN && v[1] == Float(2) / 3)
    }

    @Test func gatheringByIndexTensors() {
        let table = Tensor<Double>([0, 1, 10, 11, 20, 21], shape: [3, 2])
        let ids = Tensor<Double>(indices: [2, 0, 2, 1], shape: [2, 2])
        let looked = table.gathering(ids)
        #expect(looked.shape == [2, 2, 2] && looked.scalars == [20, 21, 0, 1, 20, 21, 10, 11])
        #expect(m.gathering(Tensor(indices: [2, 2, 0], shape: [3]), alongAxis: 1).scalars == [3, 3, 1, 6, 6, 4])
        // The gradient adds up at repeated ids.
        let g = gradient(at: table) { ($0.gathering(ids) * 1).sum() }
        #expect(g.scalars == [1, 1, 1, 1, 2, 2])
        #expect(m.variance(alongAxis: 1).scalars == [2.0 / 3, 2.0 / 3])
        #expect(m.variance(alongAxes: [0, 1], correction: 1).scalar == 3.5)
        #expect(m.mean(alongAxes: [0, 1]).scalar == 3.5 && m.sum(alongAxes: [0], keepingDimensions: true).shape == [1, 3])
    }

    @Test func misuseStopsNamingTheValue() async throws {
        // An exit test's body captures nothing: each stop is written out.
        func expectMessage(_ result: ExitTest.Result?, _ message: String) {
            let printed = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
            #expect(printed.contains(message), "\(printed)")
        }
        expectMessage(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor<Float>(zeros: [3, 2]).gathering(Tensor([0, 3]))
        }, "gathering: index 3.0 (element 1) is not a whole number in 0..<3")
        expectMessage(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor<Float>(zeros: [3, 2]).gathering(IndexTensor([0, 1, -1]))
        }, "gathering: index -1 (element 2) is not in 0..<3")
        expectMessage(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = SoftmaxCrossEntropyLoss<Float>()(Tensor(zeros: [2, 4]), IndexTensor([1, 4]))
        }, "SoftmaxCrossEntropyLoss label: index 4 (element 1) is not in 0..<4")
        expectMessage(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = SoftmaxCrossEntropyLoss<Float>()(Tensor(zeros: [2, 4]), IndexTensor([1, 2, 3]))
        }, "SoftmaxCrossEntropyLoss: logits [2, 4] and labels [3] do not fit: the labels must be [2]")
        expectMessage(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = IndexTensor([1 << 40])
        }, "IndexTensor: 1099511627776 (element 0) does not fit in an Int32")
        expectMessage(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = IndexTensor(converting: Tensor<Float>([1, 2.5]))
        }, "IndexTensor(converting:): element 1, 2.5, is not a whole number that fits in an Int32")
        expectMessage(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor<Float>(zeros: [3, 2]).gathering(Tensor([0.5]))
        }, "gathering: index 0.5 (element 0) is not a whole number in 0..<3")
        expectMessage(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor<Float>(zeros: [2, 3]).permuted([0, 0])
        }, "permuted: [0, 0] is not a permutation of the 2 axes of shape [2, 3]")
        expectMessage(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = matmul(Tensor<Float>(zeros: [2, 2, 3]), Tensor<Float>(zeros: [3, 3, 4]))
        }, "matmul [2, 2, 3] × [3, 3, 4]: shapes [2] and [3] do not broadcast")
        expectMessage(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor<Float>(zeros: [2, 5]).chunked(into: 2, alongAxis: 1)
        }, "chunked: axis 1 of shape [2, 5] does not split into 2 equal pieces")
        expectMessage(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor<Float>(indices: [16_777_217], shape: [1])
        }, "Tensor(indices:): 16777217 is not exact as Float")
    }
}
