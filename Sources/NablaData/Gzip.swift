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
