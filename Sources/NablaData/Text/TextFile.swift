import Foundation
import Nabla

/// Reads a text file for a character-level model: the file must be non-empty UTF-8 text.
///
/// A file that is empty, not valid UTF-8 or binary (a NUL byte, or more than one byte in a
/// hundred a control character other than tab, newline and carriage return — an image, an
/// archive, a checkpoint given by mistake) throws a ``DataError`` naming it and what is wrong,
/// rather than training a model on noise.
public func readText(_ path: String) throws -> String {
    let bytes = try readFile(path)
    guard !bytes.isEmpty else { throw DataError(file: path, "is empty: a text model needs text to learn from") }
    if let nul = bytes.firstIndex(of: 0) {
        throw DataError(file: path, "is binary, not text: a NUL byte at offset \(nul)")
    }
    let controls = bytes.lazy.filter { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }.count
    if controls * 100 > bytes.count {
        throw DataError(file: path, "is binary, not text: \(controls) of its \(bytes.count) bytes are control characters")
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var offset = 0
        while case .scalarValue(let scalar) = decoder.decode(&iterator) { offset += UTF8.width(scalar) }
        throw DataError(file: path, "is not UTF-8 text: an invalid byte sequence near offset \(offset)")
    }
    return text
}

/// Where the text file `name` (`tinyshakespeare.txt`, `names.txt`) is: `path` if given (a file,
/// or a directory holding it), else in `$NABLA_TEXT`, else in `../shared/text/` beside the
/// working directory. Throws a ``DataError`` saying where it looked.
public func findTextFile(named name: String, given path: String?) throws -> String {
    let fileManager = FileManager.default
    var isDirectory: ObjCBool = false
    if let path {
        guard fileManager.fileExists(atPath: path, isDirectory: &isDirectory) else { throw DataError(file: path, "does not exist") }
        return isDirectory.boolValue ? (path as NSString).appendingPathComponent(name) : path
    }
    let places = [ProcessInfo.processInfo.environment["NABLA_TEXT"], "../shared/text"].compactMap { $0 }
    for place in places {
        let candidate = (place as NSString).appendingPathComponent(name)
        if fileManager.fileExists(atPath: candidate) { return candidate }
    }
    throw DataError(file: name, "not found in \(places.joined(separator: " or ")): pass --data PATH or set NABLA_TEXT to its directory")
}
