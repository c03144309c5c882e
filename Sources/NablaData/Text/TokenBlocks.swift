import Nabla

/// A long sequence of token ids and random blocks of it: nanoGPT's `get_batch`. A batch is B
/// blocks of T consecutive tokens starting at random offsets, x, and the same blocks shifted by
/// one, y — at every position the model learns the next token.
///
/// ```swift
/// let text = try readText(path), vocabulary = CharacterVocabulary(text: text)
/// let (train, validation) = try TokenBlocks.split(vocabulary.encode(text), contextLength: 64)   // 90% / 10%
/// train.batch(12, using: &rng, inputs: &x, targets: &y)
/// ```
public struct TokenBlocks: Sendable {
    /// The ids, in order.
    public let tokens: [Int32]
    /// T, the length of a block.
    public let contextLength: Int

    /// Blocks of `contextLength` tokens from `tokens`, which must hold at least one block and the
    /// token after it.
    public init(tokens: [Int], contextLength: Int, name: String = "the text") throws {
        guard contextLength > 0 else { throw VocabularyError(description: "the context length \(contextLength) must be positive") }
        guard tokens.count > contextLength else {
            throw VocabularyError(description: "\(name) has \(tokens.count) tokens, fewer than one block of \(contextLength) and the token after it")
        }
        (self.tokens, self.contextLength) = (tokens.map { Int32($0) }, contextLength)
    }

    /// nanoGPT's split: the first 90% of the tokens to train on, the last 10% to validate on.
    public static func split(_ tokens: [Int], contextLength: Int, trainingFraction: Double = 0.9)
        throws -> (training: TokenBlocks, validation: TokenBlocks) {
        let cut = Int(Double(tokens.count) * trainingFraction)
        return (try TokenBlocks(tokens: Array(tokens[..<cut]), contextLength: contextLength, name: "the training split"),
                try TokenBlocks(tokens: Array(tokens[cut...]), contextLength: contextLength, name: "the validation split"))
    }

    /// How many distinct blocks start positions there are.
    public var startCount: Int { tokens.count - contextLength }

    /// Fills `inputs` and `targets` ([batchSize, contextLength], made so if they are not) with
    /// `batchSize` blocks at offsets drawn from `rng`, in place: a recorded step reads them there.
    public func batch(_ batchSize: Int, using rng: inout SeededGenerator, inputs: inout IndexTensor, targets: inout IndexTensor) {
        let (count, length) = (startCount, contextLength)
        // Shapes compared in place and each block's start drawn as it is written: nothing
        // allocated per batch.
        func fits(_ ids: IndexTensor) -> Bool { ids.rank == 2 && ids.shape[0] == batchSize && ids.shape[1] == length }
        if !fits(inputs) { inputs = IndexTensor(shape: [batchSize, length]) }
        if !fits(targets) { targets = IndexTensor(shape: [batchSize, length]) }
        tokens.withUnsafeBufferPointer { tokens in
            inputs.withUnsafeMutableBufferPointer { x in
                targets.withUnsafeMutableBufferPointer { y in
                    for row in 0..<batchSize {
                        let start = rng.nextInt(below: count)
                        (x.baseAddress! + row * length).update(from: tokens.baseAddress! + start, count: length)
                        (y.baseAddress! + row * length).update(from: tokens.baseAddress! + start + 1, count: length)
                    }
                }
            }
        }
    }
}
