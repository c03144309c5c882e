import Nabla

/// A file's bytes, gunzipped if they are gzip data.
func readFile(_ path: String, declaredSize: ((_ head: [UInt8]) throws -> Int)? = nil) throws -> [UInt8] {
    let bytes = try readBytes(path)
    return isGzip(bytes) ? try gunzipData(bytes, file: path, declaredSize: declaredSize) : bytes
}

/// Bytes read in order, bounds-checked: every read that would pass the end throws instead. A
/// byte array in memory (``ByteReader``) or a gzip stream inflated as it is read
/// (``InflatingReader``).
protocol ByteInput {
    /// The file the bytes come from, for errors.
    var file: String { get }
    /// Bytes read so far.
    var position: Int { get }
    /// The most bytes that can remain: what a length read from the data must not exceed before
    /// anything is allocated for it.
    var maximumRemaining: Int { get }
    mutating func byte() throws -> UInt8
    /// The next `count` bytes.
    mutating func take(_ count: Int) throws -> [UInt8]
    /// Passes the next `count` bytes to `body` in consecutive pieces, without holding them all.
    mutating func forEachPiece(of count: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws
}

extension ByteInput {
    /// An unsigned integer of `width` bytes, little- or big-endian.
    mutating func unsigned(width: Int, bigEndian: Bool) throws -> UInt64 {
        let bytes = try take(width)
        let ordered = bigEndian ? bytes : bytes.reversed()
        return ordered.reduce(0) { $0 << 8 | UInt64($1) }
    }

    func truncated(needing count: Int, remaining: Int) -> DataError {
        DataError(file: file, "truncated: needed \(count) bytes at offset \(position), only \(remaining) remain")
    }
}

/// Bounds-checked reading of a byte array.
struct ByteReader: ByteInput {
    let bytes: [UInt8]
    let file: String
    var position = 0

    var remaining: Int { bytes.count - position }
    var maximumRemaining: Int { remaining }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw truncated(needing: 1) }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func take(_ count: Int) throws -> [UInt8] {
        Array(try slice(count))
    }

    /// The next `count` bytes, as a slice of the array (no copy).
    mutating func slice(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw truncated(needing: count) }
        defer { position += count }
        return bytes[position ..< position + count]
    }

    mutating func forEachPiece(of count: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let piece = try slice(count)
        try piece.withUnsafeBytes(body)
    }

    func truncated(needing count: Int) -> DataError { truncated(needing: count, remaining: remaining) }
}
