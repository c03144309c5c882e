import ExampleSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Nabla
import NablaData

/// Public mirrors of the four IDX files, tried in order.
let mirrors = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

/// MNIST from `--data`, `$NABLA_MNIST` or the cache; failing those, downloaded into the cache.
func loadMNIST(explicit: String?) async throws -> MNIST {
    if explicit != nil || MNIST.searchPaths().contains(where: MNIST.isPresent(at:)) {
        return try MNIST(searching: explicit)
    }
    try await download(to: MNIST.cacheDirectory)
    return try MNIST(contentsOf: MNIST.cacheDirectory)
}

/// Downloads the four IDX files, verifies their decompressed size and CRC-32, and moves each into
/// `directory` only once verified, so an interrupted download leaves nothing half-written.
func download(to directory: String) async throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, expected) in zip(MNIST.idxFiles, MNIST.idxChecksums) {
        var lastProblem = ""
        var saved = false
        for mirror in mirrors where !saved {
            guard let url = URL(string: mirror + name) else { continue }
            printError("Downloading \(name) from \(mirror) …")
            do {
                let (data, response) = try await URLSession.shared.data(from: url)
                guard (response as? HTTPURLResponse)?.statusCode == 200 else {
                    lastProblem = "HTTP status \((response as? HTTPURLResponse)?.statusCode ?? 0)"
                    continue
                }
                let contents = try gunzipData([UInt8](data), file: url.absoluteString)
                guard contents.count == expected.bytes, crc32Checksum(contents) == expected.crc32 else {
                    lastProblem = "checksum mismatch"
                    continue
                }
                let temporary = directory + "/." + name + ".partial"
                try data.write(to: URL(fileURLWithPath: temporary))
                _ = try? FileManager.default.removeItem(atPath: directory + "/" + name)
                try FileManager.default.moveItem(atPath: temporary, toPath: directory + "/" + name)
                printError("  \(data.count) bytes, verified")
                saved = true
            } catch {
                lastProblem = "\(error.localizedDescription)"
            }
        }
        guard saved else {
            throw DataError(file: "MNIST", """
                not found locally and the download of \(name) failed (\(lastProblem)). \
                Put the four files \(MNIST.idxFiles.joined(separator: ", ")) in \(directory), \
                or point NABLA_MNIST or --data at a directory holding them
                """)
        }
    }
}
