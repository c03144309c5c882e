import Nabla
import Testing

/// The README's sample, kept compiling and running: documentation that cannot go stale.
@Suite struct ReadmeTests {
    @Test func theSampleTrainsOneStep() throws {
        var rng = SeededGenerator(seed: 1)
        var model = Sequential<Float> {
            Dense(inputSize: 784, outputSize: 30, using: &rng)
            Sigmoid()
            Dense(inputSize: 30, outputSize: 10, using: &rng)
            Sigmoid()
        }
        var sgd = SGD<Float>(learningRate: 3.0)
        let mnist = realMNIST  // the README's `try MNIST(searching: nil)`, read once for all tests

        let batch = rng.permutation(of: mnist.training.count).prefix(10)
        let x: Tensor<Float> = mnist.training.images(at: batch)
        let y: Tensor<Float> = mnist.training.oneHotLabels(at: batch)
        let (cost, gradients) = valueWithGradient(at: model) { model in QuadraticLoss()(model(x), y) }
        sgd.update(&model, along: gradients)

        let after = QuadraticLoss()(model(x), y)
        #expect(after.scalar < cost.scalar, "one step on a batch lowers its cost: \(cost.scalar) → \(after.scalar)")
    }
}
