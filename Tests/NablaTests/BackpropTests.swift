import BookBackprop
import Nabla
import NablaData
import Testing

/// Autodiff against the book's hand-written backprop, on real MNIST mini-batches.
@Suite struct BackpropTests {
    /// The book's 784-30-10 network in Nabla and, with identical weights, in the reference.
    func networks<S: TensorScalar>(_: S.Type, seed: UInt64) -> (Sequential<S>, BookNetwork<S>) {
        let model = bookNetwork(S.self, seed: seed)
        let p = model.parameters.map { $0.parameter.wrappedValue.scalars }
        return (model, BookNetwork(sizes: [784, 30, 10], weights: [p[0], p[2]], biases: [p[1], p[3]]))
    }

    func maxRelativeError<S: TensorScalar>(_ a: [S], _ b: [S]) -> S {
        let scale = b.map { Swift.abs($0) }.max() ?? 1
        return zip(a, b).map { Swift.abs($0 - $1) }.max()! / Swift.max(scale, S.leastNormalMagnitude)
    }

    func compare<S: TensorScalar>(_ type: S.Type, tolerance: S, seed: UInt64) {
        let (model, reference) = networks(type, seed: seed)
        var rng = SeededGenerator(seed: seed + 100)
        let batch = Array(rng.permutation(of: realMNIST.training.count).prefix(10))
        let x: Tensor<S> = realMNIST.training.images(at: batch)
        let y: Tensor<S> = realMNIST.training.oneHotLabels(at: batch)
        let (_, grads) = valueWithGradient(at: model) { QuadraticLoss()($0(x), y) }
        let expected = reference.gradients(inputs: x.scalars, targets: y.scalars, batchSize: 10)
        let pairs = [("0.weight", expected.weights[0]), ("0.bias", expected.biases[0]),
                     ("2.weight", expected.weights[1]), ("2.bias", expected.biases[1])]
        for (name, hand) in pairs {
            let error = maxRelativeError(grads[name]!.scalars, hand)
            #expect(error <= tolerance, "\(S.self) \(name): max relative error \(error)")
        }
    }

    @Test(.needsMNIST, arguments: [1, 2, 3] as [UInt64])
    func doubleGradientsEqualHandWrittenBackprop(seed: UInt64) {
        compare(Double.self, tolerance: 1e-10, seed: seed)
    }

    @Test(.needsMNIST, arguments: [1, 2, 3] as [UInt64])
    func floatGradientsEqualHandWrittenBackprop(seed: UInt64) {
        compare(Float.self, tolerance: 1e-4, seed: seed)
    }

    @Test func theReferenceItselfMatchesFiniteDifferences() {
        // Guard the guard: check the hand-written gradients numerically on a small network.
        let x = random([3, 4], seed: 1).scalars, y = sigmoid(random([3, 2], seed: 2)).scalars
        let w = [random([5, 4], seed: 3).scalars, random([2, 5], seed: 4).scalars]
        let b = [random([5], seed: 5).scalars, random([2], seed: 6).scalars]
        let net = BookNetwork<Double>(sizes: [4, 5, 2], weights: w, biases: b)
        let report = checkGradients(at: [Tensor(w[0], shape: [5, 4]), Tensor(b[0]), Tensor(w[1], shape: [2, 5]), Tensor(b[1])]) { t in
            let hidden = sigmoid(matmul(Tensor(x, shape: [3, 4]), t[0], transposingB: true) + t[1])
            return QuadraticLoss()(sigmoid(matmul(hidden, t[2], transposingB: true) + t[3]), Tensor(y, shape: [3, 2]))
        }
        #expect(report.passed)
        let (_, analytic) = valueWithGradient(at: [Tensor(w[0], shape: [5, 4]), Tensor(b[0]), Tensor(w[1], shape: [2, 5]), Tensor(b[1])]) { t in
            let hidden = sigmoid(matmul(Tensor(x, shape: [3, 4]), t[0], transposingB: true) + t[1])
            return QuadraticLoss()(sigmoid(matmul(hidden, t[2], transposingB: true) + t[3]), Tensor(y, shape: [3, 2]))
        }
        let hand = net.gradients(inputs: x, targets: y, batchSize: 3)
        expectClose(hand.weights[0], analytic[0].scalars, tolerance: 1e-14)
        expectClose(hand.biases[1], analytic[3].scalars, tolerance: 1e-14)
    }
}

/// A short training run on real MNIST: fast enough for a debug `swift test`.
@Suite struct TrainingTests {
    @Test(.needsMNIST) func oneEpochLearns() {
        var model = bookNetwork(Float.self, seed: 1)
        var rng = SeededGenerator(seed: 2)
        let train = realMNIST.training, test = realMNIST.test.subset(0..<2_000)
        let before = test.correctCount(of: model)
        var sgd = SGD<Float>(learningRate: 3)
        let order = rng.permutation(of: train.count)
        for start in stride(from: 0, to: train.count, by: 10) {
            let batch = order[start ..< start + 10]
            let (x, y): (Tensor<Float>, Tensor<Float>) = (train.images(at: batch), train.oneHotLabels(at: batch))
            let (_, grads) = valueWithGradient(at: model) { QuadraticLoss()($0(x), y) }
            sgd.update(&model, along: grads)
        }
        let after = test.correctCount(of: model)
        // Chance is 10%; one epoch reaches 80–90% depending on the shuffle (the book: about 90%).
        #expect(before < 400 && after > 1_500, "correct before \(before), after \(after) of 2000")
    }
}
