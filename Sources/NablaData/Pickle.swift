import Nabla
/// A NumPy array read from a pickle: its shape, dtype and raw little-endian bytes.
struct NumPyArray {
    var shape: [Int] = []
    var dtype = ""          // such as "f4" or "i8"
    var data: [UInt8] = []

    var itemSize: Int { Int(dtype.dropFirst()) ?? 0 }
}

/// The subset of Python's pickle format that NumPy arrays in nested tuples need: protocols 2 to
/// 4, as written by Python 2 (raw data as a byte string) or by Python 3 (raw data as `bytes`, or
/// as text passed through `_codecs.encode(…, 'latin1')`), with NumPy's module spelled
/// `numpy.core.multiarray` or `numpy._core.multiarray`.
///
/// Nothing is executed: the only callables honoured are the three that rebuild arrays, and every
/// length is checked against the bytes that remain before anything is allocated.
struct Unpickler {
    indirect enum Value {
        case none, bool(Bool), int(Int), float(Double)
        case bytes([UInt8]), text(String)
        case tuple([Value]), list([Value]), dict
        case global(module: String, name: String)
        case dtype(String), array(NumPyArray)
        case mark
    }

    private var reader: ByteReader
    private var stack: [Value] = []
    private var memo: [Int: Value] = [:]
    private var file: String { reader.file }

    init(_ bytes: [UInt8], file: String) {
        reader = ByteReader(bytes: bytes, file: file)
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
            case 0x54, 0x42: stack.append(.bytes(try counted(width: 4)))    // BINSTRING, BINBYTES
            case 0x8E: stack.append(.bytes(try counted(width: 8)))          // BINBYTES8
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
            guard case .bytes(let data)? = asBytes(fields[4]) else { throw error(offset, "array data is not bytes") }
            var array = NumPyArray(dtype: dtype, data: data)
            for d in dims {
                guard case .int(let n) = d, n >= 0 else { throw error(offset, "bad array dimension") }
                array.shape.append(n)
            }
            guard array.itemSize > 0, array.shape.reduce(1, *) * array.itemSize == data.count else {
                throw error(offset, "array of shape \(array.shape) and dtype \(dtype) cannot hold \(data.count) bytes")
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
        let length = try reader.unsigned(width: width, bigEndian: false)
        guard length <= UInt64(reader.remaining) else { throw reader.truncated(needing: Int(clamping: length)) }
        return Array(try reader.take(Int(length)))
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
