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
        let (dimensions, count) = try Self.header(&reader, expected: expected)
        guard reader.remaining == count else {
            throw DataError(file: file, "IDX dimensions \(dimensions) need \(count) data bytes, the file has \(reader.remaining)")
        }
        self.dimensions = dimensions
        self.bytes = try reader.slice(count)
    }

    /// Reads and checks the header: the magic number (and, with `expected`, the kind of file it
    /// declares) and the dimensions, whose product — checked for overflow, so that a header alone
    /// cannot demand an absurd size — is the number of data bytes.
    static func header(_ reader: inout ByteReader, expected: (rank: Int, kind: String)?) throws -> (dimensions: [Int], count: Int) {
        let file = reader.file
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
        var count = 1
        for d in dimensions {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw DataError(file: file, "IDX dimensions \(dimensions) overflow") }
            count = product
        }
        return (dimensions, count)
    }
}

extension IDXFile {
    /// Reads and parses an IDX file, gunzipping it if needed (no further than its header says
    /// the file holds).
    public init(path: String) throws {
        try self.init(parsing: try readFile(path) { try IDXFile.declaredSize(head: $0, file: path) }, file: path)
    }

    /// The size in bytes, header included, that an IDX file starting with `head` declares, or
    /// `Int.max` while the header is incomplete; a bad header throws as ``init(parsing:file:expected:)``
    /// would. Inflating a gzip'd file stops there.
    static func declaredSize(head: [UInt8], file: String, expected: (rank: Int, kind: String)? = nil) throws -> Int {
        guard head.count >= 4, head.count >= 4 + 4 * Int(head[3]) else { return .max }
        var reader = ByteReader(bytes: head, file: file)
        let (_, count) = try header(&reader, expected: expected)
        return count.addingReportingOverflow(reader.position).overflow ? .max : count + reader.position
    }
}
