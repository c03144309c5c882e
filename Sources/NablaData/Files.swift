import Nabla

/// A file's bytes, gunzipped if they are gzip data.
func readFile(_ path: String, declaredSize: ((_ head: [UInt8]) throws -> Int)? = nil) throws -> [UInt8] {
    let bytes = try readBytes(path)
    return isGzip(bytes) ? try gunzipData(bytes, file: path, declaredSize: declaredSize) : bytes
}

/// Bounds-checked reading of a byte array: every read that would pass the end throws instead.
struct ByteReader {
    let bytes: [UInt8]
    let file: String
    var position = 0

    var remaining: Int { bytes.count - position }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw truncated(needing: 1) }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw truncated(needing: count) }
        defer { position += count }
        return bytes[position ..< position + count]
    }

    /// An unsigned integer of `width` bytes, little- or big-endian.
    mutating func unsigned(width: Int, bigEndian: Bool) throws -> UInt64 {
        let slice = try take(width)
        let ordered = bigEndian ? Array(slice) : slice.reversed()
        return ordered.reduce(0) { $0 << 8 | UInt64($1) }
    }

    func truncated(needing count: Int) -> DataError {
        DataError(file: file, "truncated: needed \(count) bytes at offset \(position), only \(remaining) remain")
    }
}
