import CAllocationCounter
import Foundation
import Nabla
import NablaData
import Testing

/// Two Gaussian blobs per class in the plane, as a data set: easy to learn, quick to train.
func blobs(count: Int, seed: UInt64) -> TensorDataset<Double> {
    var rng = SeededGenerator(seed: seed)
    var (points, labels) = ([Double](), [Double]())
    for i in 0..<count {
        let label = i % 3
        let (x, y) = ([-2.0, 2, 0][label], [0.0, 0, 3][label])
        points += [x + rng.nextNormal() * 0.5, y + rng.nextNormal() * 0.5]
        labels.append(Double(label))
    }
    return TensorDataset(inputs: Tensor(points, shape: [count, 2]), targets: Tensor(labels))
}

func blobNetwork(seed: UInt64) -> Sequential<Double> {
    var rng = SeededGenerator(seed: seed)
    return Sequential { Dense(inputSize: 2, outputSize: 8, weightInitializer: .scaledNormal, using: &rng); ReLU(); Dense(inputSize: 8, outputSize: 3, using: &rng) }
}

/// A report with the given accuracy on "validation", for driving callbacks by hand.
func report(epoch: Int, correct: Int, learningRate: Double = 1) -> EpochReport {
    EpochReport(epoch: epoch, trainingCost: 0, evaluations: ["validation": Evaluation(cost: 0, correct: correct, count: 100)],
                learningRate: learningRate, trainingSeconds: 0)
}

/// Runs `callback` over epochs with these accuracies; returns the learning rate after each
/// epoch and the epoch it stopped at.
func drive<C: TrainingCallback>(_ callback: C, accuracies: [Int], learningRate: Double = 1) throws -> (rates: [Double], stop: Int?) {
    var (callback, history, rates, rate) = (callback, [EpochReport](), [Double](), learningRate)
    for (epoch, correct) in accuracies.enumerated() {
        history.append(report(epoch: epoch, correct: correct, learningRate: rate))
        var control = TrainingControl(learningRate: rate)
        try callback.epochEnded(history.last!, history: history, control: &control)
        rate = control.learningRate
        rates.append(rate)
        if control.stopReason != nil { return (rates, epoch) }
    }
    return (rates, nil)
}

@Suite struct TrainerTests {
    @Test func aTensorDatasetBatchesTheRowsAsked() {
        let data = TensorDataset(inputs: Tensor<Double>((0..<12).map(Double.init), shape: [4, 3]), targets: Tensor([0, 1, 2, 3]))
        var (x, y) = (Tensor<Double>(zeros: [0]), Tensor<Double>(zeros: [0]))
        data.batch([2, 0], inputs: &x, targets: &y)
        #expect(x.shape == [2, 3] && x.scalars == [6, 7, 8, 0, 1, 2])
        #expect(y.scalars == [2, 0])
    }

    @Test func theTrainerLearnsAndTheSameSeedGivesTheSameRun() throws {
        let (training, validation) = (blobs(count: 300, seed: 1), blobs(count: 150, seed: 2))
        let run = { () throws -> ([EpochReport], [String: Tensor<Double>]) in
            let model = blobNetwork(seed: 3)
            let trainer = Trainer(model: model, loss: SoftmaxCrossEntropyLoss(), optimizer: SGD(learningRate: 0.1),
                                  batchSize: 10, order: .shuffledEachEpoch(seed: 4))
            let history = try trainer.fit(training, epochs: 5, monitoring: [("validation", validation)])
            return (history, model.parameterValues)
        }
        let (first, parameters) = try run()
        #expect(first.count == 5)
        #expect(first.last!.evaluations["validation"]!.accuracy > 0.95)
        #expect(first.last!.trainingCost < first.first!.trainingCost)
        let (second, again) = try run()
        #expect(second.map(\.trainingCost) == first.map(\.trainingCost))
        #expect(again == parameters)
    }

    /// Models training at once, each on a thread of its own, do not see each other: each run
    /// gives the bits it gives alone. A convolutional network with dropout and Adam, trained by
    /// the `Trainer` (recorded once, then replayed) and by eager steps (a graph recorded at every
    /// step): its convolutions ask for the worker pool (one thread gets it, the other runs its
    /// shares itself), its kernels keep scratch per thread, and its layers' mode and its
    /// recording are the thread's own.
    @Test func modelsTrainingAtOnceOnTwoThreadsEachGiveTheirOwnRun() throws {
        /// Trains one network from `seed` and returns its parameters' bits.
        @Sendable func run(_ seed: UInt64) throws -> [[UInt64]] {
            var rng = SeededGenerator(seed: seed)
            let images = TensorDataset(inputs: random([200, 1, 10, 10], seed: seed),
                                       targets: Tensor((0..<200).map { Double($0 % 3) }))
            var model = Sequential<Double> {
                Conv2D(inputChannels: 1, outputChannels: 4, kernelSize: 3, using: &rng)
                MaxPool2D(kernelSize: 2)
                ReLU()
                Flatten()
                Dropout(probability: 0.5, using: &rng)
                Dense(inputSize: 64, outputSize: 3, using: &rng)
            }
            let trainer = Trainer(model: model, loss: SoftmaxCrossEntropyLoss(), optimizer: Adam(learningRate: 0.01),
                                  batchSize: 8, order: .shuffledEachEpoch(seed: seed))
            try trainer.fit(images, epochs: 3)
            var optimizer = SGD<Double>(learningRate: 0.01, momentum: 0.9)
            var (x, y) = (Tensor<Double>(zeros: [0]), Tensor<Double>(zeros: [0]))
            for start in stride(from: 0, to: 200, by: 8) {
                images.batch(Array(start ..< start + 8)[...], inputs: &x, targets: &y)
                let (_, gradients) = withLayerMode(.training) {
                    valueWithGradient(at: model) { SoftmaxCrossEntropyLoss()($0(x), y) }
                }
                optimizer.update(&model, along: gradients)
            }
            return model.parameterValues.sorted { $0.key < $1.key }.map { $0.value.scalars.map(\.bitPattern) }
        }
        let alone = try [1, 2].map(run)
        #expect(alone[0] != alone[1])
        final class Outcomes: @unchecked Sendable {
            let lock = NSLock()
            var runs: [Result<[[UInt64]], any Error>?] = [nil, nil]
        }
        for _ in 0..<3 {
            let (outcomes, group) = (Outcomes(), DispatchGroup())
            for index in 0..<2 {
                group.enter()
                Thread {
                    let outcome = Result { try run(UInt64(index + 1)) }
                    outcomes.lock.withLock { outcomes.runs[index] = outcome }
                    group.leave()
                }.start()
            }
            group.wait()
            #expect(try outcomes.runs.map { try $0!.get() } == alone)
        }
    }

    @Test func theTrainerMatchesAHandWrittenLoop() throws {
        // Fixed order, one epoch: the trainer's steps are the eager steps, to the bit.
        let training = blobs(count: 40, seed: 5)
        let (model, reference) = (blobNetwork(seed: 6), blobNetwork(seed: 6))
        let trainer = Trainer(model: model, loss: QuadraticLossOnIndices(), optimizer: SGD(learningRate: 0.5), batchSize: 8, order: .fixed)
        try trainer.fit(training, epochs: 1)
        var optimizer = SGD<Double>(learningRate: 0.5)
        var (x, y) = (Tensor<Double>(zeros: [0]), Tensor<Double>(zeros: [0]))
        var eager = reference
        for start in stride(from: 0, to: 40, by: 8) {
            training.batch(Array(start ..< start + 8)[...], inputs: &x, targets: &y)
            let (_, gradients) = withLayerMode(.training) { valueWithGradient(at: eager) { QuadraticLossOnIndices()($0(x), y) } }
            optimizer.update(&eager, along: gradients)
        }
        #expect(model.parameterValues == eager.parameterValues)
    }

    @Test func theBestEpochIsSavedAndLoadsBack() throws {
        let path = NSTemporaryDirectory() + "nabla-best-\(UInt64.random(in: 0 ... .max)).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (training, validation) = (blobs(count: 200, seed: 11), blobs(count: 90, seed: 12))
        let model = blobNetwork(seed: 13)
        let trainer = Trainer(model: model, loss: SoftmaxCrossEntropyLoss(), optimizer: SGD(learningRate: 0.05), order: .fixed)
        trainer.callbacks = [SaveBestCheckpoint(of: model, to: path, monitoring: "validation", metadata: ["note": "blobs"])]
        let history = try trainer.fit(training, epochs: 4, monitoring: [("validation", validation)])
        let best = history.indices.max { history[$0].evaluations["validation"]!.correct < history[$1].evaluations["validation"]!.correct
            || (history[$0].evaluations["validation"]!.correct == history[$1].evaluations["validation"]!.correct && $0 > $1) }!
        let restored = blobNetwork(seed: 14)
        try restored.load(from: path)
        #expect(restored.evaluate(on: validation, loss: SoftmaxCrossEntropyLoss()) == history[best].evaluations["validation"]!)
        let metadata = try SafeTensors(contentsOf: path).metadata
        #expect(metadata["epoch"] == String(best) && metadata["note"] == "blobs")
    }

    @Test func divergenceNamesTheEpochAndStep() {
        let trainer = Trainer(model: blobNetwork(seed: 7), loss: SoftmaxCrossEntropyLoss(), optimizer: SGD(learningRate: 1e300), order: .fixed)
        #expect {
            try trainer.fit(blobs(count: 100, seed: 8), epochs: 2)
        } throws: { error in
            guard case .diverged(let epoch, let step, let cost) = error as? TrainingError else { return false }
            return epoch == 0 && step <= 2 && !cost.isFinite
        }
    }

    @Test func earlyStoppingWaitsPatienceEpochsWithoutImprovement() throws {
        #expect(try drive(EarlyStopping(patience: 2), accuracies: [50, 60, 60, 59, 70]).stop == 3)
        #expect(try drive(EarlyStopping(patience: 2), accuracies: [50, 60, 61, 62, 63]).stop == nil)
    }

    @Test func theBooksScheduleHalvesOnEachPlateauAndStopsAtAHundredAndTwentyEighth() throws {
        // No improvement after epoch 0: three epochs later the rule fires, then every three epochs,
        // counting afresh after each halving; η₀/8 stops training.
        let (rates, stop) = try drive(HalvingOnPlateau(patience: 3, floor: 8), accuracies: Array(repeating: 50, count: 20))
        #expect(rates == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125])
        #expect(stop == 9)
        // An improvement restarts the count.
        let improving = try drive(HalvingOnPlateau(patience: 3), accuracies: [50, 50, 51, 51, 51, 51])
        #expect(improving.rates == [1, 1, 1, 1, 1, 0.5])
    }

    @Test func stepAndCosineSchedules() throws {
        #expect(try drive(StepSchedule(every: 2, factor: 0.1), accuracies: [1, 2, 3, 4]).rates.map { ($0 * 1e6).rounded() / 1e6 } == [1, 0.1, 0.1, 0.01])
        let cosine = try drive(CosineSchedule(epochs: 4, minimum: 0.2), accuracies: [1, 2, 3, 4, 5], learningRate: 1).rates
        expectClose(cosine, [0.2 + 0.8 * 0.8535533905932737, 0.6, 0.2 + 0.8 * 0.14644660940672627, 0.2, 0.2], tolerance: 1e-12)
    }

    @Test func weightDecaySparesTheParametersItIsToldTo() {
        let layer = Dense<Double>(weight: Tensor([2, 4], shape: [1, 2]), bias: Tensor([1]))
        var model = layer
        var sgd = SGD<Double>(learningRate: 0.5, weightDecay: 0.1, decays: { $0.hasSuffix("weight") })
        let (_, gradients) = valueWithGradient(at: model) { $0(Tensor([0, 0], shape: [1, 2])).sum() }  // ∂w = 0, ∂b = 1
        sgd.update(&model, along: gradients)
        // w ← w − η·λ·w = 0.95·w;  b ← b − η·1, no decay.
        #expect(model.weight.scalars == [1.9, 3.8])
        #expect(model.bias?.scalars == [0.5])
    }
}

/// The quadratic cost against class indices turned one-hot, for a test that needs a second loss.
struct QuadraticLossOnIndices: Loss {
    func callAsFunction(_ output: Tensor<Double>, _ target: Tensor<Double>) -> Tensor<Double> {
        let classes = output.shape[1]
        let oneHot = Tensor<Double>((0..<output.count).map { Double($0 % classes) == target.scalars[$0 / classes] ? 1 : 0 }, shape: output.shape)
        return QuadraticLoss()(output, oneHot)
    }
}

@Suite struct MNISTDatasetTests {
    /// Two 28×28 images with one dark pixel each.
    func twoDigits() throws -> MNISTSet {
        var pixels = [UInt8](repeating: 0, count: 2 * 784)
        pixels[5 * 28 + 7] = 200           // image 0: (5, 7)
        pixels[784 + 0 * 28 + 27] = 100     // image 1: (0, 27), on the edge
        return try MNISTSet(name: "two", pixels: pixels, labels: [3, 8])
    }

    @Test func batchesAreShapedForTheNetworkAndTheLoss() throws {
        let data = try twoDigits().dataset(as: Float.self, imageShape: .image, labels: .classIndices)
        var (x, y) = (Tensor<Float>(zeros: [0]), Tensor<Float>(zeros: [0]))
        data.batch([1, 0], inputs: &x, targets: &y)
        #expect(x.shape == [2, 1, 28, 28] && y.scalars == [8, 3])
        #expect(x.scalars[27] == 100 / 256 && x.scalars[784 + 5 * 28 + 7] == 200 / 256)
    }

    /// A training loop refills one batch again and again: once shaped, that allocates nothing.
    @Test func refillingABatchAllocatesNothing() throws {
        let digits = try twoDigits()
        for (shape, labels) in [(MNISTImageShape.image, MNISTLabels.classIndices), (.flat, .oneHot)] {
            let data = digits.dataset(as: Float.self, imageShape: shape, labels: labels)
            var (x, y) = (Tensor<Float>(zeros: [0]), Tensor<Float>(zeros: [0]))
            let indices = [1, 0][...]
            data.batch(indices, inputs: &x, targets: &y)
            let before = nabla_thread_allocation_count()
            for _ in 0..<10 { data.batch(indices, inputs: &x, targets: &y) }
            if isOptimizedBuild { #expect(nabla_thread_allocation_count() == before, "\(shape), \(labels)") }
        }
    }

    @Test func theBooksExpansionShiftsEachDigitByOnePixelFourWays() throws {
        let expanded = try twoDigits().expandedByShifts(seed: 1)
        #expect(expanded.count == 10)
        #expect(expanded.labels.sorted() == [3, 3, 3, 3, 3, 8, 8, 8, 8, 8])
        // Where image 0's dark pixel went in its five versions: in place, down, up, right, left.
        let positions = (0..<10).filter { expanded.labels[$0] == 3 }.map { i in
            expanded.pixels[(i * 784)..<((i + 1) * 784)].firstIndex(of: 200)! - i * 784
        }
        #expect(Set(positions) == [5 * 28 + 7, 6 * 28 + 7, 4 * 28 + 7, 5 * 28 + 8, 5 * 28 + 6])
        // Image 1's pixel on the right edge leaves the image when shifted right, as in expand_mnist.py.
        let survivors = (0..<10).filter { expanded.labels[$0] == 8 && expanded.pixels[($0 * 784)..<(($0 + 1) * 784)].contains(100) }
        #expect(survivors.count == 3)   // in place, and shifted left, down (up moves it off the top)
        #expect(try twoDigits().expandedByShifts(seed: 1).pixels == expanded.pixels)
    }

    /// The book's chapter-6 network at a small scale on real digits: it learns in one epoch.
    @Test(.needsMNIST) func aConvolutionalNetworkLearnsRealDigits() throws {
        var rng = SeededGenerator(seed: 1)
        let model = Sequential<Float> {
            Conv2D(inputChannels: 1, outputChannels: 20, kernelSize: 5, weightInitializer: .outputScaledNormal(poolArea: 4), using: &rng)
            MaxPool2D(kernelSize: 2)
            ReLU()
            Flatten()
            Dropout(probability: 0.5, scaling: .atEvaluation, using: &rng)
            Dense(inputSize: 2880, outputSize: 10, weightInitializer: .zeros, biasInitializer: .zeros, using: &rng)
        }
        let trainer = Trainer(model: model, loss: SoftmaxCrossEntropyLoss(), optimizer: SGD(learningRate: 0.03), order: .fixed)
        let training = realMNIST.training.subset(0..<3000).dataset(as: Float.self, imageShape: .image, labels: .classIndices)
        let validation = realMNIST.validation.subset(0..<2000).dataset(as: Float.self, imageShape: .image, labels: .classIndices)
        let history = try trainer.fit(training, epochs: 1, monitoring: [("validation", validation)])
        #expect(history[0].evaluations["validation"]!.accuracy > 0.8, "\(history[0].evaluations)")
    }
}

@Suite struct EnsembleAndSummaryTests {
    @Test func thePluralityVoteTakesTheMostCommonClassAndTiesGoLow() {
        #expect(Ensemble<Double>.pluralityVote([[1, 2, 3, 0], [1, 5, 4, 0], [2, 5, 9, 7]]) == [1, 5, 3, 0])
    }

    @Test func anEnsembleOfOneIsItsMember() {
        let data = blobs(count: 60, seed: 9)
        let model = blobNetwork(seed: 10)
        let alone = model.evaluate(on: data, loss: SoftmaxCrossEntropyLoss())
        #expect(Ensemble(members: [model]).evaluate(on: data).correct == alone.correct)
    }

    @Test func aSummaryListsEachLayersOutputAndParameters() {
        let summary = chapter6Network(seed: 1).summary(inputShape: [1, 12, 12])
        let lines = summary.split(separator: "\n")
        #expect(lines[2].hasPrefix("0 Conv2D") && lines[2].contains("[batch, 3, 10, 10]") && lines[2].hasSuffix(" 30"))
        #expect(lines[8].hasPrefix("6 Flatten") && lines[8].contains("[batch, 16]"))
        #expect(lines.last == "total: \(chapter6Network(seed: 1).parameterCount) parameters")
    }
}

@Suite struct DivergenceTests {
    /// The book's kind of network: sigmoid outputs keep the quadratic cost bounded however large
    /// the weights grow.
    func sigmoidNetwork(seed: UInt64) -> Sequential<Double> {
        var rng = SeededGenerator(seed: seed)
        return Sequential { Dense(inputSize: 2, outputSize: 8, using: &rng); Sigmoid(); Dense(inputSize: 8, outputSize: 3, using: &rng); Sigmoid() }
    }

    @Test func aHugeLearningRateIsReportedOnce() throws {
        let trainer = Trainer(model: sigmoidNetwork(seed: 15), loss: QuadraticLossOnIndices(), optimizer: SGD(learningRate: 1e30), order: .fixed)
        let history = try trainer.fit(blobs(count: 60, seed: 16), epochs: 3)
        #expect(history[0].warnings.count == 1 && history[0].warnings[0].contains("a parameter has grown to"), "\(history[0].warnings)")
        #expect(history.dropFirst().allSatisfy { $0.warnings.isEmpty })
    }

    /// A weight that is infinite while the cost stays finite — a ReLU unit it drives to −∞ is
    /// just off — is caught after the epoch, named.
    @Test func aNonFiniteParameterStopsTrainingNamingIt() {
        let model = blobNetwork(seed: 17)
        var weight = model.parameters[0].parameter.wrappedValue.scalars
        (weight[0], weight[1]) = (-.infinity, -.infinity)    // unit 0 of the first layer
        model.parameters[0].parameter.wrappedValue = Tensor(weight, shape: [8, 2])
        let points = blobs(count: 40, seed: 18)
        let positive = TensorDataset(inputs: abs(points.inputs) + 0.1, targets: points.targets)
        let trainer = Trainer(model: model, loss: SoftmaxCrossEntropyLoss(), optimizer: SGD(learningRate: 0.1), order: .fixed)
        #expect {
            try trainer.fit(positive, epochs: 2)
        } throws: { error in
            guard case .nonFiniteParameter(0, "0.weight", [0, 0], let value) = error as? TrainingError else { return false }
            return value == -.infinity && "\(error)".contains("parameter 0.weight holds -inf at element [0, 0]")
        }
    }

    @Test func loadingANonFiniteCheckpointIsRefusedNamingTheElement() throws {
        let path = NSTemporaryDirectory() + "nabla-nan-\(UInt64.random(in: 0 ... .max)).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = blobNetwork(seed: 19)
        var weight = model.parameters[0].parameter.wrappedValue.scalars
        weight[5] = .infinity
        model.parameters[0].parameter.wrappedValue = Tensor(weight, shape: [8, 2])
        try model.save(to: path)
        let fresh = blobNetwork(seed: 20)
        let before = fresh.parameterValues
        #expect {
            try fresh.load(from: path)
        } throws: { error in
            "\(error)".contains("tensor 0.weight holds inf at element [2, 1]")
        }
        #expect(fresh.parameterValues == before, "a refused load changed the model")
        try fresh.load(from: path, allowingNonFinite: true)
        #expect(fresh.parameterValues["0.weight"]!.scalars[5] == .infinity)
    }
}
