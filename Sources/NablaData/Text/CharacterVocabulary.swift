import Nabla

/// The characters of a text, each with an id: its rank among the sorted distinct characters, as
/// nanoGPT's `shakespeare_char` and makemore number them.
///
/// A character is a Unicode scalar (a code point), as a Python string's element is, so that the
/// ids are the same as those scripts' — Swift's `Character` would join "\r\n" into one.
///
/// ```swift
/// let vocabulary = CharacterVocabulary(text: shakespeare)   // 65 characters
/// let ids = try vocabulary.encode("ROMEO:")
/// vocabulary.decode(ids) == "ROMEO:"
/// ```
public struct CharacterVocabulary: Sendable, Equatable {
    /// The characters, in id order.
    public let characters: [Unicode.Scalar]
    private let ids: [Unicode.Scalar: Int]

    /// The distinct characters of `text`, sorted by code point.
    public init(text: String) {
        self.init(characters: Array(Set(text.unicodeScalars)).sorted { $0.value < $1.value })
    }

    /// Characters in a given order (ids are positions); each must appear once.
    public init(characters: [Unicode.Scalar]) {
        self.characters = characters
        ids = Dictionary(characters.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        check(ids.count == characters.count, "CharacterVocabulary: a character appears twice in \(String(String.UnicodeScalarView(characters)).debugDescription)")
    }

    /// How many characters.
    public var count: Int { characters.count }

    /// The id of each character of `text`; a character outside the vocabulary throws, naming it
    /// and where it is.
    public func encode(_ text: String) throws -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(text.unicodeScalars.count)
        for (offset, scalar) in text.unicodeScalars.enumerated() {
            guard let id = ids[scalar] else {
                throw VocabularyError(
                    description: "the character \(String(scalar).debugDescription) (U+\(String(scalar.value, radix: 16, uppercase: true))) "
                        + "at position \(offset) is not in the vocabulary of \(count) characters")
            }
            result.append(id)
        }
        return result
    }

    /// The text of `ids`; each must be in 0..<count.
    public func decode(_ ids: some Sequence<Int>) -> String {
        var text = String.UnicodeScalarView()
        for id in ids {
            check(id >= 0 && id < count, "CharacterVocabulary.decode: id \(id) is outside 0..<\(count)")
            text.append(characters[id])
        }
        return String(text)
    }

    /// The characters as one string (for a checkpoint's metadata).
    public var joined: String { String(String.UnicodeScalarView(characters)) }

    /// Two vocabularies are equal when they hold the same characters in the same order (the
    /// look-up table follows from them).
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.characters == rhs.characters }
}

/// Text that a vocabulary cannot encode.
public struct VocabularyError: Error, CustomStringConvertible, Equatable {
    /// What is wrong, in one line.
    public let description: String
    /// An error saying `description`.
    public init(description: String) { self.description = description }
}
