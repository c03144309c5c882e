import CZlib
import Foundation
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
}
