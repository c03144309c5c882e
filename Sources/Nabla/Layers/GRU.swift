/// A gated recurrent unit network (Cho et al., 2014), PyTorch's `nn.GRU` with
/// `batch_first=True`: [B, T, inputSize] → the last layer's hidden states [B, T, hiddenSize].
///
/// One state h, replaced at each step by a gated mix of itself and a candidate:
///
///     r, z = σ(W_ir·x + b_ir + W_hr·h + b_hr), σ(W_iz·x + b_iz + W_hz·h + b_hz)   (PyTorch's order)
///     n = tanh(W_in·x + b_in + r ⊙ (W_hn·h + b_hn))
///     h = (1 − z) ⊙ n + z ⊙ h
///
/// Layers stack as ``LSTM``'s do, and parameters carry PyTorch's names (`weight_ih_l0`, …).
public struct GRU<Scalar: TensorScalar>: Layer {
    /// The layers' weights and the dropout between them.
    public var stack: RecurrentStack<Scalar>
    /// The size of each input vector.
    public var inputSize: Int { stack.inputSize }
    /// The size of h.
    public var hiddenSize: Int { stack.hiddenSize }

    /// Creates `layerCount` layers, weights drawn as PyTorch's (U(−1/√hidden, 1/√hidden)).
    public init(inputSize: Int, hiddenSize: Int, layerCount: Int = 1, bias: Bool = true, dropout: Double = 0,
                using rng: inout SeededGenerator) {
        stack = RecurrentStack(network: "GRU", gates: 3, inputSize: inputSize, hiddenSize: hiddenSize,
                               layerCount: layerCount, bias: bias, dropout: dropout, using: &rng)
    }

    /// PyTorch's names: `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, then layer 1's.
    public var parameters: [NamedParameter<Scalar>] { stack.parameters }

    /// The last layer's hidden states, [B, T, hiddenSize], from a zero initial state.
    public func callAsFunction(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        callAsFunction(input, state: nil).output
    }

    /// The last layer's hidden states [B, T, hiddenSize] and every layer's final h,
    /// [layers, B, hiddenSize] (PyTorch's `h_n`), from `state` (zeros when nil).
    public func callAsFunction(_ input: Tensor<Scalar>, state: Tensor<Scalar>?) -> (output: Tensor<Scalar>, state: Tensor<Scalar>) {
        checkRecurrentInput(input, inputSize: inputSize, layer: "GRU")
        let (batch, time) = (input.shape[0], input.shape[1])
        if let state {
            check(state.shape == [stack.layers.count, batch, hiddenSize],
                  "GRU: state shape \(state.shape) does not fit \([stack.layers.count, batch, hiddenSize])")
        }
        var final: [Tensor<Scalar>] = []
        let output = stack.run(input) { index, weights, sequence in
            var h = state?.rows(index..<index + 1).squeezingShape(at: 0) ?? Tensor(zeros: [batch, hiddenSize])
            let fromInput = weights.inputGates(sequence, foldingHiddenBias: false)
            var outputs: [Tensor<Scalar>] = []
            for t in 0..<time {
                let x = fromInput.rows(t..<t + 1).squeezingShape(at: 0).chunked(into: 3, alongAxis: 1)
                let fromHidden = weights.hiddenGates(h, includingBias: true).chunked(into: 3, alongAxis: 1)
                let (reset, update) = (sigmoid(x[0] + fromHidden[0]), sigmoid(x[1] + fromHidden[1]))
                let candidate = tanh(x[2] + reset * fromHidden[2])
                h = candidate + update * (h - candidate)
                outputs.append(h)
            }
            final.append(h)
            return Tensor(stacking: outputs, alongAxis: 1)
        }
        return (output, Tensor(stacking: final))
    }
}
