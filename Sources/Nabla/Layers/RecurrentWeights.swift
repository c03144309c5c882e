/// One layer's weights in a recurrent network laid out as PyTorch's `nn.LSTM` and `nn.GRU`:
/// the gates' weights stacked in one matrix for the input and one for the previous hidden state,
/// `weight_ih` [gates·hidden, input] and `weight_hh` [gates·hidden, hidden], and their biases
/// `bias_ih` and `bias_hh` [gates·hidden]. ``LSTM`` and ``GRU`` name them as PyTorch does
/// (`weight_ih_l0`, …), so a checkpoint's tensors mean the same in both.
public struct RecurrentWeights<Scalar: TensorScalar>: Module {
    /// `weight_ih`: the gates from the input, [gates·hidden, input].
    @Parameter public var inputWeight: Tensor<Scalar>
    /// `weight_hh`: the gates from the previous hidden state, [gates·hidden, hidden].
    @Parameter public var hiddenWeight: Tensor<Scalar>
    /// `bias_ih`, [gates·hidden], or nil without biases.
    @OptionalParameter public var inputBias: Tensor<Scalar>?
    /// `bias_hh`, [gates·hidden], or nil without biases.
    @OptionalParameter public var hiddenBias: Tensor<Scalar>?

    /// Weights for `gates` gates, all drawn from PyTorch's U(−1/√hidden, 1/√hidden).
    init(gates: Int, inputSize: Int, hiddenSize: Int, bias: Bool, using rng: inout SeededGenerator) {
        let initializer = Initializer<Scalar>.pytorchUniform
        inputWeight = initializer.make([gates * hiddenSize, inputSize], hiddenSize, gates * hiddenSize, &rng)
        hiddenWeight = initializer.make([gates * hiddenSize, hiddenSize], hiddenSize, gates * hiddenSize, &rng)
        inputBias = bias ? initializer.make([gates * hiddenSize], hiddenSize, gates * hiddenSize, &rng) : nil
        hiddenBias = bias ? initializer.make([gates * hiddenSize], hiddenSize, gates * hiddenSize, &rng) : nil
    }

    /// The parameters under PyTorch's names for layer `layer`.
    func pytorchNamed(layer: Int) -> [NamedParameter<Scalar>] {
        [("weight_ih", $inputWeight), ("weight_hh", $hiddenWeight), ("bias_ih", $inputBias), ("bias_hh", $hiddenBias)]
            .compactMap { name, parameter in parameter.map { NamedParameter(name: "\(name)_l\(layer)", parameter: $0) } }
    }

    /// The input's contribution to every gate at every step, in one product: [B, T, input] →
    /// [T, B, gates·hidden], time first so that each step's slice is a view. `bias_hh` is added
    /// here too when `foldingHiddenBias` (where the gates are plain sums, as the LSTM's).
    func inputGates(_ input: Tensor<Scalar>, foldingHiddenBias: Bool) -> Tensor<Scalar> {
        let bias = foldingHiddenBias && inputBias != nil ? inputBias! + hiddenBias! : inputBias
        return linear(input.transposed(0, 1), weight: inputWeight, bias: bias, layer: "weight_ih")
    }

    /// The previous hidden state's contribution to every gate, [B, gates·hidden].
    func hiddenGates(_ hidden: Tensor<Scalar>, includingBias: Bool) -> Tensor<Scalar> {
        linear(hidden, weight: hiddenWeight, bias: includingBias ? hiddenBias : nil, layer: "weight_hh")
    }
}

/// The layers of a stacked recurrent network (``LSTM``, ``GRU``): each layer's weights, dropout
/// between layers, and PyTorch's names for the parameters.
public struct RecurrentStack<Scalar: TensorScalar>: Module {
    /// Each layer's weights, bottom first.
    public var layers: [RecurrentWeights<Scalar>]
    /// Dropout on each layer's output but the last's (training only).
    public var dropouts: [Dropout<Scalar>]
    /// The size of each input vector.
    public let inputSize: Int
    /// The size of the hidden state.
    public let hiddenSize: Int

    /// `layerCount` layers of `gates` gates, for the network called `network` in messages.
    init(network: String, gates: Int, inputSize: Int, hiddenSize: Int, layerCount: Int, bias: Bool, dropout: Double,
         using rng: inout SeededGenerator) {
        check(inputSize > 0 && hiddenSize > 0 && layerCount > 0,
              "\(network): input size \(inputSize), hidden size \(hiddenSize) and layer count \(layerCount) must be positive")
        layers = (0..<layerCount).map { layer in
            RecurrentWeights(gates: gates, inputSize: layer == 0 ? inputSize : hiddenSize, hiddenSize: hiddenSize,
                             bias: bias, using: &rng)
        }
        dropouts = (1..<layerCount).map { _ in Dropout(probability: dropout, using: &rng) }
        (self.inputSize, self.hiddenSize) = (inputSize, hiddenSize)
    }

    /// PyTorch's names: `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, then layer 1's.
    public var parameters: [NamedParameter<Scalar>] {
        layers.enumerated().flatMap { layer, weights in weights.pytorchNamed(layer: layer) }
    }

    /// Runs `layer` for each layer in turn on the sequence the one below produced (after
    /// dropout), from `input`; returns the last layer's sequence.
    func run(_ input: Tensor<Scalar>, _ layer: (_ index: Int, _ weights: RecurrentWeights<Scalar>, _ sequence: Tensor<Scalar>) -> Tensor<Scalar>) -> Tensor<Scalar> {
        var sequence = input
        for (index, weights) in layers.enumerated() {
            if index > 0 { sequence = dropouts[index - 1](sequence) }
            sequence = layer(index, weights, sequence)
        }
        return sequence
    }
}

/// Checks a recurrent layer's input: [batch, time, inputSize], with at least one step.
func checkRecurrentInput<Scalar>(_ input: Tensor<Scalar>, inputSize: Int, layer: String) {
    check(input.rank == 3 && input.shape[2] == inputSize && input.shape[1] > 0,
          "\(layer): input \(input.shape) does not fit input size \(inputSize): expected [batch, time, \(inputSize)], time at least 1")
}
