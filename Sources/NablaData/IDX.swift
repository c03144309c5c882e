import Nabla
/// An IDX file (the format MNIST ships in): a big-endian header giving the element type and the
/// dimensions, then the elements. Only unsigned bytes (type 0x08), which MNIST uses, are read.
public struct IDXFile: Sendable {
    /// The size of each dimension, such as [60000, 28, 28].
    public let dimensions: [Int]
    /// The elements, row-major: a slice of the file's bytes, not a copy.
    public let bytes: ArraySlice<UInt8>

    /// Parses and validates an IDX file's (decompressed) bytes; `file` names it in errors.
    public init(parsing data: [UInt8], file: String) throws {
        var reader = ByteReader(bytes: data, file: file)
        let magic = try reader.unsigned(width: 4, bigEndian: true)
        let (zeros, type, rank) = (magic >> 16, (magic >> 8) & 0xFF, Int(magic & 0xFF))
        guard zeros == 0, rank >= 1, rank <= 4 else {
            throw DataError(file: file, "not an IDX file: magic number 0x\(String(magic, radix: 16)), expected 0x00000801 to 0x00000804")
        }
        guard type == 0x08 else {
            throw DataError(file: file, "IDX element type 0x\(String(type, radix: 16)) is not supported (only unsigned bytes, 0x08)")
        }
        var dimensions: [Int] = []
        for _ in 0..<rank { dimensions.append(Int(try reader.unsigned(width: 4, bigEndian: true))) }
        // Multiply with overflow checks: the header alone must not be able to demand an absurd size.
        var expected = 1
        for d in dimensions {
            let (product, overflow) = expected.multipliedReportingOverflow(by: d)
            guard !overflow else { throw DataError(file: file, "IDX dimensions \(dimensions) overflow") }
            expected = product
        }
        guard reader.remaining == expected else {
            throw DataError(file: file, "IDX dimensions \(dimensions) need \(expected) data bytes, the file has \(reader.remaining)")
        }
        self.dimensions = dimensions
        self.bytes = try reader.take(expected)
    }
}

extension IDXFile {
    /// Reads and parses an IDX file, gunzipping it if needed.
    public init(path: String) throws {
        try self.init(parsing: try readFile(path), file: path)
    }
}
