import Nabla
/// A NumPy array read from a pickle: its shape, dtype and raw little-endian bytes — or, for a
/// large float32 array read with `floatsAsPixels`, its values already converted to pixel bytes.
struct NumPyArray {
    var shape: [Int] = []
    var dtype = ""          // such as "f4" or "i8"
    var data: [UInt8] = []
    var pixels: [UInt8]?

    var itemSize: Int { Int(dtype.dropFirst()) ?? 0 }
}

/// The subset of Python's pickle format that NumPy arrays in nested tuples need: protocols 2 to
/// 4, as written by Python 2 (raw data as a byte string) or by Python 3 (raw data as `bytes`, or
/// as text passed through `_codecs.encode(…, 'latin1')`), with NumPy's module spelled
/// `numpy.core.multiarray` or `numpy._core.multiarray`.
///
/// Nothing is executed: the only callables honoured are the three that rebuild arrays, and every
/// length is checked against the bytes that can remain before anything is allocated.
///
/// With `floatsAsPixels`, a float32 array's data of 64 KB or more is converted as it is read to
/// bytes, MNIST's pixels (value · 256, rounded, which must lie in 0…255): the data need never be
/// held whole, so that a gzip'd pickle read through an ``InflatingReader`` needs a quarter of
/// the memory of its arrays.
struct Unpickler<Input: ByteInput> {
    indirect enum Value {
        case none, bool(Bool), int(Int), float(Double)
        case bytes([UInt8]), text(String)
        case tuple([Value]), list([Value]), dict
        case global(module: String, name: String)
        case dtype(String), array(NumPyArray)
        case pixels([UInt8])   // float32 data converted as it was read
        case mark
    }

    private var reader: Input
    private let floatsAsPixels: Bool
    private var stack: [Value] = []
    private var memo: [Int: Value] = [:]
    private var file: String { reader.file }

    init(reading input: Input, floatsAsPixels: Bool = false) {
        (reader, self.floatsAsPixels) = (input, floatsAsPixels)
    }

    /// Runs the pickle to its STOP and returns the value it built.
    mutating func load() throws -> Value {
        while true {
            let offset = reader.position
            let opcode = try reader.byte()
            switch opcode {
            case 0x80: _ = try reader.byte()                               // PROTO
            case 0x95: _ = try reader.take(8)                              // FRAME
            case 0x28: stack.append(.mark)                                  // MARK
            case 0x2E: return try pop(offset)                               // STOP
            case 0x4E: stack.append(.none)                                  // NONE
            case 0x88: stack.append(.bool(true))                            // NEWTRUE
            case 0x89: stack.append(.bool(false))                           // NEWFALSE
            case 0x4B: stack.append(.int(Int(try reader.byte())))          // BININT1
            case 0x4D: stack.append(.int(Int(try reader.unsigned(width: 2, bigEndian: false))))  // BININT2
            case 0x4A:                                                      // BININT
                stack.append(.int(Int(Int32(truncatingIfNeeded: try reader.unsigned(width: 4, bigEndian: false)))))
            case 0x8A: stack.append(.int(try long1(offset)))                // LONG1
            case 0x47:                                                      // BINFLOAT
                stack.append(.float(Double(bitPattern: try reader.unsigned(width: 8, bigEndian: true))))
            case 0x55, 0x43: stack.append(.bytes(try counted(width: 1)))    // SHORT_BINSTRING, SHORT_BINBYTES
            case 0x54, 0x42: stack.append(try data(width: 4, offset))       // BINSTRING, BINBYTES
            case 0x8E: stack.append(try data(width: 8, offset))             // BINBYTES8
            case 0x8C: stack.append(.text(try utf8(counted(width: 1), offset)))  // SHORT_BINUNICODE
            case 0x58: stack.append(.text(try utf8(counted(width: 4), offset)))  // BINUNICODE
            case 0x63:                                                      // GLOBAL
                stack.append(.global(module: try line(offset), name: try line(offset)))
            case 0x93:                                                      // STACK_GLOBAL
                let name = try pop(offset), module = try pop(offset)
                guard case .text(let n) = name, case .text(let m) = module else {
                    throw error(offset, "STACK_GLOBAL needs two strings")
                }
                stack.append(.global(module: m, name: n))
            case 0x29: stack.append(.tuple([]))                             // EMPTY_TUPLE
            case 0x85, 0x86, 0x87:                                          // TUPLE1, TUPLE2, TUPLE3
                let n = Int(opcode - 0x84)
                guard stack.count >= n else { throw error(offset, "tuple of \(n) from a stack of \(stack.count)") }
                let items = Array(stack.suffix(n))
                stack.removeLast(n)
                stack.append(.tuple(items))
            case 0x74: stack.append(.tuple(try popToMark(offset)))         // TUPLE
            case 0x5D: stack.append(.list([]))                              // EMPTY_LIST
            case 0x61:                                                      // APPEND
                let item = try pop(offset)
                try appendToList([item], offset)
            case 0x65: try appendToList(try popToMark(offset), offset)      // APPENDS
            case 0x7D: stack.append(.dict)                                  // EMPTY_DICT (contents unused)
            case 0x75: _ = try popToMark(offset)                            // SETITEMS
            case 0x73: _ = try pop(offset); _ = try pop(offset)             // SETITEM
            case 0x71: memo[Int(try reader.byte())] = try peek(offset)     // BINPUT
            case 0x72: memo[Int(try reader.unsigned(width: 4, bigEndian: false))] = try peek(offset)  // LONG_BINPUT
            case 0x94: memo[memo.count] = try peek(offset)                 // MEMOIZE
            case 0x68: stack.append(try recall(Int(try reader.byte()), offset))  // BINGET
            case 0x6A: stack.append(try recall(Int(try reader.unsigned(width: 4, bigEndian: false)), offset))  // LONG_BINGET
            case 0x52:                                                      // REDUCE
                let arguments = try pop(offset), callable = try pop(offset)
                stack.append(try reduce(callable, arguments, offset))
            case 0x62:                                                      // BUILD
                let state = try pop(offset), object = try pop(offset)
                stack.append(try build(object, state, offset))
            default:
                throw error(offset, "unsupported pickle opcode 0x\(String(opcode, radix: 16))")
            }
        }
    }

    // MARK: Callables: only what rebuilds NumPy arrays.

    private func reduce(_ callable: Value, _ arguments: Value, _ offset: Int) throws -> Value {
        guard case .global(let module, let name) = callable, case .tuple(let args) = arguments else {
            throw error(offset, "REDUCE needs a global and an argument tuple")
        }
        switch (module, name) {
        case ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"):
            return .array(NumPyArray())
        case ("numpy", "dtype"):
            guard case .bytes(let d)? = args.first.map(asBytes) ?? nil else { throw error(offset, "numpy.dtype needs a type string") }
            return .dtype(String(decoding: d, as: UTF8.self))
        case ("_codecs", "encode"):
            // Python 3's encoding of Python 2 byte strings: code points 0–255 as text, then latin-1.
            guard args.count == 2, case .text(let text) = args[0] else { throw error(offset, "_codecs.encode needs text") }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(text.unicodeScalars.count)
            for scalar in text.unicodeScalars {
                guard scalar.value < 256 else { throw error(offset, "latin-1 text holds code point \(scalar.value)") }
                bytes.append(UInt8(scalar.value))
            }
            return .bytes(bytes)
        default:
            throw error(offset, "refusing to call \(module).\(name): only NumPy arrays can be read")
        }
    }

    private func build(_ object: Value, _ state: Value, _ offset: Int) throws -> Value {
        guard case .tuple(let fields) = state else { throw error(offset, "BUILD state is not a tuple") }
        switch object {
        case .dtype(let descr):
            // (version, byte order, …): only little-endian or not-applicable data is accepted.
            if fields.count > 1, case .bytes(let order)? = asBytes(fields[1]), order == [UInt8(ascii: ">")] {
                throw error(offset, "big-endian NumPy data (dtype >\(descr)) is not supported")
            }
            return .dtype(descr)
        case .array:
            // (version, shape, dtype, is_fortran, raw data)
            guard fields.count == 5, case .tuple(let dims) = fields[1], case .dtype(let dtype) = fields[2],
                  case .bool(let fortran) = fields[3] else {
                throw error(offset, "unexpected NumPy array state")
            }
            guard !fortran else { throw error(offset, "Fortran-ordered arrays are not supported") }
            var array = NumPyArray(dtype: dtype)
            let byteCount: Int
            switch fields[4] {
            case .pixels(let pixels):
                (array.pixels, byteCount) = (pixels, 4 * pixels.count)
            default:
                guard case .bytes(let data)? = asBytes(fields[4]) else { throw error(offset, "array data is not bytes") }
                (array.data, byteCount) = (data, data.count)
            }
            for d in dims {
                guard case .int(let n) = d, n >= 0 else { throw error(offset, "bad array dimension") }
                array.shape.append(n)
            }
            let (elements, overflow) = array.shape.reduce((1, false)) { total, n in
                let (product, o) = total.0.multipliedReportingOverflow(by: n)
                return (product, total.1 || o)
            }
            guard array.itemSize > 0, !overflow, elements.multipliedReportingOverflow(by: array.itemSize) == (byteCount, false) else {
                throw error(offset, "array of shape \(array.shape) and dtype \(dtype) cannot hold \(byteCount) bytes")
            }
            return .array(array)
        default:
            throw error(offset, "BUILD on an object that is not a NumPy array or dtype")
        }
    }

    // MARK: Helpers

    private func asBytes(_ value: Value) -> Value? {
        switch value {
        case .bytes: return value
        case .text(let t): return .bytes(Array(t.utf8))
        default: return nil
        }
    }

    private mutating func counted(width: Int) throws -> [UInt8] {
        try reader.take(try length(width: width))
    }

    /// A length of `width` bytes, checked against what can remain.
    private mutating func length(width: Int) throws -> Int {
        let length = try reader.unsigned(width: width, bigEndian: false)
        guard length <= UInt64(reader.maximumRemaining) else {
            throw reader.truncated(needing: Int(clamping: length), remaining: reader.maximumRemaining)
        }
        return Int(length)
    }

    /// A byte string that may be an array's data: as pixels if it is a large float32 array's and
    /// `floatsAsPixels` is on (the stack then holds, since its last mark, the array state's
    /// version, shape, dtype and Fortran flag), otherwise as bytes.
    private mutating func data(width: Int, _ offset: Int) throws -> Value {
        let count = try length(width: width)
        guard floatsAsPixels, count >= 1 << 16, count % 4 == 0, stack.count >= 4,
              case .int = stack[stack.count - 4], case .tuple = stack[stack.count - 3],
              case .dtype("f4") = stack[stack.count - 2], case .bool(false) = stack[stack.count - 1] else {
            return .bytes(try reader.take(count))
        }
        var pixels: [UInt8] = []
        pixels.reserveCapacity(count / 4)
        var carry: [UInt8] = []   // a value split between two pieces
        let file = self.file      // not self: the reader is busy
        func convert(_ bits: UInt32) throws {
            let value = Float(bitPattern: UInt32(littleEndian: bits))
            let byte = (value * 256).rounded()
            guard byte >= 0 && byte <= 255 else {
                throw DataError(file: file, "pickle, at byte \(offset): pixel \(pixels.count) is \(value), outside [0, 1)")
            }
            pixels.append(UInt8(byte))
        }
        try reader.forEachPiece(of: count) { piece in
            var i = 0
            while !carry.isEmpty && i < piece.count {
                carry.append(piece[i])
                i += 1
                if carry.count == 4 {
                    try convert(carry.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
                    carry = []
                }
            }
            while i + 4 <= piece.count {
                try convert(piece.loadUnaligned(fromByteOffset: i, as: UInt32.self))
                i += 4
            }
            carry.append(contentsOf: piece[i...])
        }
        return .pixels(pixels)
    }

    private mutating func long1(_ offset: Int) throws -> Int {
        let n = Int(try reader.byte())
        guard n <= 8 else { throw error(offset, "integer of \(n) bytes is too large") }
        let bytes = try reader.take(n)
        guard n > 0 else { return 0 }
        var value = bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if n < 8, bytes.last! & 0x80 != 0 { value |= ~UInt64(0) << (8 * n) }  // sign-extend
        return Int(Int64(bitPattern: value))
    }

    private mutating func line(_ offset: Int) throws -> String {
        var bytes: [UInt8] = []
        while true {
            let b = try reader.byte()
            if b == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(b)
            guard bytes.count < 256 else { throw error(offset, "GLOBAL name is too long") }
        }
    }

    private func utf8(_ bytes: [UInt8], _ offset: Int) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw error(offset, "invalid UTF-8 text") }
        return text
    }

    private mutating func pop(_ offset: Int) throws -> Value {
        guard let top = stack.popLast() else { throw error(offset, "stack underflow") }
        return top
    }

    private func peek(_ offset: Int) throws -> Value {
        guard let top = stack.last else { throw error(offset, "stack underflow") }
        return top
    }

    private func recall(_ key: Int, _ offset: Int) throws -> Value {
        guard let value = memo[key] else { throw error(offset, "memo key \(key) was never stored") }
        return value
    }

    private mutating func popToMark(_ offset: Int) throws -> [Value] {
        guard let mark = stack.lastIndex(where: { if case .mark = $0 { return true } else { return false } }) else {
            throw error(offset, "no MARK on the stack")
        }
        let items = Array(stack[(mark + 1)...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func appendToList(_ items: [Value], _ offset: Int) throws {
        guard case .list(let existing) = try pop(offset) else { throw error(offset, "APPEND to something not a list") }
        stack.append(.list(existing + items))
    }

    private func error(_ offset: Int, _ reason: String) -> DataError {
        DataError(file: file, "pickle, at byte \(offset): \(reason)")
    }
}
