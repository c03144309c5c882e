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

    /// The layers' weights and the dropout between them.
    public var stack: RecurrentStack<Scalar>
    /// The size of each input vector.
    public var inputSize: Int { stack.inputSize }
    /// The size of h and c.
    public var hiddenSize: Int { stack.hiddenSize }

    /// Creates `layerCount` layers, weights drawn as PyTorch's (U(−1/√hidden, 1/√hidden)).
    public init(inputSize: Int, hiddenSize: Int, layerCount: Int = 1, bias: Bool = true, dropout: Double = 0,
                using rng: inout SeededGenerator) {
        stack = RecurrentStack(network: "LSTM", gates: 4, inputSize: inputSize, hiddenSize: hiddenSize,
                               layerCount: layerCount, bias: bias, dropout: dropout, using: &rng)
    }

    /// PyTorch's names: `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, then layer 1's.
    public var parameters: [NamedParameter<Scalar>] { stack.parameters }

    /// The last layer's hidden states, [B, T, hiddenSize], from zero initial states.
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        callAsFunction(input, state: nil).output
    }

    /// The last layer's hidden states [B, T, hiddenSize] and the final state of every layer,
    /// from `state` (zeros when nil).
    public func callAsFunction(_ input: Tensor<Scalar>, state: State?) -> (output: Tensor<Scalar>, state: State) {
        checkRecurrentInput(input, inputSize: inputSize, layer: "LSTM")
        let (batch, time) = (input.shape[0], input.shape[1])
        let stateShape = [stack.layers.count, batch, hiddenSize]
        if let state {
            check(state.hidden.shape == stateShape && state.cell.shape == stateShape,
                  "LSTM: state shapes \(state.hidden.shape) and \(state.cell.shape) do not fit \(stateShape)")
        }
        var (finalHidden, finalCell) = ([Tensor<Scalar>](), [Tensor<Scalar>]())
        let output = stack.run(input) { index, weights, sequence in
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
            finalHidden.append(h)
            finalCell.append(c)
            return Tensor(stacking: outputs, alongAxis: 1)
        }
        return (output, State(hidden: Tensor(stacking: finalHidden), cell: Tensor(stacking: finalCell)))
    }
}
