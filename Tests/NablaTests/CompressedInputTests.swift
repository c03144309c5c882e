import CZlib
import Foundation
import Nabla
import NablaData
import Testing

/// `bytes` gzip'd with zlib, as a test's hostile or truncated files are made.
func gzip(_ bytes: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    // 15 + 16: a gzip header and trailer.
    precondition(deflateInit2_(&stream, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
    defer { deflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 64)
    var input = bytes
    input.withUnsafeMutableBufferPointer { source in
        output.withUnsafeMutableBufferPointer { target in
            stream.next_in = source.baseAddress
            stream.avail_in = UInt32(source.count)
            stream.next_out = target.baseAddress
            stream.avail_out = UInt32(target.count)
            precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
        }
    }
    return Array(output.prefix(Int(stream.total_out)))
}

/// An IDX header: magic 0x0000_08_rank and the dimensions, big-endian.
func idxHeader(_ dimensions: [Int]) -> [UInt8] {
    let words = [0x800 + dimensions.count] + dimensions
    return words.flatMap { word in (0..<4).reversed().map { UInt8(truncatingIfNeeded: word >> (8 * $0)) } }
}

/// This process's peak resident memory, in bytes.
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

@Suite(.serialized) struct CompressedInputTests {
    func write(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "nabla-\(UInt64.random(in: 0 ... .max)).idx.gz"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A labels file whose header declares 1,000 labels and whose stream holds 64 MB: inflating
    /// stops just past the 1,008 bytes declared.
    @Test func aFileThatInflatesPastItsHeaderIsStoppedThere() throws {
        let bomb = gzip(idxHeader([1000]) + [UInt8](repeating: 0, count: 64 << 20))
        let path = try write(bomb)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let before = peakResidentBytes()
        #expect {
            try IDXFile(path: path)
        } throws: { error in
            "\(error)".contains("holds more than the 1008 bytes its header declares") && "\(error)".contains(path)
        }
        #expect(peakResidentBytes() - before < 32 << 20, "inflating the bomb raised peak memory by \((peakResidentBytes() - before) >> 20) MB")
    }

    /// A truncated file whose last four bytes (gzip's size field) claim 3,840 MiB: the reader
    /// must not allocate that, and says the data ends early.
    @Test func aTruncatedFileIsNotSizedByItsTrailer() throws {
        var rng = SystemRandomNumberGenerator()
        let pixels = (0..<(2000 * 784)).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }  // incompressible
        var truncated = Array(gzip(idxHeader([2000, 28, 28]) + pixels).prefix(1_000_000))
        truncated.replaceSubrange((truncated.count - 4)..., with: [0, 0, 0, 0xF0])
        let path = try write(truncated)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let before = peakResidentBytes()
        #expect {
            try IDXFile(path: path)
        } throws: { error in
            "\(error)".contains("ends early")
        }
        #expect(peakResidentBytes() - before < 100 << 20, "reading raised peak memory by \((peakResidentBytes() - before) >> 20) MB")
    }

    @Test func aWellFormedFileStillReads() throws {
        let path = try write(gzip(idxHeader([3, 2]) + [1, 2, 3, 4, 5, 6]))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try IDXFile(path: path)
        #expect(file.dimensions == [3, 2] && Array(file.bytes) == [1, 2, 3, 4, 5, 6])
    }

    @Test func aBadMagicNumberIsNamedBeforeInflatingTheRest() throws {
        let path = try write(gzip([0, 0, 9, 3] + [UInt8](repeating: 7, count: 1 << 20)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            try IDXFile(path: path)
        } throws: { error in
            "\(error)".contains("element type 0x9 is not supported")
        }
    }

    /// A gzip'd pickle is inflated as it is read and its large float arrays converted to pixels
    /// as they arrive, across the reader's 1 MB windows (values split between two of them
    /// included): the same set as parsing the whole pickle in memory.
    @Test func aGzippedPickleIsReadAsItInflates() throws {
        let pickle = FuzzTests.bookPickle(images: [450, 30, 20]) { n, j in Float((n * 7 + j) % 256) / 256 }
        #expect(pickle.count > 1 << 20)
        let streamed = try MNIST(pickleAt: try write(gzip(pickle)))
        let whole = try MNIST(parsingPickle: pickle, file: "whole")
        for (a, b, count) in [(streamed.training, whole.training, 450), (streamed.validation, whole.validation, 30),
                              (streamed.test, whole.test, 20)] {
            #expect(a.count == count && b.count == count)
            let x: Tensor<Float> = a.images(at: Array(0..<count)), y: Tensor<Float> = b.images(at: Array(0..<count))
            #expect(x.scalars == y.scalars)
        }
        let first: Tensor<Float> = streamed.training.images(at: [449])
        #expect(first.scalars[5] == Float((449 * 7 + 5) % 256) / 256)
    }

    @Test func aTruncatedOrCorruptGzippedPickleIsRefused() throws {
        let compressed = gzip(FuzzTests.bookPickle(images: [200, 10, 10]))
        try expectError(containing: "ends early") { _ = try MNIST(pickleAt: try write(Array(compressed.prefix(compressed.count / 2)))) }
        var corrupt = compressed
        corrupt[corrupt.count / 2] ^= 0xFF
        corrupt[corrupt.count / 2 + 1] ^= 0xFF
        try expectError(containing: "gzip") { _ = try MNIST(pickleAt: try write(corrupt)) }
        let outOfRange = FuzzTests.bookPickle(images: [200, 10, 10]) { n, j in n == 150 && j == 3 ? 1.5 : 0 }
        try expectError(containing: "outside [0, 1)") { _ = try MNIST(pickleAt: try write(gzip(outOfRange))) }
    }

    func expectError(containing text: String, _ body: () throws -> Void) throws {
        do {
            try body()
            Issue.record("expected an error containing \"\(text)\"")
        } catch let error as DataError {
            #expect("\(error)".contains(text), "\(error)")
        }
    }
}
