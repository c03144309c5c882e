import Foundation
import Nabla
import NablaData
import Testing

/// Examples/mnist run as a user would, from the binary `swift test` builds beside the tests.
@Suite(.serialized) struct ExampleTests {
    struct Run {
        let status: Int32
        let output: String
        let errors: String
    }

    /// Runs the example with `arguments` (Examples/mnist unless another is named), with MNIST
    /// and the text data where the tests find them.
    static func run(_ arguments: [String], example: String = "mnist") throws -> Run {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let binary = directory.appendingPathComponent("Examples/\(example)")
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "no example binary at \(binary.path)")
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["NABLA_MNIST"] = mnistDirectory ?? ""
        environment["NABLA_TEXT"] = textDirectory ?? ""
        process.environment = environment
        let (out, err) = (Pipe(), Pipe())
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self),
                   errors: String(decoding: errors, as: UTF8.self))
    }

    /// Standard error without the debug build's note about release builds.
    static func errorLines(_ run: Run) -> [Substring] {
        run.errors.split(separator: "\n").filter { !$0.hasPrefix("note: this is a debug build") }
    }

    @Test(.needsMNIST) func trainsSavesPlotsAndPredicts() throws {
        let scratch = NSTemporaryDirectory() + "nabla-example-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let train = try Self.run(["--epochs", "2", "--limit", "2000", "--save", scratch + "/m.safetensors",
                                  "--save-best", scratch + "/best.safetensors", "--plot", scratch + "/curve.svg",
                                  "--show-mistakes", "1"])
        #expect(train.status == 0, "\(train.errors)")
        let epochs = train.output.split(separator: "\n").filter { $0.hasPrefix("Epoch ") }
        #expect(epochs.count == 2)
        // network.py's line, then the seconds and cost.
        #expect(epochs.allSatisfy { $0.wholeMatch(of: /Epoch \d: \d+ \/ 10000  \[\d+\.\d\d s training, cost \d\.\d{4}\]/) != nil }, "\(epochs)")
        #expect(train.output.contains("misclassified test digits"))
        #expect(try String(contentsOfFile: scratch + "/curve.svg", encoding: .utf8).hasPrefix("<svg"))
        #expect(try SafeTensors(contentsOf: scratch + "/m.safetensors").metadata["sizes"] == "784,30,10")

        // The checkpoint classifies a real test digit, drawn as a PGM.
        let digit = realMNIST.test.pixels[0..<784]
        try Data(Array("P5 28 28 255\n".utf8) + digit).write(to: URL(fileURLWithPath: scratch + "/digit.pgm"))
        let predict = try Self.run(["predict", "--load", scratch + "/best.safetensors", scratch + "/digit.pgm"])
        #expect(predict.status == 0, "\(predict.errors)")
        let ranking = predict.output.split(separator: "\n").filter { $0.wholeMatch(of: /\d: +\d+\.\d%/) != nil }
        #expect(ranking.count == 3, "\(predict.output)")

        // --load with no epochs evaluates the checkpoint.
        let evaluate = try Self.run(["--epochs", "0", "--load", scratch + "/best.safetensors"])
        #expect(evaluate.status == 0 && evaluate.output.contains("Evaluation: "))
    }

    /// A convolutional network trains, saves, and is rebuilt by `predict` from its checkpoint.
    @Test(.needsMNIST) func aChapterSixNetworkTrainsAndPredicts() throws {
        let scratch = NSTemporaryDirectory() + "nabla-example-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let train = try Self.run(["--network", "chapter6-dropout", "--hidden", "30", "--epochs", "1", "--limit", "500",
                                  "--save", scratch + "/conv.safetensors"])
        #expect(train.status == 0, "\(train.errors)")
        #expect(train.output.contains("Training chapter6-dropout, conv 20, conv 40, 30, softmax 10 (relu, dropout 0.5)"), "\(train.output)")
        // Chapter 6 prints the test accuracy at each new best validation accuracy.
        let epoch = train.output.split(separator: "\n").first { $0.hasPrefix("Epoch 0: ") }
        #expect(epoch?.contains(/best so far; test \d+ \/ 10000/) == true, "\(train.output)")
        let checkpoint = try SafeTensors(contentsOf: scratch + "/conv.safetensors")
        #expect(checkpoint.metadata["network"] == "chapter6-dropout" && checkpoint.metadata["hidden"] == "30")
        #expect(checkpoint.tensors["0.weight"]?.shape == [20, 1, 5, 5])

        try Data(Array("P5 28 28 255\n".utf8) + realMNIST.test.pixels[0..<784]).write(to: URL(fileURLWithPath: scratch + "/digit.pgm"))
        let predict = try Self.run(["predict", "--load", scratch + "/conv.safetensors", scratch + "/digit.pgm"])
        #expect(predict.status == 0, "\(predict.errors)")

        // A description larger than the file's tensors is refused before a network is built.
        var forged = checkpoint
        forged.metadata[ModuleDescription.metadataKey] = try #require(forged.metadata[ModuleDescription.metadataKey])
            .replacingOccurrences(of: "[30,640]", with: "[3000000,640]")
        try forged.write(to: scratch + "/forged.safetensors")
        let refused = try Self.run(["predict", "--load", scratch + "/forged.safetensors", scratch + "/digit.pgm"])
        #expect(refused.status == 1 && Self.errorLines(refused).first?.contains("claims 1920") == true, "\(refused.errors)")
    }

    /// A checkpoint says which network it holds: loading it into another is one line naming both,
    /// unless --weights-only; `predict` builds what the file describes, whatever its label says.
    @Test(.needsMNIST) func aCheckpointIsLoadedOnlyIntoTheNetworkItDescribes() throws {
        let scratch = NSTemporaryDirectory() + "nabla-example-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (relu, dropout) = (scratch + "/relu.safetensors", scratch + "/dropout.safetensors")
        for (network, path) in [("chapter6-relu", relu), ("chapter6-dropout", dropout)] {
            let train = try Self.run(["--network", network, "--epochs", "1", "--limit", "300", "--save", path])
            #expect(train.status == 0, "\(train.errors)")
        }
        let file = try SafeTensors(contentsOf: relu)
        let rewritten = { (name: String, change: (inout SafeTensors) -> Void) throws -> String in
            var copy = file
            change(&copy)
            try copy.write(to: scratch + "/" + name)
            return scratch + "/" + name
        }
        let refusal = { (arguments: [String]) throws -> String in
            let run = try Self.run(arguments)
            let lines = Self.errorLines(run)
            #expect(run.status == 1 && lines.count == 1, "\(arguments): \(run.errors)")
            return lines.first.map(String.init) ?? ""
        }

        // Same shapes, other activations: refused, naming both networks and the layer.
        let intoSigmoid = try refusal(["--network", "chapter6-sigmoid", "--epochs", "0", "--load", relu])
        #expect(intoSigmoid == "error: \(relu) was saved by chapter6-relu (at 2: ReLU); this model is chapter6-sigmoid (Sigmoid); "
                + "--weights-only loads its tensors anyway")
        let forced = try Self.run(["--network", "chapter6-sigmoid", "--epochs", "0", "--load", relu, "--weights-only"])
        #expect(forced.status == 0 && forced.output.contains("Evaluation: "), "\(forced.errors)")
        // Other layers, with or without --hidden making the sizes agree.
        #expect(try refusal(["--network", "chapter6-relu", "--epochs", "0", "--load", dropout])
            .contains("was saved by chapter6-dropout (at 7: Dropout(probability 0.5"))
        #expect(try refusal(["--network", "chapter6-dropout", "--hidden", "100", "--epochs", "0", "--load", relu])
            .contains("this model is chapter6-dropout (Dropout(probability 0.5"))
        // A label naming no network at all is refused, even over a description that fits.
        let nonsense = try rewritten("nonsense.safetensors") { $0.metadata["network"] = "nonsense" }
        #expect(try refusal(["--network", "chapter6-relu", "--epochs", "0", "--load", nonsense])
            .contains("metadata names network 'nonsense', none of chapter1"))

        // predict builds the network the description gives, not the one the label names.
        try Data(Array("P5 28 28 255\n".utf8) + realMNIST.test.pixels[0..<784]).write(to: URL(fileURLWithPath: scratch + "/digit.pgm"))
        let mislabelled = try rewritten("mislabelled.safetensors") { $0.metadata["network"] = "chapter6-sigmoid"; $0.metadata["hidden"] = "1000" }
        let honest = try Self.run(["predict", "--load", relu, scratch + "/digit.pgm"])
        let labelled = try Self.run(["predict", "--load", mislabelled, scratch + "/digit.pgm"])
        #expect(honest.status == 0 && labelled.status == 0, "\(honest.errors)\(labelled.errors)")
        #expect(labelled.output == honest.output)
        let asSigmoid = try Self.run(["predict", "--load", relu, "--network", "chapter6-sigmoid", "--weights-only", scratch + "/digit.pgm"])
        #expect(asSigmoid.status == 0 && asSigmoid.output != honest.output, "\(asSigmoid.errors)")
        #expect(try refusal(["predict", "--load", relu, "--network", "chapter6-sigmoid", scratch + "/digit.pgm"])
            .contains("was saved by chapter6-relu (at 2: ReLU)"))

        // A file that does not describe its network (PyTorch's) needs --network, and loads with it.
        let undescribed = try rewritten("undescribed.safetensors") { $0.metadata = [:] }
        #expect(try refusal(["predict", "--load", undescribed, scratch + "/digit.pgm"])
            .contains("does not describe its model (it was not saved by `train --save`); name the network with --network"))
        let named = try Self.run(["predict", "--load", undescribed, "--network", "chapter6-relu", scratch + "/digit.pgm"])
        #expect(named.output == honest.output, "\(named.errors)")
        let trained = try Self.run(["--network", "chapter6-relu", "--epochs", "0", "--load", undescribed])
        #expect(trained.status == 0, "\(trained.errors)")
        // A description that is not one is named as such.
        let garbled = try rewritten("garbled.safetensors") { $0.metadata[ModuleDescription.metadataKey] = "{\"kind\": 3}" }
        #expect(try refusal(["predict", "--load", garbled, scratch + "/digit.pgm"]).contains("metadata nabla.module is not a model description"))
    }

    /// `ensemble --members DIR` keeps each network it trains, and a later run uses them; networks
    /// trained at once (`--jobs 2`) are those trained one after another.
    @Test(.needsMNIST) func anEnsembleResumesFromTheNetworksItKept() throws {
        let scratch = NSTemporaryDirectory() + "nabla-example-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let training = ["--epochs", "1", "--limit", "1000"], options = training + ["--members", scratch]
        let first = try Self.run(["ensemble", "--count", "2", "--jobs", "2"] + options)
        #expect(first.status == 0, "\(first.errors)")
        let second = try Self.run(["ensemble", "--count", "3"] + options)
        #expect(second.status == 0, "\(second.errors)")
        let lines = { (run: Run, prefix: String) in run.output.split(separator: "\n").filter { $0.hasPrefix(prefix) } }
        // The first run trains its two networks at once, each line led by its seed.
        #expect(lines(first, "seed 1: Epoch 0").count == 1 && lines(first, "seed 2: Epoch 0").count == 1, "\(first.output)")
        // The second run trains only the third network and evaluates the two it finds.
        #expect(lines(second, "Epoch 0").count == 1, "\(second.output)")
        #expect(lines(second, "Evaluating chapter1").count == 2, "\(second.output)")
        #expect(Array(lines(second, "Network ").prefix(2)) == lines(first, "Network "), "\(first.output)\n\(second.output)")
        #expect(lines(second, "The vote of 3: ").count == 1)
        #expect(FileManager.default.fileExists(atPath: scratch + "/chapter1-seed-3.safetensors"))
        let oneAtATime = try Self.run(["ensemble", "--count", "2", "--jobs", "1"] + training)
        #expect(oneAtATime.status == 0, "\(oneAtATime.errors)")
        #expect(lines(oneAtATime, "Network ") == lines(first, "Network "), "\(oneAtATime.output)")
        #expect(lines(oneAtATime, "The vote of 2: ") == lines(first, "The vote of 2: "))
    }

    @Test(.needsMNIST) func theLearningSpeedReportHasTheBooksShape() throws {
        let run = try Self.run(["learning-speed", "--hidden", "30,30,30", "--epochs", "2", "--print-every", "1"])
        #expect(run.status == 0, "\(run.errors)")
        let rows = run.output.split(separator: "\n").filter { $0.wholeMatch(of: /\s+\d+(\s+\d\.\d{6}){3}/) != nil }
        #expect(rows.count == 3, "\(run.output)")
        // At initialization each layer learns several times slower than the next (the book: 0.012, 0.060, 0.283).
        let speeds = rows[0].split(separator: " ").dropFirst().compactMap { Double($0) }
        #expect(speeds.count == 3 && speeds[0] * 2 < speeds[1] && speeds[1] * 2 < speeds[2], "\(rows[0])")
    }

    @Test(.needsMNIST) func checkGradientsAgreesWithTheHandWrittenBackprop() throws {
        let check = try Self.run(["--check-gradients"])
        #expect(check.status == 0, "\(check.output)\(check.errors)")
        #expect(check.output.contains("All gradients agree."))
        #expect(check.output.split(separator: "\n").filter { $0.hasSuffix("  ok") }.count == 8)
    }

    @Test(arguments: [
        (["--epochs", "many"], Int32(64), "error: "),
        // A negative number after a space is the option's value, and reaches its validation.
        (["--epochs", "-3"], 64, "--epochs must be 0 or more, got -3"),
        (["--learning-rate", "-1"], 64, "--learning-rate must be positive, got -1"),
        (["--batch-size", "-10"], 64, "--batch-size must be positive, got -10"),
        // A directory where a file should go is named as such, not as an error code.
        (["--epochs", "0", "--limit", "10", "--save", NSTemporaryDirectory()], 1, "is a directory"),
        (["--epochs", "1", "--limit", "10", "--plot", NSTemporaryDirectory()], 1, "is a directory"),
        (["--epochs", "0", "--load", NSTemporaryDirectory()], 1, "is a directory"),
        (["--data", "/nonexistent/mnist"], 1, "error: /nonexistent/mnist: no such file or directory"),
        (["--hidden", "30,x"], 64, "--hidden takes positive sizes"),
        (["--network", "chapter7"], 64, "error: "),
        (["--hidden", "100000000"], 64, "parameters, which need about"),
        (["--hidden", "9223372036854775807,9223372036854775807"], 64, "parameters, which need about"),
        (["--lambda", "-1"], 64, "--lambda must be 0 or more, got -1"),
        (["--network", "chapter6-relu", "--loss", "quadratic", "--epochs", "0"], 1, "use log-likelihood"),
        (["ensemble", "--count", "0"], 64, "--count must be positive, got 0"),
        (["ensemble", "--jobs", "0"], 64, "--jobs must be positive, got 0"),
        (["predict", "--load", "/nonexistent.safetensors", "x.pgm"], 1, "error: /nonexistent.safetensors: no such file"),
        (["predict", "--load", "/nonexistent.safetensors", "--weights-only", "x.pgm"], 1, "--weights-only loads the file's tensors into the network --network names"),
    ])
    func failuresAreOneLineAndNonZero(arguments: [String], status: Int32, message: String) throws {
        let run = try Self.run(arguments)
        #expect(run.status == status)
        let lines = Self.errorLines(run)
        #expect(lines.count == 1 && lines[0].contains(message), "\(run.errors)")
    }
}
