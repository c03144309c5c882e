import ArgumentParser
import ExampleSupport

/// `swift run -c release Examples/charlm`: character-level language models on Karpathy's path
/// after the book — nanoGPT's Shakespeare and makemore's names — trained, saved and sampled.
@main
struct CharLMExample: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "charlm",
        abstract: "Train a character-level language model (nanoGPT's Shakespeare, makemore's names), or sample from one.",
        discussion: "Configurations, for `--config NAME`: " + ConfigurationName.allCases.map(\.rawValue).joined(separator: ", ")
            + ". `charlm train --help` lists every training option.",
        subcommands: [Train.self, Sample.self, Evaluate.self],
        defaultSubcommand: Train.self)

    /// Runs the command; every failure is one line on standard error and a non-zero exit code.
    static func main() async { await runCommandLine(Self.self) }
}
