/// A long short-term memory network (Hochreiter and Schmidhuber, 1997), PyTorch's `nn.LSTM`
/// with `batch_first=True`: [B, T, inputSize] → the last layer's hidden states [B, T, hiddenSize].
///
/// Each step carries a cell state c, written through gates rather than overwritten, so that
/// what it holds can survive many steps; the hidden state h is a gated view of it:
///
///     i, f, g, o = σ(·), σ(·), tanh(·), σ(·) of W_ih·x + b_ih + W_hh·h + b_hh   (PyTorch's order)
///     c = f ⊙ c + i ⊙ g
///     h = o ⊙ tanh(c)
///
/// Layers stack: each reads the hidden states of the one below (with dropout between them in
/// training when `dropout` > 0). Parameters carry PyTorch's names (`weight_ih_l0`,
/// `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, `…_l1`) and layouts, so state dicts interoperate.
public struct LSTM<Scalar: TensorScalar>: Layer {
    /// The hidden and cell states after a step of every layer: each [layers, B, hiddenSize], as
    /// PyTorch's `(h_n, c_n)`.
    public struct State {
        /// h, per layer.
        public var hidden: Tensor<Scalar>
        /// c, per layer.
        public var cell: Tensor<Scalar>
        /// Wraps the two.
        public init(hidden: Tensor<Scalar>, cell: Tensor<Scalar>) { (self.hidden, self.cell) = (hidden, cell) }
    }

    /// Each layer's weights, bottom first.
    public var layers: [RecurrentWeights<Scalar>]
    /// Dropout on each layer's output but the last's.
    public var dropouts: [Dropout<Scalar>]
    /// The size of each input vector.
    public let inputSize: Int
    /// The size of h and c.
    public let hiddenSize: Int

    /// Creates `layerCount` layers, weights drawn as PyTorch's (U(−1/√hidden, 1/√hidden)).
    public init(inputSize: Int, hiddenSize: Int, layerCount: Int = 1, bias: Bool = true, dropout: Double = 0,
                using rng: inout SeededGenerator) {
        check(inputSize > 0 && hiddenSize > 0 && layerCount > 0,
              "LSTM: input size \(inputSize), hidden size \(hiddenSize) and layer count \(layerCount) must be positive")
        layers = (0..<layerCount).map { layer in
            RecurrentWeights(gates: 4, inputSize: layer == 0 ? inputSize : hiddenSize, hiddenSize: hiddenSize,
                             bias: bias, using: &rng)
        }
        dropouts = (1..<layerCount).map { _ in Dropout(probability: dropout, using: &rng) }
        (self.inputSize, self.hiddenSize) = (inputSize, hiddenSize)
    }

    /// PyTorch's names: `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, then layer 1's.
    public var parameters: [NamedParameter<Scalar>] {
        layers.enumerated().flatMap { layer, weights in weights.pytorchNamed(layer: layer) }
    }

    /// The last layer's hidden states, [B, T, hiddenSize], from zero initial states.
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        callAsFunction(input, state: nil).output
    }

    /// The last layer's hidden states [B, T, hiddenSize] and the final state of every layer,
    /// from `state` (zeros when nil).
    public func callAsFunction(_ input: Tensor<Scalar>, state: State?) -> (output: Tensor<Scalar>, state: State) {
        checkRecurrentInput(input, inputSize: inputSize, layer: "LSTM")
        let (batch, time) = (input.shape[0], input.shape[1])
        let stateShape = [layers.count, batch, hiddenSize]
        if let state {
            check(state.hidden.shape == stateShape && state.cell.shape == stateShape,
                  "LSTM: state shapes \(state.hidden.shape) and \(state.cell.shape) do not fit \(stateShape)")
        }
        var (sequence, finalHidden, finalCell) = (input, [Tensor<Scalar>](), [Tensor<Scalar>]())
        for (index, weights) in layers.enumerated() {
            if index > 0 { sequence = dropouts[index - 1](sequence) }
            var h = state?.hidden.rows(index..<index + 1).squeezingShape(at: 0) ?? Tensor(zeros: [batch, hiddenSize])
            var c = state?.cell.rows(index..<index + 1).squeezingShape(at: 0) ?? Tensor(zeros: [batch, hiddenSize])
            let fromInput = weights.inputGates(sequence, foldingHiddenBias: true)
            var outputs: [Tensor<Scalar>] = []
            for t in 0..<time {
                let gates = fromInput.rows(t..<t + 1).squeezingShape(at: 0) + weights.hiddenGates(h, includingBias: false)
                let parts = gates.chunked(into: 4, alongAxis: 1)
                c = sigmoid(parts[1]) * c + sigmoid(parts[0]) * tanh(parts[2])
                h = sigmoid(parts[3]) * tanh(c)
                outputs.append(h)
            }
            sequence = Tensor(stacking: outputs, alongAxis: 1)
            finalHidden.append(h)
            finalCell.append(c)
        }
        return (sequence, State(hidden: Tensor(stacking: finalHidden), cell: Tensor(stacking: finalCell)))
    }
}
