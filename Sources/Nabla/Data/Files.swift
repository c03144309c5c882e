import Foundation

/// A file's bytes, as stored; a missing or unreadable file throws a ``DataError`` that names it.
func readBytes(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw DataError(file: path, FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
    }
    return [UInt8](data)
}

/// A file's bytes, gunzipped if they are gzip data.
func readFile(_ path: String) throws -> [UInt8] {
    let bytes = try readBytes(path)
    return isGzip(bytes) ? try gunzipData(bytes, file: path) : bytes
}
