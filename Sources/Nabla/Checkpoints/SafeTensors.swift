import Foundation

/// Named tensors in the safetensors format: an 8-byte little-endian header length, a JSON header
/// giving each tensor's dtype, shape and byte range, then the raw little-endian data.
///
/// Files written here open in other tools (Python's `safetensors`, PyTorch, NumPy with a few
/// lines) and theirs open here. Reading is strict and bounded by the file: a header that points
/// outside the file, overlapping ranges, an unknown dtype or a malformed entry throws a
/// ``DataError`` naming the file and the problem, and nothing is allocated beyond what the file
/// itself holds.
public struct SafeTensors {
    /// A stored tensor, in the precision it was stored in.
    public enum Stored {
        /// 32-bit floats (`F32`).
        case float(Tensor<Float>)
        /// 64-bit floats (`F64`).
        case double(Tensor<Double>)

        /// The stored shape.
        public var shape: [Int] {
            switch self {
            case .float(let t): t.shape
            case .double(let t): t.shape
            }
        }

        /// The values, converted to `Scalar` if stored in the other precision.
        public func tensor<Scalar: TensorScalar>(as _: Scalar.Type = Scalar.self) -> Tensor<Scalar> {
            switch self {
            case .float(let t): (t as? Tensor<Scalar>) ?? Tensor(converting: t)
            case .double(let t): (t as? Tensor<Scalar>) ?? Tensor(converting: t)
            }
        }
    }

    /// The tensors, by name.
    public var tensors: [String: Stored]
    /// Free-form string metadata (`__metadata__` in the header).
    public var metadata: [String: String]

    /// Creates a collection from tensors of one scalar type.
    public init<Scalar: TensorScalar>(_ tensors: [String: Tensor<Scalar>], metadata: [String: String] = [:]) {
        self.tensors = tensors.mapValues { t in
            if let f = t as? Tensor<Float> { return .float(f) }
            return .double(Tensor<Double>(converting: t))
        }
        self.metadata = metadata
    }

    // MARK: Writing

    /// The file's bytes: header and data, tensors in name order.
    public func serialized() -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var data: [UInt8] = []
        for name in tensors.keys.sorted() {
            let stored = tensors[name]!
            let begin = data.count
            let dtype: String
            switch stored {
            case .float(let t):
                dtype = "F32"
                for v in t.scalars { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            case .double(let t):
                dtype = "F64"
                for v in t.scalars { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            }
            header[name] = ["dtype": dtype, "shape": stored.shape, "data_offsets": [begin, data.count]] as [String: Any]
        }
        var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])).map { [UInt8]($0) } ?? []
        // Pad the header with spaces so the data starts 8-byte aligned, as the format recommends.
        while (json.count + 8) % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes.append(contentsOf: $0) }
        return bytes + json + data
    }

    /// Writes the file atomically: to a temporary file beside `path`, then renamed over it, so a
    /// crash never leaves a half-written checkpoint.
    public func write(to path: String) throws {
        try writeAtomically(Data(serialized()), to: path)
    }

    // MARK: Reading

    /// Reads a safetensors file.
    public init(contentsOf path: String) throws {
        try self.init(parsing: try readBytes(path), file: path)
    }

    /// Parses a safetensors file's bytes; `file` names it in errors.
    public init(parsing bytes: [UInt8], file: String) throws {
        func fail(_ reason: String) -> DataError { DataError(file: file, "safetensors: " + reason) }
        guard bytes.count >= 8 else { throw fail("\(bytes.count) bytes is too short for the 8-byte header length") }
        let headerLength = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = bytes.count - dataStart
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])),
              let header = object as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        var tensors: [String: Stored] = [:]
        var metadata: [String: String] = [:]
        var ranges: [(Int, Int, String)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let entries = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (key, item) in entries {
                    guard let text = item as? String else { throw fail("metadata \(key) is not a string") }
                    metadata[key] = text
                }
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shapeValues = entry["shape"] as? [Any], let offsetValues = entry["data_offsets"] as? [Any],
                  offsetValues.count == 2 else {
                throw fail("tensor \(name) needs dtype, shape and two data_offsets")
            }
            let shape = try shapeValues.map { item -> Int in
                guard let n = (item as? NSNumber)?.intValue, n >= 0, "\(item)" == "\(n)" else {
                    throw fail("tensor \(name) has a bad dimension \(item) in shape \(shapeValues)")
                }
                return n
            }
            let offsets = try offsetValues.map { item -> Int in
                guard let n = (item as? NSNumber)?.intValue, n >= 0, "\(item)" == "\(n)" else {
                    throw fail("tensor \(name) has a bad data offset \(item)")
                }
                return n
            }
            let itemSize: Int
            switch dtype {
            case "F32": itemSize = 4
            case "F64": itemSize = 8
            default: throw fail("tensor \(name) has dtype \(dtype); only F32 and F64 are supported")
            }
            var count = 1
            for d in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, product <= dataSize else { throw fail("tensor \(name) of shape \(shape) is larger than the file") }
                count = product
            }
            guard offsets[0] <= offsets[1], offsets[1] <= dataSize else {
                throw fail("tensor \(name) has data offsets \(offsets) outside the \(dataSize) data bytes")
            }
            guard offsets[1] - offsets[0] == count * itemSize else {
                throw fail("tensor \(name) of shape \(shape) and dtype \(dtype) needs \(count * itemSize) bytes, its offsets \(offsets) give \(offsets[1] - offsets[0])")
            }
            ranges.append((offsets[0], offsets[1], name))
            let base = dataStart + offsets[0]
            tensors[name] = bytes.withUnsafeBytes { raw in
                if itemSize == 4 {
                    let values = (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: base + 4 * $0, as: UInt32.self))) }
                    return .float(Tensor(values, shape: shape))
                }
                let values = (0..<count).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: base + 8 * $0, as: UInt64.self))) }
                return .double(Tensor(values, shape: shape))
            }
        }
        ranges.sort { $0.0 < $1.0 }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.0 < a.1 {
            throw fail("tensors \(a.2) and \(b.2) overlap in the data")
        }
        self.tensors = tensors
        self.metadata = metadata
    }
}
