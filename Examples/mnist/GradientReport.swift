import BookBackprop
import Foundation
import Nabla
import NablaData

/// `--check-gradients`: the network's autodiff gradients against the book's hand-written
/// backprop (BP1–BP4) on real mini-batches, in Double and in Float, and against finite differences.
struct GradientReport {
    let mnist: MNIST
    let hidden: [Int]
    let seed: UInt64

    /// Prints the comparison per parameter; returns whether everything agreed.
    func run() -> Bool {
        print("Autodiff against the book's hand-written backprop (quadratic cost, 3 mini-batches of 10):")
        var passed = compare(Double.self, tolerance: 1e-10)
        passed = compare(Float.self, tolerance: 1e-4) && passed
        passed = finiteDifferences() && passed
        print(passed ? "All gradients agree." : "GRADIENT MISMATCH")
        return passed
    }

    private func compare<S: TensorScalar>(_: S.Type, tolerance: S) -> Bool {
        var rng = SeededGenerator(seed: seed)
        let sizes = [784] + hidden + [10]
        let model: Sequential<S> = makeNetwork(sizes: sizes, using: &rng)
        let values = model.parameters.map { $0.parameter.wrappedValue.scalars }
        let reference = BookNetwork<S>(sizes: sizes, weights: stride(from: 0, to: values.count, by: 2).map { values[$0] },
                                       biases: stride(from: 1, to: values.count, by: 2).map { values[$0] })
        var worst: [String: S] = [:]
        for _ in 0..<3 {
            let batch = Array(rng.permutation(of: mnist.training.count).prefix(10))
            let x: Tensor<S> = mnist.training.images(at: batch), y: Tensor<S> = mnist.training.oneHotLabels(at: batch)
            let (_, gradients) = valueWithGradient(at: model) { QuadraticLoss()($0(x), y) }
            let hand = reference.gradients(inputs: x.scalars, targets: y.scalars, batchSize: 10)
            for (i, p) in model.parameters.enumerated() {
                let expected = i % 2 == 0 ? hand.weights[i / 2] : hand.biases[i / 2]
                let scale = max(expected.map { Swift.abs($0) }.max() ?? 1, S.leastNormalMagnitude)
                let error = zip(gradients[p.name]!.scalars, expected).map { Swift.abs($0 - $1) }.max()! / scale
                worst[p.name] = max(worst[p.name] ?? 0, error)
            }
        }
        var ok = true
        for p in model.parameters {
            let error = worst[p.name]!
            ok = ok && error <= tolerance
            print("  \(S.typeName.padding(toLength: 6, withPad: " ", startingAt: 0)) \(p.name.padding(toLength: 9, withPad: " ", startingAt: 0))"
                  + " max relative error \(String(format: "%.2e", Double(error))) (limit \(String(format: "%.0e", Double(tolerance))))"
                  + (error <= tolerance ? "  ok" : "  MISMATCH"))
        }
        return ok
    }

    private func finiteDifferences() -> Bool {
        print("Autodiff against central finite differences (Double):")
        var rng = SeededGenerator(seed: seed)
        let model: Sequential<Double> = makeNetwork(sizes: [784] + hidden + [10], using: &rng)
        let batch = Array(rng.permutation(of: mnist.training.count).prefix(10))
        let x: Tensor<Double> = mnist.training.images(at: batch), y: Tensor<Double> = mnist.training.oneHotLabels(at: batch)
        let parameters = model.parameters
        let values = parameters.map { $0.parameter.wrappedValue }
        let cost = { (t: [Tensor<Double>]) -> Tensor<Double> in
            for (p, v) in zip(parameters, t) { p.parameter.wrappedValue = v }
            defer { for (p, v) in zip(parameters, values) { p.parameter.wrappedValue = v } }
            return QuadraticLoss()(model(x), y)
        }
        // Every element of the last layer's parameters, and all parameters along random directions.
        let lastBias = parameters.count - 1
        let full = checkGradients(at: [values[lastBias]], names: [parameters[lastBias].name]) { t in
            var all = values
            all[lastBias] = t[0]
            return cost(all)
        }
        let directional = checkGradients(at: values, names: parameters.map(\.name), directions: 8, seed: seed, of: cost)
        print("  \(parameters[lastBias].name), every element: \(full)")
        print("  all parameters, 8 random directions: \(directional)")
        return full.passed && directional.passed
    }
}
