import Nabla
import CZlib

/// Whether `bytes` start with the gzip magic number.
func isGzip(_ bytes: [UInt8]) -> Bool {
    bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
}

/// Inflates gzip data in memory with zlib (the readers of ``IDXFile`` and ``MNIST`` files call
/// it); `file` names the source in errors.
///
/// Memory is bounded by what the data can justify, never by what it claims. The output grows as
/// zlib produces it, up to deflate's largest possible expansion of the input (about 1032:1); the
/// gzip trailer's size, which a truncated or hostile file can set to anything, is only a first
/// guess, and no larger than 16 times the input. `declaredSize`, given the first bytes inflated,
/// can lower the bound to what the data's own header declares (an IDX file's dimensions): a stream
/// that inflates past it is refused as soon as it does.
public func gunzipData(_ compressed: [UInt8], file: String, declaredSize: ((_ head: [UInt8]) throws -> Int)? = nil) throws -> [UInt8] {
    let limit = compressed.count * 1032 + 1024
    // The trailer's last four bytes hold the size modulo 2³².
    let trailer = compressed.count >= 4 ? compressed.suffix(4).reversed().reduce(0) { $0 << 8 | Int($1) } : 0
    // 16 + MAX_WBITS: expect a gzip header and trailer.
    return try inflateStream(compressed, windowBits: 16 + MAX_WBITS, sizeHint: Swift.min(trailer, compressed.count * 16 + 65_536),
                             limit: limit, declaredSize: declaredSize, file: file, format: "gzip")
}

/// Inflates a zlib stream (as in PNG) that must decompress to at most `limit` bytes. (One byte
/// more is allowed for, so that a stream filling exactly `limit` can report its end; callers
/// check the exact size.)
func inflateZlib(_ compressed: [UInt8], limit: Int, file: String) throws -> [UInt8] {
    try inflateStream(compressed, windowBits: MAX_WBITS, sizeHint: limit + 1,
                      limit: Swift.min(limit + 1, compressed.count * 1032 + 1024), file: file, format: "zlib")
}

private func inflateStream(_ compressed: [UInt8], windowBits: Int32, sizeHint: Int, limit: Int,
                           declaredSize: (([UInt8]) throws -> Int)? = nil, file: String, format: String) throws -> [UInt8] {
    var (limit, declaredSize, declared) = (limit, declaredSize, false)
    var stream = z_stream()
    guard inflateInit2_(&stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw DataError(file: file, "zlib could not start inflating")
    }
    defer { inflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: Swift.min(Swift.max(sizeHint, 1 << 16), limit))
    var produced = 0
    var status = Z_OK
    try compressed.withUnsafeBufferPointer { input in
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.avail_in = UInt32(input.count)
        while status != Z_STREAM_END {
            if produced == output.count {
                guard output.count < limit else {
                    throw DataError(file: file, "\(format) data expands past \(limit) bytes, more than it can hold")
                }
                output.append(contentsOf: repeatElement(0, count: Swift.min(output.count, limit - output.count)))
            }
            status = output.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress! + produced
                stream.avail_out = UInt32(out.count - produced)
                let result = inflate(&stream, Z_NO_FLUSH)
                produced = out.count - Int(stream.avail_out)
                return result
            }
            if let sizeOf = declaredSize, produced > 0 {
                // The header is in the first bytes: from now on, allow one byte more than it
                // declares, so that a longer stream is caught as soon as it is longer.
                let size = try sizeOf(Array(output[..<Swift.min(produced, 64)]))
                if size != .max || produced >= 64 || status == Z_STREAM_END { declaredSize = nil }
                if size != .max {
                    (limit, declared) = (Swift.min(limit, size + 1), true)
                    if output.count > limit { output.removeSubrange(Swift.max(limit, produced)...) }
                }
            }
            if declared && produced >= limit && status != Z_STREAM_END {
                throw DataError(file: file, "\(format) data holds more than the \(limit - 1) bytes its header declares")
            }
            switch status {
            case Z_OK, Z_STREAM_END: continue
            case Z_BUF_ERROR where stream.avail_in == 0:
                throw DataError(file: file, "\(format) data ends early (truncated file?) after \(produced) bytes")
            case Z_BUF_ERROR: continue
            default:
                let detail = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw DataError(file: file, "corrupt \(format) data: \(detail)")
            }
        }
    }
    output.removeSubrange(produced...)
    return output
}

/// A gzip stream read as it is inflated, a window of `windowSize` bytes at a time: a large
/// compressed file is read without ever holding all it decompresses to (the book's
/// `mnist.pkl.gz` inflates to 220 MB, which its reader converts to 55 MB as it arrives).
/// Reading past the stream's end, or corrupt data, throws naming the file.
struct InflatingReader: ByteInput {
    let file: String
    private(set) var position = 0
    /// zlib keeps a pointer back to its stream, so the stream lives at one address, in a box.
    private let inflater: Inflater
    private var window: [UInt8]
    /// The window's inflated bytes not yet read.
    private var start = 0, end = 0

    init(_ compressed: [UInt8], file: String, windowSize: Int = 1 << 20) throws {
        self.file = file
        inflater = try Inflater(compressed, file: file)
        window = [UInt8](repeating: 0, count: windowSize)
    }

    var maximumRemaining: Int { end - start + inflater.maximumOutput }

    mutating func byte() throws -> UInt8 {
        if start == end { try refill(needing: 1) }
        defer { (start, position) = (start + 1, position + 1) }
        return window[start]
    }

    mutating func take(_ count: Int) throws -> [UInt8] {
        guard count >= 0, count <= maximumRemaining else { throw truncated(needing: count, remaining: maximumRemaining) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        try forEachPiece(of: count) { bytes.append(contentsOf: $0) }
        return bytes
    }

    mutating func forEachPiece(of count: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var left = count
        while left > 0 {
            if start == end { try refill(needing: left) }
            let n = min(left, end - start)
            try window.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start ..< start + n])) }
            (start, position, left) = (start + n, position + n, left - n)
        }
    }

    /// Inflates the next window's worth; `needing` says how many bytes the read wants, for the
    /// error if the stream ends first.
    private mutating func refill(needing count: Int) throws {
        let produced = try window.withUnsafeMutableBytes { try inflater.inflate(into: $0) }
        guard produced > 0 else { throw truncated(needing: count, remaining: 0) }
        (start, end) = (0, produced)
    }
}

/// zlib's inflate state over its own copy of the compressed bytes, both at fixed addresses
/// (zlib keeps pointers to them between calls).
private final class Inflater {
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private let file: String
    private var finished = false

    init(_ compressed: [UInt8], file: String) throws {
        self.file = file
        input = .allocate(capacity: max(compressed.count, 1))
        _ = input.initialize(from: compressed)
        stream.initialize(to: z_stream())
        stream.pointee.next_in = input.baseAddress
        stream.pointee.avail_in = UInt32(compressed.count)
        // 16 + MAX_WBITS: expect a gzip header and trailer.
        guard inflateInit2_(stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            stream.deallocate()
            input.deallocate()
            throw DataError(file: file, "zlib could not start inflating")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    /// The most the rest of the stream can inflate to: deflate's largest expansion (about 1032:1)
    /// of the input left, and what zlib may hold back.
    var maximumOutput: Int { finished ? 0 : Int(stream.pointee.avail_in) * 1032 + (1 << 16) }

    /// Fills `buffer` with the next inflated bytes and returns how many (0 at the stream's end).
    func inflate(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !finished else { return 0 }
        stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_out = UInt32(buffer.count)
        while stream.pointee.avail_out > 0 && !finished {
            let status = CZlib.inflate(stream, Z_NO_FLUSH)
            switch status {
            case Z_OK: continue
            case Z_STREAM_END: finished = true
            case Z_BUF_ERROR where stream.pointee.avail_in == 0:
                throw DataError(file: file, "gzip data ends early (truncated file?) after \(stream.pointee.total_out) bytes")
            case Z_BUF_ERROR: continue
            default:
                let detail = stream.pointee.msg.map { String(cString: $0) } ?? "error \(status)"
                throw DataError(file: file, "corrupt gzip data: \(detail)")
            }
        }
        return buffer.count - Int(stream.pointee.avail_out)
    }
}

/// The CRC-32 (as zlib and gzip compute it) of `bytes`: how downloaded data is verified.
public func crc32Checksum(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBufferPointer { buffer in
        // zlib takes a 32-bit length: feed it in chunks.
        var crc: uLong = crc32(0, nil, 0)
        var offset = 0
        while offset < buffer.count {
            let chunk = Swift.min(buffer.count - offset, 1 << 30)
            crc = crc32(crc, buffer.baseAddress! + offset, uInt(chunk))
            offset += chunk
        }
        return UInt32(crc)
    }
}
