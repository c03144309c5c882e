import Foundation
import Nabla
import NablaData
import Testing

/// Where the tests find real MNIST's IDX files: where the example looks (`$NABLA_MNIST`, then the
/// cache it downloads into), then `../shared/mnist` beside the checkout; nil if nowhere.
let mnistDirectory: String? = {
    let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let beside = checkout.deletingLastPathComponent().appendingPathComponent("shared/mnist").path
    let candidates = MNIST.searchPaths().filter { $0 != "../shared/mnist" } + [beside]
    // An explicit $NABLA_MNIST is used even if it is wrong, so that a typo fails loudly.
    if let explicit = ProcessInfo.processInfo.environment["NABLA_MNIST"], !explicit.isEmpty { return explicit }
    return candidates.first { MNIST.isPresent(at: $0) }
}()

/// Whether the tests that need real MNIST run: where it is found, and always under
/// `NABLA_REQUIRE_MNIST` (as CI sets), so that missing data fails there instead of skipping.
let mnistTestsRun: Bool = {
    if mnistDirectory != nil || ProcessInfo.processInfo.environment["NABLA_REQUIRE_MNIST"] != nil { return true }
    FileHandle.standardError.write(Data("""
        note: real MNIST was not found, so the tests that need it are skipped; get it with \
        `swift run -c release Examples/mnist` (which downloads it into \(MNIST.cacheDirectory)) or \
        point NABLA_MNIST at a directory holding the four IDX files

        """.utf8))
    return false
}()

extension Trait where Self == ConditionTrait {
    /// Runs the test only where real MNIST is found (see ``mnistTestsRun``).
    static var needsMNIST: Self {
        .enabled(if: mnistTestsRun, "real MNIST not found (NABLA_MNIST, \(MNIST.cacheDirectory) or ../shared/mnist)")
    }
}

/// Real MNIST from the IDX files, read once for all tests.
let realMNIST: MNIST = {
    guard let mnistDirectory else {
        fatalError("tests need real MNIST (NABLA_REQUIRE_MNIST is set): none in $NABLA_MNIST, \(MNIST.cacheDirectory) or ../shared/mnist")
    }
    do { return try MNIST(idxFilesAt: mnistDirectory) } catch { fatalError("tests need real MNIST: \(error)") }
}()

/// A scratch file with `bytes`, removed by the caller.
func scratchFile(_ name: String, _ bytes: [UInt8]) -> String {
    let path = NSTemporaryDirectory() + "nabla-test-\(UUID().uuidString)-" + name
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    return path
}

func expectDataError(_ bytes: [UInt8], named name: String = "bad.idx", containing words: String,
                     sourceLocation: SourceLocation = #_sourceLocation, read: (String) throws -> Void) {
    let path = scratchFile(name, bytes)
    defer { try? FileManager.default.removeItem(atPath: path) }
    do {
        try read(path)
        Issue.record("no error for a bad file", sourceLocation: sourceLocation)
    } catch let error as DataError {
        #expect(error.file == path, sourceLocation: sourceLocation)
        #expect(error.reason.contains(words), "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct MNISTTests {
    @Test(.needsMNIST) func idxFilesGiveTheBooksSplits() {
        let data = realMNIST
        #expect(data.training.count == 50_000 && data.validation.count == 10_000 && data.test.count == 10_000)
        // Label counts from ../shared/mnist/README.md.
        var testCounts = [Int](repeating: 0, count: 10)
        for label in data.test.labels { testCounts[Int(label)] += 1 }
        #expect(testCounts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        var trainCounts = [Int](repeating: 0, count: 10)
        for label in data.training.labels + data.validation.labels { trainCounts[Int(label)] += 1 }
        #expect(trainCounts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    }

    @Test(.needsMNIST, .enabled(if: FileManager.default.fileExists(atPath: (mnistDirectory ?? "") + "/mnist.pkl.gz")
                                    || ProcessInfo.processInfo.environment["NABLA_REQUIRE_MNIST"] != nil,
                                "the book's mnist.pkl.gz is not beside the IDX files"))
    func theBooksPickleHoldsTheSameImages() throws {
        let fromPickle = try MNIST(pickleAt: (mnistDirectory ?? "") + "/mnist.pkl.gz")
        for (a, b) in [(fromPickle.training, realMNIST.training), (fromPickle.validation, realMNIST.validation),
                       (fromPickle.test, realMNIST.test)] {
            #expect(a.labels == b.labels && a.pixels == b.pixels, "\(a.name) differs")
        }
    }

    @Test func aPickleWrittenByPython3AndNumPy2IsRead() throws {
        // Python 3 writes NumPy 2's module as numpy._core, raw bytes through _codecs.encode, and
        // uses the memo: the other spelling and encoding the reader must accept.
        let path = NSTemporaryDirectory() + "nabla-\(UUID().uuidString)-py3.pkl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let script = """
            import pickle, sys, numpy
            def part(n, first):
                x = (numpy.arange(n * 784, dtype=numpy.int64).reshape(n, 784) % 256 / 256).astype(numpy.float32)
                return (x, numpy.arange(first, first + n, dtype=numpy.int64) % 10)
            open(sys.argv[1], 'wb').write(pickle.dumps((part(3, 0), part(2, 3), part(1, 5)), protocol=2))
            """
        try runPython(script, [path])
        let data = try MNIST(pickleAt: path)
        #expect(data.training.count == 3 && data.validation.count == 2 && data.test.count == 1)
        #expect(data.training.labels(at: 0..<3) == [0, 1, 2] && data.validation.labels(at: 0..<2) == [3, 4])
        #expect(data.test.labels(at: [0]) == [5])
        let expected: [UInt8] = (0..<(3 * 784)).map { UInt8($0 % 256) }
        #expect(data.training.pixels == expected)
    }

    @Test(.needsMNIST) func batchesAreScaledPixelsAndOneHotTargets() {
        let set = realMNIST.test
        let x: Tensor<Float> = set.images(at: [3, 0])
        #expect(x.shape == [2, 784])
        #expect(x.scalars[784...].elementsEqual(set.pixels[0..<784].map { Float($0) / 256 }))
        let y: Tensor<Float> = set.oneHotLabels(at: [0, 3])
        #expect(y.shape == [2, 10] && y.scalars.reduce(0, +) == 2)
        #expect(y.argmax(alongAxis: 1) == set.labels(at: [0, 3]))
    }

    @Test(.needsMNIST) func shuffledBatchesMatchTheirBytesRowByRow() {
        // Sizes around the gather's prefetch window (16 rows) and one large enough to be split
        // over the cores, at indices from all over the set, in both precisions.
        let set = realMNIST.training, pixels = set.pixels
        var rng = SeededGenerator(seed: 4)
        let order = rng.permutation(of: set.count)
        for size in [1, 16, 17, 40, 3000] {
            let indices = order[100..<(100 + size)]
            let f: Tensor<Float> = set.images(at: indices), d: Tensor<Double> = set.images(at: indices)
            #expect(f.shape == [size, 784] && d.shape == [size, 784])
            for (row, index) in indices.enumerated() {
                let bytes = pixels[(index * 784)..<(index * 784 + 784)]
                guard f.scalars[(row * 784)..<(row * 784 + 784)].elementsEqual(bytes.map { Float($0) / 256 }),
                      d.scalars[(row * 784)..<(row * 784 + 784)].elementsEqual(bytes.map { Double($0) / 256 }) else {
                    Issue.record("batch of \(size): row \(row) is not image \(index)")
                    break
                }
            }
        }
    }

    @Test(.needsMNIST) func batchesWrittenIntoATensorReuseItsStorage() {
        let set = realMNIST.test
        var x = Tensor<Double>(zeros: [2, 784]), y = Tensor<Double>(zeros: [2, 10])
        let storage = x.withUnsafeBufferPointer { $0.baseAddress }
        set.images(at: [3, 0], into: &x)
        set.oneHotLabels(at: [5, 1], into: &y)
        #expect(x == set.images(at: [3, 0]) && y == set.oneHotLabels(at: [5, 1]))
        #expect(x.withUnsafeBufferPointer { $0.baseAddress } == storage, "the same shape refills the same buffer")
        // A batch of another size (a ragged last batch) gets a tensor of its own shape.
        set.images(at: 7..<10, into: &x)
        set.oneHotLabels(at: 7..<10, into: &y)
        #expect(x == set.images(at: [7, 8, 9]) && y == set.oneHotLabels(at: [7, 8, 9]))
        // A tensor shared with another value is copied, never written through.
        let kept = x
        set.images(at: [0, 1, 2], into: &x)
        #expect(kept == set.images(at: [7, 8, 9]) && x == set.images(at: [0, 1, 2]))
    }

    @Test(.needsMNIST) func correctCountAgreesWithEachImagesAnswer() {
        // A lightly trained network (about a third right), so that the count is neither 0 nor
        // everything; batch sizes that leave a ragged last batch, one that is the whole set,
        // and one larger than it.
        let set = realMNIST.test.subset(0..<1_000)
        let model = bookNetwork(Float.self, seed: 3)
        let lossAndGradient = TracedGradient(of: model) { model, x, y in QuadraticLoss()(model(x), y) }
        var sgd = SGD<Float>(learningRate: 3)
        for start in stride(from: 0, to: 2_000, by: 10) {
            let batch = start ..< start + 10
            lossAndGradient.step(realMNIST.training.images(at: batch), realMNIST.training.oneHotLabels(at: batch),
                                 optimizer: &sgd)  // steps `model`'s parameters in place
        }
        let answers = model(set.images(at: 0..<set.count, as: Float.self)).argmax(alongAxis: 1)
        let expected = answers.countEqual(set.labels(at: 0..<set.count))
        #expect(expected > 200 && expected < 1_000, "\(expected) of 1000 correct")
        for batchSize in [1, 7, 300, 1_000, 4_096] {
            #expect(set.correctCount(of: model, batchSize: batchSize) == expected, "batch size \(batchSize)")
        }
    }

    @Test func searchPrefersAnExplicitPathAndReportsWhereItLooked() {
        #expect(MNIST.searchPaths(explicit: "/here").first == "/here")
        #expect(throws: DataError.self) { try MNIST(searching: "/nonexistent/mnist") }
    }

    @Test func badIDXFilesAreNamedAndExplained() {
        let header: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 3]
        expectDataError([0, 0, 9, 1], containing: "element type") { _ = try IDXFile(path: $0) }
        expectDataError([1, 2, 3, 4, 5], containing: "not an IDX file") { _ = try IDXFile(path: $0) }
        expectDataError(header + [1, 2], containing: "need 3 data bytes, the file has 2") { _ = try IDXFile(path: $0) }
        expectDataError([0, 0, 8, 3, 0xFF, 0xFF, 0xFF, 0xFF], containing: "truncated") { _ = try IDXFile(path: $0) }
        expectDataError([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3], named: "bad.gz", containing: "gzip") { _ = try IDXFile(path: $0) }
    }

    /// A directory of IDX files, each a header and `body` bytes, gzip'd or not as the reader
    /// allows: what `MNIST(idxFilesAt:)` reads.
    func idxDirectory(_ files: [String: [UInt8]]) -> String {
        let directory = NSTemporaryDirectory() + "nabla-idx-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, bytes) in files {
            _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: Data(bytes))
        }
        return directory
    }

    /// An IDX header: magic 0x0000080R and the dimensions, big-endian.
    func idxHeader(_ dimensions: [Int]) -> [UInt8] {
        [0, 0, 8, UInt8(dimensions.count)] + dimensions.flatMap { d in (0..<4).reversed().map { UInt8((d >> (8 * $0)) & 0xFF) } }
    }

    @Test func aFileOfTheWrongKindIsRefusedByItsMagicNumber() {
        // Labels where images belong: a labels file's magic number declares one dimension.
        let directory = idxDirectory([
            "train-labels-idx1-ubyte": idxHeader([60_000]) + [UInt8](repeating: 3, count: 60_000),
            "t10k-labels-idx1-ubyte": idxHeader([10_000]) + [UInt8](repeating: 3, count: 10_000),
            "train-images-idx3-ubyte": [0, 0, 8, 4] + [UInt8](repeating: 0, count: 40),
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect { try MNIST(idxFilesAt: directory) } throws: { error in
            "\(error)".contains("train-images-idx3-ubyte: magic number 0x00000804 declares 4 dimensions; an images file has 3 (0x00000803)")
        }
    }

    @Test func aLabelThatIsNotADigitNamesItsFile() {
        var labels = [UInt8](repeating: 3, count: 60_000)
        labels[7] = 11
        let directory = idxDirectory(["train-labels-idx1-ubyte": idxHeader([60_000]) + labels])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect { try MNIST(idxFilesAt: directory) } throws: { error in
            "\(error)".contains("train-labels-idx1-ubyte: label 11 at index 7 is not a digit 0–9")
        }
    }

    @Test func badPicklesAreNamedAndExplained() {
        expectDataError([0x80, 2, 0x63] + Array("os\nsystem\n".utf8) + [0x29, 0x52, 0x2E], named: "evil.pkl",
                        containing: "refusing to call os.system") { _ = try MNIST(pickleAt: $0) }
        expectDataError([0x80, 2, 0x54, 0xFF, 0xFF, 0xFF, 0x7F], named: "huge.pkl", containing: "truncated") { _ = try MNIST(pickleAt: $0) }
        expectDataError([0x80, 2, 0x4B, 1, 0x2E], named: "int.pkl", containing: "three") { _ = try MNIST(pickleAt: $0) }
        expectDataError([0x80, 2, 0xFE], named: "op.pkl", containing: "opcode 0xfe") { _ = try MNIST(pickleAt: $0) }
    }

    @Test func labelsOutOfRangeAreRejected() {
        #expect(throws: DataError.self) { try MNISTSet(name: "x", pixels: [UInt8](repeating: 0, count: 784), labels: [10]) }
    }
}
