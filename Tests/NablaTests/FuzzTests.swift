import Nabla
import NablaData
import Testing

/// Seeded mutation fuzzing of every reader of outside data, on a fixed budget: each mutant must
/// either parse or throw a `DataError` (a crash fails the whole run). The same seed gives the same
/// mutants, so a failure reproduces. Longer campaigns: Fuzz/README.md.
@Suite struct FuzzTests {
    static let iterations = 1500

    /// Applies one to four random edits: byte flips, overwrites, insertions, deletions,
    /// truncation, duplicated chunks, and integers pushed to their extremes.
    static func mutate(_ input: [UInt8], using rng: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        for _ in 0...rng.nextInt(below: 4) {
            let position = bytes.isEmpty ? 0 : rng.nextInt(below: bytes.count)
            switch rng.nextInt(below: 7) {
            case 0 where !bytes.isEmpty: bytes[position] ^= UInt8(1 << rng.nextInt(below: 8))
            case 1 where !bytes.isEmpty: bytes[position] = UInt8(truncatingIfNeeded: rng.next())
            case 2: bytes.insert(contentsOf: (0...rng.nextInt(below: 8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: position)
            case 3 where !bytes.isEmpty: bytes.removeSubrange(position ..< min(bytes.count, position + 1 + rng.nextInt(below: 16)))
            case 4: bytes = Array(bytes.prefix(position))
            case 5 where bytes.count > 8:
                let start = rng.nextInt(below: bytes.count - 8)
                bytes.insert(contentsOf: bytes[start ..< start + 8], at: position)
            default:
                for i in position ..< min(bytes.count, position + 4) { bytes[i] = rng.nextInt(below: 2) == 0 ? 0xFF : 0x7F }
            }
        }
        return bytes
    }

    /// Runs `read` on mutants of `seedInput`, counting those that parsed.
    static func fuzz(_ seedInput: [UInt8], seed: UInt64, _ read: ([UInt8]) throws -> Void) -> Int {
        var rng = SeededGenerator(seed: seed)
        var parsed = 0
        for _ in 0..<iterations {
            do {
                try read(mutate(seedInput, using: &rng))
                parsed += 1
            } catch is DataError {
                continue
            } catch {
                Issue.record("a reader threw \(type(of: error)) instead of DataError: \(error)")
            }
        }
        return parsed
    }

    /// A small IDX file of three 2×2 images.
    static let idx: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2] + Array(0..<12)

    @Test func idxReader() {
        #expect(throws: Never.self) { try IDXFile(parsing: Self.idx, file: "seed") }
        let parsed = Self.fuzz(Self.idx, seed: 1) { _ = try IDXFile(parsing: $0, file: "mutant") }
        #expect(parsed < Self.iterations / 2, "mutants must mostly be rejected: \(parsed) parsed")
    }

    @Test(.needsMNIST) func gzipReader() throws {
        // A real gzip stream: the labels file of the test set, 4.5 KB compressed.
        let compressed = try FileBytes.read((mnistDirectory ?? "") + "/t10k-labels-idx1-ubyte.gz")
        #expect(try gunzipData(compressed, file: "seed").count == 10_008)
        let parsed = Self.fuzz(compressed, seed: 2) { _ = try IDXFile(parsing: try gunzipData($0, file: "mutant"), file: "mutant") }
        #expect(parsed < Self.iterations / 2, "mutants must mostly be rejected: \(parsed) parsed")
    }

    @Test func pickleReader() throws {
        let pickle = Self.tinyBookPickle()
        let original = try MNIST(parsingPickle: pickle, file: "seed")
        #expect(original.training.count == 1 && original.test.labels(at: [0]) == [7])
        let parsed = Self.fuzz(pickle, seed: 3) { _ = try MNIST(parsingPickle: $0, file: "mutant") }
        #expect(parsed < Self.iterations / 2, "mutants must mostly be rejected: \(parsed) parsed")
    }

    @Test func safetensorsReader() throws {
        let file = SafeTensors(["0.weight": Tensor<Float>([1, 2, 3, 4, 5, 6], shape: [2, 3]), "0.bias": Tensor<Float>([7, 8])],
                               metadata: ["sizes": "3,2"]).serialized()
        #expect(try SafeTensors(parsing: file, file: "seed").tensors.count == 2)
        let parsed = Self.fuzz(file, seed: 4) { _ = try SafeTensors(parsing: $0, file: "mutant") }
        #expect(parsed < Self.iterations / 2, "mutants must mostly be rejected: \(parsed) parsed")
    }

    @Test func pgmReader() throws {
        let image = Array("P5\n28 28\n255\n".utf8) + (0..<784).map { UInt8($0 % 256) }
        #expect(try GrayscaleImage(parsingPGM: image, file: "seed").mnistPixels().count == 784)
        let parsed = Self.fuzz(image, seed: 5) { _ = try GrayscaleImage(parsingPGM: $0, file: "mutant").mnistPixels() }
        #expect(parsed < Self.iterations, "some mutants must be rejected: \(parsed) parsed")
    }

    @Test func pngReader() throws {
        let png = tinyPNG()
        #expect(try GrayscaleImage(parsingPNG: png, file: "seed").width == 2)
        let parsed = Self.fuzz(png, seed: 6) { _ = try GrayscaleImage(parsingPNG: $0, file: "mutant") }
        #expect(parsed < Self.iterations / 2, "mutants must mostly be rejected: \(parsed) parsed")
    }

    /// The book's pickle layout, written opcode by opcode as Python 2's protocol 2 writes it, with
    /// one image per split: ((x, y), (x, y), (x, y)).
    static func tinyBookPickle() -> [UInt8] { bookPickle(images: [1, 1, 1]) }

    /// The book's pickle layout with `images[i]` images in split i, pixel j of image n being
    /// `pixel(n, j)` (by default (j mod 256)/256) and every label 7.
    static func bookPickle(images: [Int], pixel: (Int, Int) -> Float = { _, j in Float(j % 256) / 256 }) -> [UInt8] {
        func short(_ text: String) -> [UInt8] { [0x55, UInt8(text.utf8.count)] + Array(text.utf8) }  // SHORT_BINSTRING
        func binstring(_ bytes: [UInt8]) -> [UInt8] {                                                 // BINSTRING
            [0x54] + withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { Array($0) } + bytes
        }
        func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
        func dtype(_ code: String) -> [UInt8] {
            global("numpy", "dtype") + short(code) + [0x4B, 0, 0x4B, 1, 0x87, 0x52]                 // dtype(code, 0, 1)
                + [0x28, 0x4B, 3] + short("<") + [0x4E, 0x4E, 0x4E, 0x4A, 0xFF, 0xFF, 0xFF, 0xFF,
                                                  0x4A, 0xFF, 0xFF, 0xFF, 0xFF, 0x4B, 0, 0x74, 0x62]
        }
        func array(shape: [UInt16], code: String, data: [UInt8]) -> [UInt8] {
            var out = global("numpy.core.multiarray", "_reconstruct") + global("numpy", "ndarray")
            out += [0x4B, 0, 0x85] + short("b") + [0x87, 0x52]                                          // _reconstruct(ndarray, (0,), 'b')
            out += [0x28, 0x4B, 1, 0x28]
            for d in shape { out += [0x4D] + withUnsafeBytes(of: d.littleEndian) { Array($0) } }
            out += [0x74] + dtype(code) + [0x89] + binstring(data) + [0x74, 0x62]                       // BUILD (1, shape, dtype, False, data)
            return out
        }
        func pair(_ count: Int) -> [UInt8] {
            let pixels = (0..<count * 784).flatMap { i in
                withUnsafeBytes(of: pixel(i / 784, i % 784).bitPattern.littleEndian) { Array($0) }
            }
            let labels = (0..<count).flatMap { _ in withUnsafeBytes(of: Int64(7).littleEndian) { Array($0) } }
            return array(shape: [UInt16(count), 784], code: "f4", data: pixels) + array(shape: [UInt16(count)], code: "i8", data: labels) + [0x86]
        }
        return [0x80, 2] + images.flatMap(pair) + [0x87, 0x2E]
    }
}

/// Reads a file's raw bytes (no decompression).
enum FileBytes {
    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError(file: path, "cannot be read") }
        return [UInt8](data)
    }
}

import Foundation
