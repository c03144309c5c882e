import CAllocationCounter
import Foundation
import Nabla
import NablaData
import Testing

/// Where the tests find the text data: `$NABLA_TEXT`, then `../shared/text` beside the checkout.
let textDirectory: String? = {
    if let explicit = ProcessInfo.processInfo.environment["NABLA_TEXT"], !explicit.isEmpty { return explicit }
    let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let beside = checkout.deletingLastPathComponent().appendingPathComponent("shared/text").path
    return FileManager.default.fileExists(atPath: beside + "/tinyshakespeare.txt") ? beside : nil
}()

extension Trait where Self == ConditionTrait {
    /// Runs the test where the text data is found, and always under `NABLA_REQUIRE_MNIST` (CI).
    static var needsText: Self {
        .enabled(if: textDirectory != nil || ProcessInfo.processInfo.environment["NABLA_REQUIRE_MNIST"] != nil,
                 "text data not found (NABLA_TEXT or ../shared/text)")
    }
}

/// A scratch file holding `bytes`, removed by the caller.
func scratchFile(_ bytes: [UInt8], name: String = "text.txt") throws -> String {
    let directory = NSTemporaryDirectory() + "nabla-text-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let path = directory + "/" + name
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

@Suite struct TextDataTests {
    @Test func vocabularyIsTheSortedDistinctCodePoints() throws {
        let vocabulary = CharacterVocabulary(text: "hello, world\r\n")
        #expect(vocabulary.joined == "\n\r ,dehlorw")
        let ids = try vocabulary.encode("world\r\n")
        #expect(ids == [10, 8, 9, 7, 4, 1, 0])   // "\r\n" is two ids, as in Python
        #expect(vocabulary.decode(ids) == "world\r\n")
        #expect(throws: VocabularyError.self) { try vocabulary.encode("hé") }
        do {
            _ = try vocabulary.encode("hello é")
        } catch let error as VocabularyError {
            #expect(error.description == "the character \"é\" (U+E9) at position 6 is not in the vocabulary of 11 characters")
        }
    }

    @Test(.needsText) func tinyShakespeareAsNanoGPTReadsIt() throws {
        let text = try readText(try findTextFile(named: "tinyshakespeare.txt", given: textDirectory))
        let vocabulary = CharacterVocabulary(text: text)
        // nanoGPT's prepare.py: 65 characters, "\n !$&',-.3:;?ABC…", 1,003,854 train and 111,540 val tokens.
        #expect(vocabulary.count == 65)
        #expect(vocabulary.joined.hasPrefix("\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabc"))
        let (training, validation) = try TokenBlocks.split(vocabulary.encode(text), contextLength: 64)
        #expect(training.tokens.count == 1_003_854 && validation.tokens.count == 111_540)
    }

    @Test func blocksAreConsecutiveAndTargetsShiftedByOne() throws {
        let blocks = try TokenBlocks(tokens: Array(0..<100), contextLength: 8)
        var rng = SeededGenerator(seed: 1)
        var (x, y) = (IndexTensor(shape: [0]), IndexTensor(shape: [0]))
        blocks.batch(5, using: &rng, inputs: &x, targets: &y)
        #expect(x.shape == [5, 8] && y.shape == [5, 8])
        let (xs, ys) = (x.scalars, y.scalars)
        for row in 0..<5 {
            for t in 0..<8 {
                #expect(ys[row * 8 + t] == xs[row * 8 + t] + 1)
                if t > 0 { #expect(xs[row * 8 + t] == xs[row * 8 + t - 1] + 1) }
            }
            #expect(xs[row * 8] >= 0 && ys[row * 8 + 7] <= 99)
        }
        // Refilled in place: the same storage, new blocks, nothing allocated.
        let before = x.scalars
        let allocations = nabla_thread_allocation_count()
        blocks.batch(5, using: &rng, inputs: &x, targets: &y)
        if isOptimizedBuild { #expect(nabla_thread_allocation_count() == allocations) }
        #expect(x.scalars != before)
    }

    @Test func aTextShorterThanOneBlockIsAnError() {
        #expect { try TokenBlocks(tokens: Array(0..<64), contextLength: 64) } throws: {
            "\($0)" == "the text has 64 tokens, fewer than one block of 64 and the token after it"
        }
        #expect { try TokenBlocks.split(Array(0..<100), contextLength: 64) } throws: { "\($0)".hasPrefix("the validation split has 10 tokens") }
    }

    @Test func namesBecomeContextsAndNextCharacters() throws {
        let vocabulary = CharacterVocabulary(characters: Array(".aem".unicodeScalars))
        let examples = try NameExamples(words: ["emma"], vocabulary: vocabulary, contextLength: 3)
        // "..." → e, "..e" → m, ".em" → m, "emm" → a, "mma" → "."
        #expect(examples.contexts == [0, 0, 0, 0, 0, 2, 0, 2, 3, 2, 3, 3, 3, 3, 1])
        #expect(examples.nextCharacters == [2, 3, 3, 1, 0])
        // A batch of examples 4 and 1, then 2, refilled where it fits.
        var (x, y) = (IndexTensor(shape: [0]), IndexTensor(shape: [0]))
        examples.batch([4, 1][...], inputs: &x, targets: &y)
        #expect(x == IndexTensor([3, 3, 1, 0, 0, 2], shape: [2, 3]) && y == IndexTensor([0, 3]))
        let (storage, pair) = (x.withUnsafeBufferPointer { $0.baseAddress }, [2, 2][...])
        let allocations = nabla_thread_allocation_count()
        examples.batch(pair, inputs: &x, targets: &y)
        if isOptimizedBuild { #expect(nabla_thread_allocation_count() == allocations) }
        #expect(x.withUnsafeBufferPointer { $0.baseAddress } == storage && x.scalars == [0, 2, 3, 0, 2, 3] && y.scalars == [3, 3])
        examples.batch([3][...], inputs: &x, targets: &y)
        #expect(x.shape == [1, 3] && y.scalars == [1])
        #expect(throws: DataError.self) { try NameExamples.words(in: "anna\nmr. x\n", file: "names.txt") }
    }

    @Test(.needsText) func makemoreNamesHave228146Examples() throws {
        let file = try findTextFile(named: "names.txt", given: textDirectory)
        let words = try NameExamples.words(in: try readText(file), file: file)
        #expect(words.count == 32_033)
        let (training, development, test) = try NameExamples.splits(words: words, contextLength: 3, seed: 42)
        // makemore part 2: X is [228146, 3] over all names; 27 characters with ".".
        #expect(training.count + development.count + test.count == 228_146)
        #expect(training.vocabulary.count == 27 && training.vocabulary.joined == ".abcdefghijklmnopqrstuvwxyz")
    }

    @Test func badTextFilesAreOneClearError() throws {
        let cases: [([UInt8], String)] = [
            ([], "is empty: a text model needs text to learn from"),
            (Array("abc\u{0}def".utf8), "is binary, not text: a NUL byte at offset 3"),
            ([0x61, 0x62, 0xFF, 0x63], "is not UTF-8 text: an invalid byte sequence near offset 2"),
            (Array(repeating: 0x01, count: 10) + Array("text".utf8), "is binary, not text: 10 of its 14 bytes are control characters"),
        ]
        for (bytes, reason) in cases {
            let path = try scratchFile(bytes)
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect { try readText(path) } throws: { "\($0)" == "\(path): \(reason)" }
        }
        #expect { try findTextFile(named: "x.txt", given: "/no/such/place") } throws: { "\($0)" == "/no/such/place: does not exist" }
    }
}
