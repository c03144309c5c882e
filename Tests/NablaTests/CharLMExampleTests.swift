import Foundation
import Nabla
import NablaData
import Testing

/// Examples/charlm run as a user would.
@Suite(.serialized) struct CharLMExampleTests {
    static func charlm(_ arguments: [String]) throws -> ExampleTests.Run {
        try ExampleTests.run(arguments, example: "charlm")
    }

    static func scratchDirectory() throws -> String {
        let scratch = NSTemporaryDirectory() + "nabla-charlm-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        return scratch
    }

    /// A few iterations of each kind of model: the loss estimates, the best checkpoint with its
    /// description, the closing sample, and `sample` from the checkpoint.
    @Test(.needsText, arguments: ["shakespeare-cpu", "shakespeare-lstm", "names-mlp", "names-wavenet"])
    func trainsSavesAndSamples(_ config: String) throws {
        let scratch = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let shakespeare = config.hasPrefix("shakespeare")
        let checkpoint = scratch + "/model.safetensors"
        let train = try Self.charlm(["--config", config, "--iterations", "4", "--eval-interval", "2", "--eval-batches", "2",
                                     "--out", checkpoint, "--sample-length", "40"])
        #expect(train.status == 0, "\(train.errors)")
        let estimates = train.output.split(separator: "\n").filter { $0.hasPrefix("iteration ") }
        #expect(estimates.count == 3, "\(train.output)")
        #expect(estimates.allSatisfy { $0.wholeMatch(of: /iteration \d: train loss \d+\.\d{4}, val loss \d+\.\d{4} \(\d+\.\d s\)/) != nil })
        #expect(train.output.contains("sample from the best checkpoint:"))
        let metadata = try SafeTensors(contentsOf: checkpoint).metadata
        #expect(metadata["config"] == config)
        #expect(metadata["vocabulary"]?.unicodeScalars.count == (shakespeare ? 65 : 27))

        let sample = try Self.charlm(["sample", "--load", checkpoint, "--tokens", "30", "--seed", "3"]
                                     + (shakespeare ? ["--prompt", "ROMEO:"] : []))
        #expect(sample.status == 0, "\(sample.errors)")
        if shakespeare {
            #expect(sample.output.hasPrefix("ROMEO:") && sample.output.unicodeScalars.count == 6 + 30 + 1, "\(sample.output)")
        } else {
            #expect(sample.output.allSatisfy { $0.isLowercase || $0 == "\n" || $0 == "…" }, "\(sample.output)")
        }
        // The same seed gives the same sample.
        let again = try Self.charlm(["sample", "--load", checkpoint, "--tokens", "30", "--seed", "3"]
                                    + (shakespeare ? ["--prompt", "ROMEO:"] : []))
        #expect(again.output == sample.output)

        guard config == "shakespeare-cpu" else { return }
        // The exact validation loss, and the same from the model saved under nanoGPT's names.
        let evaluate = try Self.charlm(["evaluate", "--load", checkpoint, "--export-nanogpt", scratch + "/nanogpt.safetensors"])
        #expect(evaluate.status == 0, "\(evaluate.errors)")
        let line = try #require(evaluate.output.split(separator: "\n").first)
        #expect(line.wholeMatch(of: /validation loss \d\.\d{6} over 111488 tokens/) != nil, "\(line)")
        let exported = try Self.charlm(["evaluate", "--load", scratch + "/nanogpt.safetensors"])
        #expect(exported.output.split(separator: "\n").first == line)
    }

    /// Each mistake is one line on standard error naming what is wrong, and a non-zero exit.
    @Test(.needsText) func badInputIsOneClearLine() throws {
        let scratch = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        func file(_ name: String, _ bytes: [UInt8]) throws -> String {
            let path = scratch + "/" + name
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }
        let names = scratch + "/names.safetensors"
        #expect(try Self.charlm(["--config", "names-mlp", "--iterations", "1", "--out", names, "--sample-length", "0"]).status == 0)
        // A checkpoint whose metadata names another configuration.
        let mislabelled = SafeTensors(try SafeTensors(contentsOf: names).tensors.mapValues { $0.tensor(as: Float.self) },
                                      metadata: ["config": "shakespeare-cpu", "vocabulary": ".abcdefghijklmnopqrstuvwxyz", "context": "3"])
        try mislabelled.write(to: scratch + "/mislabelled.safetensors")

        let cases: [([String], String)] = [
            (["--data", try file("empty.txt", [])], "empty.txt: is empty"),
            (["--data", try file("binary.txt", [0x89, 0x50, 0x4E, 0x47, 0, 0, 0, 13])], "binary.txt: is binary, not text"),
            (["--data", try file("latin1.txt", Array("caf".utf8) + [0xE9] + Array(" au lait\n".utf8))], "latin1.txt: is not UTF-8 text"),
            (["--data", try file("short.txt", Array("To be, or not to be.\n".utf8))], "short.txt: the training split has 18 tokens, fewer than one block of 64"),
            (["--data", scratch + "/nothing.txt"], "nothing.txt: does not exist"),
            (["--config", "shakespeare-giant"], "shakespeare-giant"),
            (["--batch-size", "0"], "--batch-size"),
            (["sample", "--load", names, "--prompt", "Zoë"], "--prompt: the character \"Z\" (U+5A) at position 0 is not in the vocabulary of 27 characters"),
            (["sample", "--load", names, "--temperature", "0"], "--temperature must be positive"),
            (["sample", "--load", scratch + "/mislabelled.safetensors"], "does not fit the shakespeare-cpu model"),
            (["sample", "--load", try file("plain.safetensors", Array(SafeTensors(["w": Tensor<Float>([1])]).serialized()))],
             "was not saved by charlm train"),
            (["sample", "--load", scratch + "/missing.safetensors"], "missing.safetensors"),
        ]
        for (arguments, expected) in cases {
            let run = try Self.charlm(arguments + (arguments.first == "sample" ? [] : ["--iterations", "1", "--sample-length", "0",
                                                                                        "--out", scratch + "/out.safetensors"]))
            let lines = ExampleTests.errorLines(run)
            #expect(run.status != 0, "\(arguments): exit 0")
            #expect(lines.count == 1 && lines[0].hasPrefix("error: ") && lines[0].contains(expected), "\(arguments): \(run.errors)")
        }
    }
}
