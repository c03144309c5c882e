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

/// Checks a recurrent layer's input, [batch, time, inputSize], and an initial state's shape.
func checkRecurrentInput<Scalar>(_ input: Tensor<Scalar>, inputSize: Int, layer: String) {
    check(input.rank == 3 && input.shape[2] == inputSize && input.shape[1] > 0,
          "\(layer): input \(input.shape) does not fit input size \(inputSize): expected [batch, time, \(inputSize)], time at least 1")
}
