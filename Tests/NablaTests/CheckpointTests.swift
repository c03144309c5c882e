import Foundation
import Nabla
import Testing

@Suite struct CheckpointTests {
    func temporaryPath(_ name: String) -> String {
        NSTemporaryDirectory() + "nabla-\(UUID().uuidString)-\(name)"
    }

    @Test func roundTripRestoresEveryParameter() throws {
        let path = temporaryPath("model.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let trained = bookNetwork(Float.self, seed: 1), fresh = bookNetwork(Float.self, seed: 2)
        try trained.save(to: path, metadata: ["epochs": "30"])
        #expect(fresh.parameterValues != trained.parameterValues)
        try fresh.load(from: path)
        #expect(fresh.parameterValues == trained.parameterValues)
        #expect(try SafeTensors(contentsOf: path).metadata["epochs"] == "30")
        // Double into Float converts.
        let double = bookNetwork(Double.self, seed: 3)
        try double.save(to: path)
        try fresh.load(from: path)
        #expect(fresh.parameterValues["0.bias"] == Tensor<Float>(converting: double.parameterValues["0.bias"]!))
    }

    @Test func readsAFileWrittenByAnIndependentImplementation() throws {
        // Python's standard library writes the format from its specification: no Nabla code involved.
        let path = temporaryPath("python.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let script = """
            import json, struct, sys
            w = [0.5, -1.25, 2.0, 3.5, -0.125, 8.0]
            b = [1.0, -2.0]
            data = struct.pack('<6f', *w) + struct.pack('<2d', *b)
            header = {"0.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                      "0.bias": {"dtype": "F64", "shape": [2], "data_offsets": [24, 40]},
                      "__metadata__": {"format": "pt"}}
            text = json.dumps(header).encode()
            open(sys.argv[1], 'wb').write(struct.pack('<Q', len(text)) + text + data)
            """
        try runPython(script, [path])
        let file = try SafeTensors(contentsOf: path)
        #expect(file.metadata == ["format": "pt"])
        let model = Sequential<Float> { Dense<Float>(weight: Tensor(zeros: [2, 3]), bias: Tensor(zeros: [2])) }
        try model.load(from: path)
        #expect(model.parameterValues["0.weight"]?.scalars == [0.5, -1.25, 2.0, 3.5, -0.125, 8.0])
        #expect(model.parameterValues["0.weight"]?.shape == [2, 3])
        #expect(model.parameterValues["0.bias"]?.scalars == [1, -2])
    }

    /// The description catches a changed model first (`ModuleDescriptionTests`); loading
    /// weights only, or from a file without one, the tensors' names and shapes still must fit.
    @Test func aChangedModelFailsNamingTheTensorAndShapes() throws {
        let path = temporaryPath("model.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try bookNetwork(Float.self, seed: 1).save(to: path)
        let wider = bookNetwork(Float.self, seed: 2, hidden: 100)
        let before = wider.parameterValues
        #expect { try wider.load(from: path) } throws: { error in
            "\(error)".contains("at 0.bias it has bias of shape [30], this model has bias of shape [100]")
        }
        #expect { try wider.load(from: path, weightsOnly: true) } throws: { error in
            "\(error)".contains("tensor 0.weight has shape [30, 784], the model's has [100, 784]")
        }
        #expect(wider.parameterValues == before)  // untouched
        let deeper = Sequential<Float> { bookNetwork(Float.self, seed: 1); Dense<Float>(weight: Tensor(zeros: [1, 10]), bias: Tensor(zeros: [1])) }
        #expect { try deeper.load(from: path, weightsOnly: true) } throws: { "\($0)".contains("has no tensor 0.0.weight") }
        let shallow = Sequential<Float> { Dense<Float>(weight: Tensor(zeros: [30, 784]), bias: Tensor(zeros: [30])) }
        #expect { try shallow.load(from: path, weightsOnly: true) } throws: { "\($0)".contains("has tensor 2.bias") }
    }

    @Test(arguments: [
        ([1, 2, 3], "too short"),
        ([0xFF, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0x7D], "runs past the end"),
        ([2, 0, 0, 0, 0, 0, 0, 0] + Array("[]".utf8), "not a JSON object"),
        ([2, 0, 0, 0, 0, 0, 0, 0] + Array("{x".utf8), "not a JSON object"),
    ] as [([UInt8], String)])
    func corruptHeadersAreRejected(bytes: [UInt8], reason: String) {
        #expect { try SafeTensors(parsing: bytes, file: "bad.safetensors") } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("bad.safetensors: ") && text.contains(reason)
        }
    }

    @Test(arguments: [
        (#"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 800]}}"#, "outside"),
        (#"{"a": {"dtype": "I8", "shape": [2], "data_offsets": [0, 2]}}"#, "dtype I8"),
        (#"{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#, "needs 12 bytes"),
        (#"{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}}"#, "bad dimension"),
        (#"{"a": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 8]}}"#, "larger than the file"),
        (#"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#, "overlap"),
        (#"{"a": {"dtype": "F32"}}"#, "needs dtype, shape"),
    ])
    func corruptEntriesAreRejected(header: String, reason: String) {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes += Array(header.utf8) + [UInt8](repeating: 0, count: 8)
        #expect { try SafeTensors(parsing: bytes, file: "bad.safetensors") } throws: { "\($0)".contains(reason) }
    }

    @Test func writesAreAtomicAndErrorsNameTheFile() throws {
        let path = temporaryPath("model.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try bookNetwork(Float.self, seed: 1).save(to: path)
        try bookNetwork(Float.self, seed: 2, hidden: 5).save(to: path)  // replaced whole
        #expect(try SafeTensors(contentsOf: path).tensors["0.weight"]?.shape == [5, 784])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
            .filter { $0.contains(URL(fileURLWithPath: path).lastPathComponent) && !path.hasSuffix($0) }
        #expect(leftovers.isEmpty)
        #expect { try bookNetwork(Float.self, seed: 1).save(to: "/nonexistent/dir/m.safetensors") } throws: {
            "\($0)".hasPrefix("/nonexistent/dir/m.safetensors: cannot be written")
        }
    }
}
