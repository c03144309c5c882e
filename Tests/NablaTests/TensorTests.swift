import Nabla
import Testing

@Suite struct TensorTests {
    @Test func creationAndIndexing() {
        let t = Tensor<Float>([1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(t.shape == [2, 3] && t.rank == 2 && t.count == 6)
        #expect(t[1, 0] == 4 && t[0, 2] == 3)
        #expect(Tensor<Double>(zeros: [2, 2]).scalars == [0, 0, 0, 0])
        #expect(Tensor<Double>(ones: [3]).scalars == [1, 1, 1])
        #expect(Tensor<Float>(repeating: 7, shape: [2]).scalars == [7, 7])
        #expect(Tensor<Double>(2.5).shape == [] && Tensor<Double>(2.5).scalar == 2.5)
        #expect(Tensor<Float>(converting: Tensor<Double>([1.5, 2])).scalars == [1.5, 2])
    }

    @Test func valueSemantics() {
        var a = Tensor<Double>([1, 2, 3])
        let b = a
        a += Tensor([1, 1, 1])
        #expect(b.scalars == [1, 2, 3] && a.scalars == [2, 3, 4])
    }

    @Test func seededRandomIsReproducibleAndPlausible() {
        var r1 = SeededGenerator(seed: 7), r2 = SeededGenerator(seed: 7), r3 = SeededGenerator(seed: 8)
        let a = Tensor<Double>(randomNormal: [10_000], using: &r1)
        let b = Tensor<Double>(randomNormal: [10_000], using: &r2)
        let c = Tensor<Double>(randomNormal: [10_000], using: &r3)
        #expect(a == b && a != c)
        let mean = a.mean().scalar
        let variance = (a - mean).squared().mean().scalar
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
        var r4 = SeededGenerator(seed: 1)
        let u = Tensor<Float>(randomUniform: [10_000], in: -2...3, using: &r4)
        #expect(u.scalars.allSatisfy { $0 >= -2 && $0 <= 3 })
        #expect(abs(u.mean().scalar - 0.5) < 0.05)
        // The sequence itself is part of the contract: checkpoints and docs rely on it.
        var fixed = SeededGenerator(seed: 0)
        #expect(fixed.next() == 0x99EC_5F36_CB75_F2B4)
    }

    @Test func descriptionShowsShapeAndAbbreviates() {
        let small = Tensor<Double>([1, 2, 3, 4], shape: [2, 2])
        #expect(small.description == "Tensor<Double> [2, 2]\n[[1.0, 2.0],\n [3.0, 4.0]]")
        let big = Tensor<Float>((0..<100).map(Float.init), shape: [100])
        #expect(big.description == "Tensor<Float> [100]\n[0.0, 1.0, 2.0, ..., 97.0, 98.0, 99.0]")
    }

    @Test func shapeErrorsNameTheOpAndShapes() async throws {
        // The process stops, and standard error says which op and which shapes.
        let matmulError = try #require(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = matmul(Tensor<Float>(zeros: [10, 784]), Tensor<Float>(zeros: [30, 784]))
        })
        #expect(String(decoding: matmulError.standardErrorContent, as: UTF8.self)
            .contains("matmul: [10, 784] × [30, 784]: inner dimensions 784 and 30 differ"))
        let broadcastError = try #require(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor<Float>(zeros: [3, 4]) + Tensor<Float>(zeros: [3])
        })
        #expect(String(decoding: broadcastError.standardErrorContent, as: UTF8.self)
            .contains("+: shapes [3, 4] and [3] do not broadcast: dimension 1 is 4 against 3"))
        let fillError = try #require(await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor<Double>([1, 2, 3], shape: [2, 2])
        })
        #expect(String(decoding: fillError.standardErrorContent, as: UTF8.self)
            .contains("Tensor: 3 scalars do not fill shape [2, 2] (4 needed)"))
    }
}
