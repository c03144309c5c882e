import Nabla
import CZlib

/// Whether `bytes` start with the gzip magic number.
func isGzip(_ bytes: [UInt8]) -> Bool {
    bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
}

/// Inflates gzip data in memory with zlib (the readers of ``IDXFile`` and ``MNIST`` files call
/// it); `file` names the source in errors.
///
/// The output grows as zlib produces it, up to deflate's largest possible expansion of the
/// input (about 1032:1), so a corrupt or hostile file cannot make it allocate more than its size
/// justifies.
public func gunzipData(_ compressed: [UInt8], file: String) throws -> [UInt8] {
    // The trailer's last four bytes hold the size modulo 2³²: a good first guess.
    let sizeHint = compressed.count >= 4
        ? compressed.suffix(4).reversed().reduce(0) { $0 << 8 | Int($1) } : 0
    // 16 + MAX_WBITS: expect a gzip header and trailer.
    return try inflateStream(compressed, windowBits: 16 + MAX_WBITS, sizeHint: sizeHint,
                             limit: compressed.count * 1032 + 1024, file: file, format: "gzip")
}

/// Inflates a zlib stream (as in PNG) that must decompress to at most `limit` bytes. (One byte
/// more is allowed for, so that a stream filling exactly `limit` can report its end; callers
/// check the exact size.)
func inflateZlib(_ compressed: [UInt8], limit: Int, file: String) throws -> [UInt8] {
    try inflateStream(compressed, windowBits: MAX_WBITS, sizeHint: limit + 1,
                      limit: Swift.min(limit + 1, compressed.count * 1032 + 1024), file: file, format: "zlib")
}

private func inflateStream(_ compressed: [UInt8], windowBits: Int32, sizeHint: Int, limit: Int,
                           file: String, format: String) throws -> [UInt8] {
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
