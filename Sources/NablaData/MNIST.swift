import Nabla
import Foundation

/// MNIST, split as in the book: training is the first 50,000 of the 60,000 training images,
/// validation the last 10,000, and test the 10,000 t10k images.
public struct MNIST: Sendable {
    /// 50,000 images to train on.
    public let training: MNISTSet
    /// 10,000 held-out training images, for choosing hyper-parameters.
    public let validation: MNISTSet
    /// The 10,000 test images.
    public let test: MNISTSet

    /// The four IDX file names, gzip'd as distributed.
    public static let idxFiles = [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
    ]

    /// Reads MNIST from `path`: a directory holding the four IDX files (gzip'd or not), or the
    /// book's `mnist.pkl.gz`, or a directory holding that.
    public init(contentsOf path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError(file: path, "no such file or directory")
        }
        if !isDirectory.boolValue {
            self = try MNIST(pickleAt: path)
        } else if let dir = Self.idxDirectoryContents(path) {
            self = try MNIST(idxFilesAt: dir)
        } else if FileManager.default.fileExists(atPath: path + "/mnist.pkl.gz") {
            self = try MNIST(pickleAt: path + "/mnist.pkl.gz")
        } else {
            throw DataError(file: path, "holds neither the four MNIST IDX files (\(Self.idxFiles.joined(separator: ", "))) nor mnist.pkl.gz")
        }
    }

    /// Where `MNIST(searching:)` looks, in order: `explicit` (a `--data` option), the
    /// environment variable `NABLA_MNIST`, the user cache directory (`$XDG_CACHE_HOME/nabla/mnist`
    /// or `~/.cache/nabla/mnist`), and `../shared/mnist` beside the working directory.
    public static func searchPaths(explicit: String? = nil) -> [String] {
        let environment = ProcessInfo.processInfo.environment
        var paths: [String] = []
        if let explicit { paths.append(explicit) }
        if let fromEnvironment = environment["NABLA_MNIST"], !fromEnvironment.isEmpty { paths.append(fromEnvironment) }
        paths.append(cacheDirectory)
        paths.append("../shared/mnist")
        return paths
    }

    /// The per-user cache directory for downloaded MNIST files.
    public static var cacheDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() + "/.cache")
        return base + "/nabla/mnist"
    }

    /// Whether `path` holds something `MNIST(contentsOf:)` can try to read.
    public static func isPresent(at path: String) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return false }
        return !isDirectory.boolValue || idxDirectoryContents(path) != nil
            || FileManager.default.fileExists(atPath: path + "/mnist.pkl.gz")
    }

    /// Reads from the first of ``searchPaths(explicit:)`` that holds MNIST. An explicit path is
    /// used even if it holds nothing, so that a typo is reported rather than skipped.
    public init(searching explicit: String? = nil) throws {
        if let explicit {
            self = try MNIST(contentsOf: explicit)
            return
        }
        for path in Self.searchPaths() where Self.isPresent(at: path) {
            self = try MNIST(contentsOf: path)
            return
        }
        throw DataError(file: "MNIST", """
            not found. Put the four files \(Self.idxFiles.joined(separator: ", ")) \
            in \(Self.cacheDirectory), or point NABLA_MNIST or --data at a directory holding them \
            (or at the book's mnist.pkl.gz). Looked in: \(Self.searchPaths().joined(separator: ", "))
            """)
    }

    /// The directory if it has all four IDX files, gzip'd or not.
    private static func idxDirectoryContents(_ directory: String) -> String? {
        let all = idxFiles.allSatisfy { name in
            FileManager.default.fileExists(atPath: directory + "/" + name)
                || FileManager.default.fileExists(atPath: directory + "/" + name.replacingOccurrences(of: ".gz", with: ""))
        }
        return all ? directory : nil
    }

    /// The size and CRC-32 of each IDX file's decompressed bytes, in the order of ``idxFiles``,
    /// for verifying a download.
    public static let idxChecksums: [(bytes: Int, crc32: UInt32)] = [
        (47_040_016, 0xE9F4_D8B3), (60_008, 0xE0CB_4AD2), (7_840_016, 0x9137_3BDF), (10_008, 0x4AB9_EFF9),
    ]

    /// Reads the four IDX files in `directory`, labels first: a file of the wrong kind, or a label
    /// that is not a digit, is refused naming the file before the large images are read.
    public init(idxFilesAt directory: String) throws {
        func read(_ name: String, rank: Int, count: Int) throws -> ArraySlice<UInt8> {
            let gzPath = directory + "/" + name
            let path = FileManager.default.fileExists(atPath: gzPath) ? gzPath : gzPath.replacingOccurrences(of: ".gz", with: "")
            let kind = rank == 3 ? "an images file" : "a labels file"
            let bytes = try readFile(path) { try IDXFile.declaredSize(head: $0, file: path, expected: (rank, kind)) }
            let idx = try IDXFile(parsing: bytes, file: path, expected: (rank, kind))
            let expected = rank == 3 ? [count, 28, 28] : [count]
            guard idx.dimensions == expected else {
                throw DataError(file: path, "has dimensions \(idx.dimensions), expected \(expected)")
            }
            if rank == 1, let bad = idx.bytes.firstIndex(where: { $0 >= MNISTSet.classCount }) {
                throw DataError(file: path, "label \(idx.bytes[bad]) at index \(bad - idx.bytes.startIndex) is not a digit 0–9")
            }
            return idx.bytes
        }
        let trainLabels = try read(Self.idxFiles[1], rank: 1, count: 60_000)
        let testLabels = try read(Self.idxFiles[3], rank: 1, count: 10_000)
        let trainPixels = try read(Self.idxFiles[0], rank: 3, count: 60_000)
        let testPixels = try read(Self.idxFiles[2], rank: 3, count: 10_000)
        let split = 50_000 * MNISTSet.pixelCount
        let (p, l) = (trainPixels.startIndex, trainLabels.startIndex)
        training = try MNISTSet(name: "training", pixelSlice: trainPixels[p ..< p + split], labelSlice: trainLabels[l ..< l + 50_000])
        validation = try MNISTSet(name: "validation", pixelSlice: trainPixels[(p + split)...], labelSlice: trainLabels[(l + 50_000)...])
        test = try MNISTSet(name: "test", pixelSlice: testPixels, labelSlice: testLabels)
    }

    /// Reads the book's `mnist.pkl.gz`: a pickled ((x, y), (x, y), (x, y)) of float32 pixels
    /// scaled by 1/256 and int64 labels.
    public init(pickleAt path: String) throws {
        try self.init(parsingPickle: try readBytes(path), file: path)
    }

    /// Parses a pickle in the book's layout, gzip'd or not; `file` names it in errors. Gzip'd
    /// data is inflated as it is read and its pixels converted as they arrive, so that memory
    /// holds the compressed bytes and the 55 MB of pixels, never the 220 MB the book's pickle
    /// inflates to.
    public init(parsingPickle bytes: [UInt8], file path: String) throws {
        if isGzip(bytes) {
            try self.init(unpickling: Unpickler(reading: try InflatingReader(bytes, file: path), floatsAsPixels: true), file: path)
        } else {
            try self.init(unpickling: Unpickler(reading: ByteReader(bytes: bytes, file: path), floatsAsPixels: true), file: path)
        }
    }

    private init(unpickling unpickler: consuming Unpickler<some ByteInput>, file path: String) throws {
        var unpickler = unpickler
        let root = try unpickler.load()
        guard case .tuple(let parts) = root, parts.count == 3 else {
            throw DataError(file: path, "expected a tuple of three (images, labels) pairs")
        }
        var sets: [MNISTSet] = []
        for (part, name) in zip(parts, ["training", "validation", "test"]) {
            guard case .tuple(let pair) = part, pair.count == 2,
                  case .array(let x) = pair[0], case .array(let y) = pair[1] else {
                throw DataError(file: path, "the \(name) part is not an (images, labels) pair of arrays")
            }
            sets.append(try Self.set(name: name, images: x, labels: y, file: path))
        }
        (training, validation, test) = (sets[0], sets[1], sets[2])
    }

    /// Converts pickled arrays to a compact set, validating shapes, types and values.
    private static func set(name: String, images x: NumPyArray, labels y: NumPyArray, file: String) throws -> MNISTSet {
        guard x.dtype == "f4", x.shape.count == 2, x.shape[1] == MNISTSet.pixelCount else {
            throw DataError(file: file, "\(name) images have dtype \(x.dtype) and shape \(x.shape), expected f4 [n, 784]")
        }
        guard y.dtype == "i8" || y.dtype == "i4", y.shape == [x.shape[0]] else {
            throw DataError(file: file, "\(name) labels have dtype \(y.dtype) and shape \(y.shape), expected i8 [\(x.shape[0])]")
        }
        if let pixels = x.pixels {   // converted (and checked) as they were read
            return try MNISTSet(name: name, pixels: pixels, labels: try labels(y, name: name, file: file))
        }
        var pixels = [UInt8](repeating: 0, count: x.shape[0] * MNISTSet.pixelCount)
        try x.data.withUnsafeBytes { raw in
            for i in 0..<pixels.count {
                let value = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                let byte = (value * 256).rounded()
                guard byte >= 0 && byte <= 255 else {
                    throw DataError(file: file, "\(name) pixel \(i) is \(value), outside [0, 1)")
                }
                pixels[i] = UInt8(byte)
            }
        }
        return try MNISTSet(name: name, pixels: pixels, labels: try labels(y, name: name, file: file))
    }

    /// A pickled int64 or int32 labels array as bytes, each checked to be a digit.
    private static func labels(_ y: NumPyArray, name: String, file: String) throws -> [UInt8] {
        var labels = [UInt8](repeating: 0, count: y.shape[0])
        try y.data.withUnsafeBytes { raw in
            for i in 0..<labels.count {
                let label = y.itemSize == 8
                    ? Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                    : Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                guard (0..<MNISTSet.classCount).contains(label) else {
                    throw DataError(file: file, "\(name) label \(i) is \(label), not a digit 0–9")
                }
                labels[i] = UInt8(label)
            }
        }
        return labels
    }
}
