import Foundation
import Nabla
import Testing

/// Convolution, pooling and the chapter-6 layers: values worked out by hand, and PyTorch's.
@Suite struct ConvolutionTests {
    /// x = 1…9 as a 3×3 image, w = [[1, 2], [3, 4]]: each output is w·(the 2×2 patch) + 0.5.
    @Test func aConvolutionWorkedByHand() {
        let x = Tensor<Double>((1...9).map(Double.init), shape: [1, 1, 3, 3])
        let w = Tensor<Double>([1, 2, 3, 4], shape: [1, 1, 2, 2])
        let y = conv2d(x, weight: w, bias: Tensor([0.5]))
        #expect(y.shape == [1, 1, 2, 2])
        // 1·1 + 2·2 + 3·4 + 4·5 = 37;  2 + 6 + 15 + 24 = 47;  4 + 10 + 21 + 32 = 67;  5 + 12 + 24 + 36 = 77.
        #expect(y.scalars == [37.5, 47.5, 67.5, 77.5])
        // Padding 1, stride 2: windows with corners at (−1, −1), (−1, 1), (1, −1), (1, 1). The first
        // meets only x[0, 0] = 1, under w[1, 1] = 4; the second x[0, 1], x[0, 2] under w[1, 0], w[1, 1]:
        // 3·2 + 4·3 = 18; the third x[1, 0], x[2, 0] under w[0, 1], w[1, 1]: 2·4 + 4·7 = 36.
        #expect(conv2d(x, weight: w, stride: 2, padding: 1).scalars == [4, 18, 36, 77])
    }

    /// The gradients of that convolution, worked by hand: ∂/∂w of Σy is the sum of the patches,
    /// ∂/∂x counts how many windows cover each pixel, weighted by the kernel.
    @Test func aConvolutionsGradientsWorkedByHand() {
        let x = Tensor<Double>((1...9).map(Double.init), shape: [1, 1, 3, 3])
        let w = Tensor<Double>([1, 2, 3, 4], shape: [1, 1, 2, 2])
        let (_, g) = valueWithGradient(at: [x, w, Tensor([0.5])]) { conv2d($0[0], weight: $0[1], bias: $0[2]).sum() }
        // w[0,0] meets 1, 2, 4, 5; w[0,1] 2, 3, 5, 6; w[1,0] 4, 5, 7, 8; w[1,1] 5, 6, 8, 9.
        #expect(g[1].scalars == [12, 16, 24, 28])
        #expect(g[0].scalars == [1, 3, 2, 4, 10, 6, 3, 7, 4])
        #expect(g[2].scalars == [4])
    }

    @Test func maxPoolingWorkedByHandWithTiesAndNaN() {
        let x = Tensor<Double>([1, 1, 5, 2,
                                1, 1, 2, 0,
                                -3, 7, .nan, 9,
                                7, 2, 1, 8], shape: [1, 1, 4, 4])
        let y = maxPool2d(x, kernelSize: 2)
        #expect(y.shape == [1, 1, 2, 2])
        let values = y.scalars
        #expect(values[0] == 1 && values[1] == 5 && values[2] == 7 && values[3].isNaN)
        let (_, g) = valueWithGradient(at: [x]) { (maxPool2d($0[0], kernelSize: 2) * Tensor([1, 2, 3, 4], shape: [1, 1, 2, 2])).sum() }
        // A tie goes to the first of the window (row-major); NaN wins its window, as in PyTorch.
        #expect(g[0].scalars == [1, 0, 2, 0,
                                 0, 0, 0, 0,
                                 0, 3, 4, 0,
                                 0, 0, 0, 0])
    }

    /// A kernel or window that exactly fits the (padded) image gives one output position.
    @Test func windowsThatJustFitAreAccepted() {
        let x = Tensor<Double>(zeros: [2, 3, 8, 8])
        #expect(conv2d(x, weight: Tensor(zeros: [4, 3, 8, 8])).shape == [2, 4, 1, 1])
        #expect(conv2d(x, weight: Tensor(zeros: [4, 3, 9, 9]), padding: 1).shape == [2, 4, 2, 2])
        #expect(maxPool2d(x, kernelSize: 3).shape == [2, 3, 2, 2])
        #expect(maxPool2d(x, kernelSize: 8, stride: 1).shape == [2, 3, 1, 1])
    }

    @Test(arguments: torchFixtures.cases)
    func matchesPyTorch(_ fixture: TorchFixture) {
        let inputs = fixture.inputNames.map { fixture.inputs[$0]!.tensor }
        let apply = { (t: [Tensor<Double>]) in fixture.apply(t) }
        let differentiated = fixture.inputNames.filter { fixture.gradients[$0] != nil }
        let (output, pullback) = valueWithPullback(at: inputs, in: apply)
        #expect(output.shape == fixture.output.shape)
        expectClose(output.scalars, fixture.output.values, tolerance: 1e-12)
        let gradients = pullback(Tensor(fixture.upstream, shape: output.shape))
        for (index, name) in fixture.inputNames.enumerated() where differentiated.contains(name) {
            expectClose(gradients[index].scalars, fixture.gradients[name]!, tolerance: 1e-12)
        }
        // Float agrees too, within its precision.
        let floatOutput = fixture.apply(inputs.map { Tensor<Float>(converting: $0) })
        expectClose(floatOutput.scalars, fixture.output.values.map(Float.init), tolerance: 2e-4)
    }

    @Test func classIndicesAndOneHotTargetsAgreeToTheBit() {
        let logits = random([6, 5], seed: 3, scale: 4)
        let labels: [Double] = [0, 4, 2, 2, 1, 3]
        let oneHot = Tensor<Double>((0..<30).map { labels[$0 / 5] == Double($0 % 5) ? 1 : 0 }, shape: [6, 5])
        let (byIndex, g1) = valueWithGradient(at: [logits]) { SoftmaxCrossEntropyLoss()($0[0], Tensor(labels)) }
        let (byOneHot, g2) = valueWithGradient(at: [logits]) { SoftmaxCrossEntropyLoss()($0[0], oneHot) }
        #expect(byIndex == byOneHot)
        #expect(g1[0] == g2[0])
    }

    @Test func softmaxCrossEntropyIsFiniteForHugeLogitsAndPropagatesNaN() {
        let cost = SoftmaxCrossEntropyLoss<Float>()(Tensor([1000, -1000, 0], shape: [1, 3]), Tensor([1]))
        #expect(cost.scalar == 2000)
        #expect(SoftmaxCrossEntropyLoss<Float>()(Tensor([1, .nan, 0], shape: [1, 3]), Tensor([0])).scalar.isNaN)
    }
}

/// Dropout's behaviour in each mode, and its masks.
@Suite struct DropoutTests {
    @Test func inferencePassesTheInputOrScalesIt() {
        var rng = SeededGenerator(seed: 1)
        let x = random([4, 5], seed: 2)
        #expect(Dropout<Double>(probability: 0.5, using: &rng)(x) == x)
        #expect(Dropout<Double>(probability: 0.25, scaling: .atEvaluation, using: &rng)(x) == x * 0.75)
    }

    @Test func trainingDropsAboutPAndRescalesTheRest() {
        var rng = SeededGenerator(seed: 3)
        let dropout = Dropout<Float>(probability: 0.3, using: &rng)
        let y = withLayerMode(.training) { dropout(Tensor(ones: [100_000])) }.scalars
        let kept = y.filter { $0 != 0 }
        #expect(abs(Double(kept.count) / 100_000 - 0.7) < 0.01)
        #expect(kept.allSatisfy { $0 == Float(1 / 0.7) })
        #expect(dropout.masksDrawn.scalars == [1])
    }

    @Test func masksAreFreshEachStepAndFixedByTheSeed() {
        let make = { () -> Dropout<Double> in var rng = SeededGenerator(seed: 4); return Dropout(probability: 0.5, using: &rng) }
        let (a, b) = (make(), make())
        let x = Tensor<Double>(ones: [64])
        let first = withLayerMode(.training) { a(x) }
        let second = withLayerMode(.training) { a(x) }
        #expect(first != second)
        #expect(withLayerMode(.training) { b(x) } == first)
        // A checkpoint carries the count: a layer given it draws what the original draws next.
        b.$masksDrawn.wrappedValue = a.masksDrawn
        #expect(withLayerMode(.training) { b(x) } == withLayerMode(.training) { a(x) })
    }

    /// The training path's gradient, by finite differences, with the mask held fixed (the count
    /// reset before each evaluation).
    @Test func trainingGradientMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 5)
        let dropout = Dropout<Double>(probability: 0.4, using: &rng)
        let report = checkGradients(at: [random([3, 7], seed: 6)]) { x in
            dropout.$masksDrawn.wrappedValue = Tensor(zeros: [1])
            return withLayerMode(.training) { dropout(x[0]) }
        }
        #expect(report.passed, "\(report)")
    }
}

/// The committed PyTorch fixtures (`Tests/Fixtures/make_torch_fixtures.py` writes them).
struct TorchFixtures: Decodable {
    let torch: String
    let cases: [TorchFixture]
}

/// One case: inputs, PyTorch's output, an upstream gradient and the inputs' gradients.
struct TorchFixture: Decodable, Sendable, CustomTestStringConvertible {
    struct Values: Decodable, Sendable {
        let shape: [Int]
        let values: [Double]
        var tensor: Tensor<Double> { Tensor(values, shape: shape) }
    }
    let name: String
    let parameters: [String: Int]
    let inputs: [String: Values]
    let output: Values
    let upstream: [Double]
    let gradients: [String: [Double]]

    var testDescription: String { name }
    var kind: String { String(name.prefix { $0 != " " }) }
    var inputNames: [String] { kind == "conv2d" ? ["input", "weight", "bias"] : kind == "maxPool2d" ? ["input"] : ["input", "target"] }

    /// The case's op, in Nabla, applied to its inputs.
    func apply<Scalar>(_ t: [Tensor<Scalar>]) -> Tensor<Scalar> {
        switch kind {
        case "conv2d": conv2d(t[0], weight: t[1], bias: t[2], stride: parameters["stride"]!, padding: parameters["padding"]!)
        case "maxPool2d": maxPool2d(t[0], kernelSize: parameters["kernelSize"]!, stride: parameters["stride"]!)
        default: SoftmaxCrossEntropyLoss()(t[0], t[1])
        }
    }
}

let torchFixtures: TorchFixtures = decodedFixture("torch_fixtures.json")

/// A committed fixture file of `Tests/Fixtures`, decoded; a test run stops if it cannot be read.
func decodedFixture<T: Decodable>(_ name: String) -> T {
    do {
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: fixtureFile(name)))
    } catch {
        fatalError("cannot read the fixture \(fixtureFile(name).path): \(error)")
    }
}

/// Where `Tests/Fixtures/name` is.
func fixtureFile(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/\(name)")
}
