import Nabla

/// makemore's data set: words (names), each read one character at a time, with the previous
/// `contextLength` characters as input and the next as target; "." (id 0) pads the start and
/// marks the end. "emma" with context 3 gives "..." → e, "..e" → m, ".em" → m, "emm" → a, "mma" → ".".
///
/// ```swift
/// let names = try NameExamples.splits(words: words, contextLength: 3, seed: 42)   // 80/10/10
/// ```
public struct NameExamples: Sendable {
    /// "." then the words' sorted characters.
    public let vocabulary: CharacterVocabulary
    /// The characters before each target, `contextLength` ids each, one example after another.
    public let contexts: [Int32]
    /// The next character of each example.
    public let nextCharacters: [Int32]
    /// How many characters each context holds.
    public let contextLength: Int

    /// The examples of `words`.
    public init(words: [String], vocabulary: CharacterVocabulary, contextLength: Int) throws {
        var (x, y) = ([Int](), [Int]())
        for word in words {
            var context = [Int](repeating: 0, count: contextLength)
            for id in try vocabulary.encode(word) + [0] {
                x += context
                y.append(id)
                context = Array(context.dropFirst()) + [id]
            }
        }
        (self.vocabulary, self.contextLength) = (vocabulary, contextLength)
        (contexts, nextCharacters) = (x.map { Int32($0) }, y.map { Int32($0) })
    }

    /// How many examples.
    public var count: Int { nextCharacters.count }

    /// Fills `inputs` ([examples, contextLength]) and `targets` ([examples]) with the examples at
    /// `examples`, in place when they have those shapes already.
    public func batch(_ examples: ArraySlice<Int>, inputs: inout IndexTensor, targets: inout IndexTensor) {
        let (rows, length) = (examples.count, contextLength)
        // Compared in place: building the shapes as arrays would allocate every batch.
        if inputs.rank != 2 || inputs.shape[0] != rows || inputs.shape[1] != length { inputs = IndexTensor(shape: [rows, length]) }
        if targets.rank != 1 || targets.shape[0] != rows { targets = IndexTensor(shape: [rows]) }
        contexts.withUnsafeBufferPointer { contexts in
            inputs.withUnsafeMutableBufferPointer { x in
                targets.withUnsafeMutableBufferPointer { y in
                    for (row, example) in examples.enumerated() {
                        check(example >= 0 && example < nextCharacters.count, "NameExamples.batch: no example \(example) of \(nextCharacters.count)")
                        (x.baseAddress! + row * length).update(from: contexts.baseAddress! + example * length, count: length)
                        y[row] = nextCharacters[example]
                    }
                }
            }
        }
    }

    /// The examples as tensors of ids held as scalars (a ``Dataset`` for a ``Trainer``): inputs
    /// [count, contextLength], targets [count].
    public func dataset<Scalar: TensorScalar>(as _: Scalar.Type = Scalar.self) -> TensorDataset<Scalar> {
        TensorDataset(inputs: Tensor(contexts.map { Scalar($0) }, shape: [count, contextLength]),
                      targets: Tensor(nextCharacters.map { Scalar($0) }, shape: [count]))
    }

    /// The words of a names file, one a line, lower-cased letters: empty lines are skipped; a
    /// line with "." (the end marker) throws, naming it.
    public static func words(in text: String, file: String) throws -> [String] {
        let words = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if let bad = words.firstIndex(where: { $0.contains(".") }) {
            throw DataError(file: file, "word \(bad + 1), \(words[bad].debugDescription), contains \".\", which marks a name's end")
        }
        guard !words.isEmpty else { throw DataError(file: file, "holds no words") }
        return words
    }

    /// makemore's split: the words shuffled with `seed`, then 80% to train, 10% to tune (dev),
    /// 10% to test.
    public static func splits(words: [String], contextLength: Int, seed: UInt64)
        throws -> (training: NameExamples, development: NameExamples, test: NameExamples) {
        let vocabulary = CharacterVocabulary(characters: ["."] + CharacterVocabulary(text: words.joined()).characters)
        var rng = SeededGenerator(seed: seed)
        let shuffled = rng.permutation(of: words.count).map { words[$0] }
        let (n1, n2) = (Int(0.8 * Double(words.count)), Int(0.9 * Double(words.count)))
        return (try NameExamples(words: Array(shuffled[..<n1]), vocabulary: vocabulary, contextLength: contextLength),
                try NameExamples(words: Array(shuffled[n1..<n2]), vocabulary: vocabulary, contextLength: contextLength),
                try NameExamples(words: Array(shuffled[n2...]), vocabulary: vocabulary, contextLength: contextLength))
    }
}
