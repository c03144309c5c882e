import ArgumentParser
import Nabla
import NablaData

/// The networks of the book, by name: `--network NAME`.
enum NetworkName: String, ExpressibleByArgument, CaseIterable {
    case chapter1, chapter1_100 = "chapter1-100"
    case chapter3_30 = "chapter3-30", chapter3_100 = "chapter3-100"
    case chapter3_100_l2 = "chapter3-100-l2", chapter3_100_l2_60 = "chapter3-100-l2-60"
    case chapter6_sigmoid = "chapter6-sigmoid", chapter6_relu = "chapter6-relu"
    case chapter6_expanded = "chapter6-expanded", chapter6_dropout = "chapter6-dropout"

    /// The book's architecture and hyperparameters for the network (BOOK.md gathers them).
    var recipe: Recipe {
        let chapter3 = Recipe(architecture: .fullyConnected(hidden: [30]), loss: .crossEntropy, learningRate: 0.5, epochs: 30)
        let chapter6 = Recipe(architecture: .convolutional(activation: .sigmoid, fullyConnected: [100], dropout: 0),
                              loss: .logLikelihood, initialization: .network3, learningRate: 0.1, epochs: 60,
                              evaluation: .validation, order: .fixed, l2: .perMiniBatch)
        switch self {
        case .chapter1: return Recipe(architecture: .fullyConnected(hidden: [30]), loss: .quadratic, learningRate: 3, epochs: 30)
        case .chapter1_100: return Recipe(architecture: .fullyConnected(hidden: [100]), loss: .quadratic, learningRate: 3, epochs: 30)
        case .chapter3_30: return chapter3
        case .chapter3_100: return chapter3.with { $0.architecture = .fullyConnected(hidden: [100]) }
        case .chapter3_100_l2:
            return chapter3.with { $0.architecture = .fullyConnected(hidden: [100]); $0.lambda = 5; $0.evaluation = .validation }
        case .chapter3_100_l2_60:
            return chapter3.with {
                $0.architecture = .fullyConnected(hidden: [100]); $0.lambda = 5; $0.evaluation = .validation
                $0.learningRate = 0.1; $0.epochs = 60
            }
        case .chapter6_sigmoid: return chapter6
        case .chapter6_relu:
            return chapter6.with {
                $0.architecture = .convolutional(activation: .relu, fullyConnected: [100], dropout: 0)
                $0.learningRate = 0.03; $0.lambda = 0.1
            }
        case .chapter6_expanded: return NetworkName.chapter6_relu.recipe.with { $0.expanded = true }
        case .chapter6_dropout:
            return NetworkName.chapter6_expanded.recipe.with {
                $0.architecture = .convolutional(activation: .relu, fullyConnected: [1000, 1000], dropout: 0.5)
                $0.lambda = 0; $0.epochs = 40
            }
        }
    }
}

/// How to build and train one network: the example's defaults, which options override.
struct Recipe {
    enum Architecture: Equatable {
        /// 784 → hidden… → 10, sigmoid throughout (the last sigmoid folded into the cross-entropy cost).
        case fullyConnected(hidden: [Int])
        /// network3's conv-pool(20, 5×5) → conv-pool(40, 5×5) → fully connected layers → softmax,
        /// dropout before each fully connected layer and the softmax layer.
        case convolutional(activation: Activation, fullyConnected: [Int], dropout: Double)
    }
    enum Activation: String { case sigmoid, relu }
    /// How λ becomes a per-step weight decay: chapter 3's 1 − ηλ/n, or chapter 6's 1 − ηλm/n
    /// (network3 divides the penalty by the number of mini-batches).
    enum L2Convention { case perExample, perMiniBatch }

    var architecture: Architecture
    var loss: LossChoice
    var initialization: InitChoice = .book
    var learningRate: Float
    var lambda: Float = 0
    var epochs: Int
    var evaluation: EvalChoice = .test
    var expanded = false
    var order: ExampleOrderChoice = .shuffled
    var l2: L2Convention = .perExample

    func with(_ change: (inout Recipe) throws -> Void) rethrows -> Recipe {
        var copy = self
        try change(&copy)
        return copy
    }

    /// Chapter 6 reports the test accuracy at the epoch of best validation accuracy.
    var reportsTestAtBestValidation: Bool { evaluation == .validation && loss == .logLikelihood }

    /// The per-step weight decay for λ on `trainingCount` examples in mini-batches of `batchSize`.
    func weightDecay(trainingCount: Int, batchSize: Int) -> Float {
        lambda * (l2 == .perMiniBatch ? Float(batchSize) : 1) / Float(trainingCount)
    }

    /// How images are shaped for the network.
    var imageShape: MNISTImageShape {
        if case .convolutional = architecture { return .image }
        return .flat
    }

    /// About how many parameters the network has, counted in floating point without building it
    /// (so that sizes this machine cannot hold are refused before anything is allocated): its
    /// fully connected layers, which `--hidden` can make large; the convolutions' are few.
    var parameterEstimate: Double {
        let sizes = switch architecture {
        case .fullyConnected(let hidden): [784] + hidden + [10]
        case .convolutional(_, let fullyConnected, _): [640] + fullyConnected + [10]
        }
        return zip(sizes, sizes.dropFirst()).reduce(0) { $0 + (Double($1.0) + 1) * Double($1.1) }
    }

    /// Builds the network, drawing its parameters from `rng`.
    func makeModel<S: TensorScalar>(using rng: inout SeededGenerator) -> Sequential<S> {
        switch architecture {
        case .fullyConnected(let hidden):
            let initializer: Initializer<S> = initialization == .scaled ? .scaledNormal : .standardNormal
            return makeNetwork(sizes: [784] + hidden + [10], crossEntropy: loss != .quadratic, initializer: initializer, using: &rng)
        case .convolutional(let activation, let fullyConnected, let dropout):
            return makeConvolutionalNetwork(activation: activation, fullyConnected: fullyConnected, dropout: dropout, using: &rng)
        }
    }

    /// network3.py's network, layer for layer: each ConvPoolLayer is convolution, 2×2 max-pooling,
    /// bias and activation — here the bias is added before pooling, which gives the same bits:
    /// rounding is monotonic, so the largest of x + b is the largest x, plus b. Weights are
    /// N(0, 1/n_out), biases N(0, 1), the softmax layer zeros (network3's initialisation).
    func makeConvolutionalNetwork<S: TensorScalar>(activation: Activation, fullyConnected: [Int], dropout: Double,
                                                   using rng: inout SeededGenerator) -> Sequential<S> {
        let act = { () -> any Layer<S> in activation == .relu ? ReLU<S>() : Sigmoid<S>() }
        let book = initialization == .network3
        let conv: Initializer<S> = book ? .outputScaledNormal(poolArea: 4) : .scaledNormal
        let dense: Initializer<S> = book ? .outputScaledNormal() : .scaledNormal
        let sizes = [640] + fullyConnected
        return Sequential<S> {
            Conv2D(inputChannels: 1, outputChannels: 20, kernelSize: 5, weightInitializer: conv, using: &rng)
            MaxPool2D(kernelSize: 2)
            act()
            Conv2D(inputChannels: 20, outputChannels: 40, kernelSize: 5, weightInitializer: conv, using: &rng)
            MaxPool2D(kernelSize: 2)
            act()
            Flatten()
            for (n, next) in zip(sizes, sizes.dropFirst()) {
                if dropout > 0 { Dropout(probability: dropout, scaling: .atEvaluation, using: &rng) }
                Dense(inputSize: n, outputSize: next, weightInitializer: dense, using: &rng)
                act()
            }
            if dropout > 0 { Dropout(probability: dropout, scaling: .atEvaluation, using: &rng) }
            Dense(inputSize: sizes.last!, outputSize: 10, weightInitializer: book ? .zeros : dense,
                  biasInitializer: book ? .zeros : .standardNormal, using: &rng)
        }
    }

    /// The cost.
    func makeLoss<S: TensorScalar>() -> any Loss<S> {
        switch loss {
        case .quadratic: QuadraticLoss()
        case .crossEntropy: SigmoidCrossEntropyLoss()
        case .logLikelihood: SoftmaxCrossEntropyLoss()
        }
    }
}

enum ExampleOrderChoice: String, ExpressibleByArgument, CaseIterable {
    /// Shuffled afresh each epoch (network2.py).
    case shuffled
    /// The data set's order every epoch (network3.py).
    case fixed
}
