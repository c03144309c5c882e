import Foundation

/// A data file that could not be read: which file, and what is wrong with it.
public struct DataError: Error, CustomStringConvertible, Equatable {
    /// The file's path (or a description of the source).
    public let file: String
    /// What is wrong.
    public let reason: String

    /// Creates an error about `file`.
    public init(file: String, _ reason: String) {
        self.file = file
        self.reason = reason
    }

    /// `file: reason`.
    public var description: String { "\(file): \(reason)" }
}

/// A file's bytes, as stored; a file that cannot be read throws a ``DataError`` that names it and
/// says why in words (missing, a directory, not readable). For Nabla's readers (checkpoints here,
/// data sets in NablaData).
package func readBytes(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError(file: path, "no such file")
        }
        if isDirectory.boolValue { throw DataError(file: path, "is a directory") }
        throw DataError(file: path, FileManager.default.isReadableFile(atPath: path) ? "cannot be read" : "cannot be read: permission denied")
    }
    return [UInt8](data)
}

/// Writes `bytes` to `path` atomically — a temporary file beside it, then a rename — so that a
/// crash never leaves a half-written file; a failure throws a ``DataError`` that names the file
/// and says what is wrong in words (a directory in the way, a missing directory).
package func writeAtomically(_ bytes: Data, to path: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        throw DataError(file: path, "is a directory")
    }
    let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
    guard FileManager.default.fileExists(atPath: parent) else {
        throw DataError(file: path, "cannot be written: no directory \(parent)")
    }
    do {
        try bytes.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw DataError(file: path, "cannot be written: \(error.localizedDescription)")
    }
}
