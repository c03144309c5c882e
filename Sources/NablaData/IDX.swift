import Nabla
/// An IDX file (the format MNIST ships in): a big-endian header giving the element type and the
/// dimensions, then the elements. Only unsigned bytes (type 0x08), which MNIST uses, are read.
public struct IDXFile: Sendable {
    /// The size of each dimension, such as [60000, 28, 28].
    public let dimensions: [Int]
    /// The elements, row-major: a slice of the file's bytes, not a copy.
    public let bytes: ArraySlice<UInt8>

    /// Parses and validates an IDX file's (decompressed) bytes; `file` names it in errors. With
    /// `expected`, the magic number must declare that many dimensions, for that kind of file
    /// (`(3, "an images file")`): a wrong file is then refused by its magic number, before its
    /// header is read as something it is not.
    public init(parsing data: [UInt8], file: String, expected: (rank: Int, kind: String)? = nil) throws {
        var reader = ByteReader(bytes: data, file: file)
        let magic = try reader.unsigned(width: 4, bigEndian: true)
        let (zeros, type, rank) = (magic >> 16, (magic >> 8) & 0xFF, Int(magic & 0xFF))
        let hex = { (value: UInt64) in "0x" + String(repeating: "0", count: max(0, 8 - String(value, radix: 16).count)) + String(value, radix: 16) }
        guard zeros == 0, rank >= 1, rank <= 4 else {
            throw DataError(file: file, "not an IDX file: magic number \(hex(magic)), expected 0x00000801 to 0x00000804")
        }
        if let expected, rank != expected.rank {
            throw DataError(file: file, "magic number \(hex(magic)) declares \(rank) dimensions; \(expected.kind) has "
                            + "\(expected.rank) (\(hex(0x800 + UInt64(expected.rank))))")
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
