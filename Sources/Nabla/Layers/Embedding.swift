/// A table of learned vectors, one per token: ids of any shape [...] → vectors [..., dimension].
///
/// The ids are an ``IndexTensor`` — or, as a ``Layer``'s input (the first layer of a
/// ``Sequential``), whole numbers held in the model's scalar type (``Tensor/init(indices:shape:)``);
/// either way a batch of them is an ordinary step input. The lookup is
/// ``Tensor/gathering(_:alongAxis:)-(IndexTensor,_)`` of the table's rows; its gradient adds each
/// vector's gradient into the row it came from, so a token seen twice in a batch gets both. Row i
/// is the same as `weight`'s row i in PyTorch's `nn.Embedding`.
///
/// ```swift
/// let embed = Embedding<Float>(count: 65, dimension: 128, using: &rng)
/// let vectors = embed(ids)        // [B, T] → [B, T, 128]
/// ```
public struct Embedding<Scalar: TensorScalar>: Layer {
    /// The vectors, [count, dimension].
    @Parameter public var weight: Tensor<Scalar>

    /// Creates a table of `count` vectors of `dimension` elements, drawn from `initializer`
    /// (by default N(0, 1), PyTorch's `nn.Embedding`; a GPT uses N(0, 0.02²)).
    public init(count: Int, dimension: Int, initializer: Initializer<Scalar> = .standardNormal,
                using rng: inout SeededGenerator) {
        check(count > 0 && dimension > 0, "Embedding: count \(count) and dimension \(dimension) must be positive")
        weight = initializer.make([count, dimension], count, dimension, &rng)
    }

    /// Creates a table from given vectors, [count, dimension].
    public init(weight: Tensor<Scalar>) {
        check(weight.rank == 2, "Embedding: weight \(weight.shape) must be [count, dimension]")
        self.weight = weight
    }

    /// How many vectors the table holds (the vocabulary's size).
    public var count: Int { weight.shape[0] }
    /// The length of each vector.
    public var dimension: Int { weight.shape[1] }

    /// The vectors of `ids`: [...] → [..., dimension]. An id outside 0..<count stops with its value.
    public func callAsFunction(_ ids: IndexTensor) -> Tensor<Scalar> {
        weight.gathering(ids)
    }

    /// The vectors of ids held as scalars: [...] → [..., dimension].
    public func callAsFunction(_ ids: Tensor<Scalar>) -> Tensor<Scalar> {
        weight.gathering(ids)
    }
}
