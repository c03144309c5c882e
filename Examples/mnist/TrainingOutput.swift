import ExampleSupport
import Foundation

/// Where a training run writes: to the terminal, with a progress bar through each epoch, or — for
/// one of several networks training at once — as whole lines, each led by its network's name and
/// without a progress bar (two bars on one line would overwrite each other).
enum TrainingOutput: Sendable {
    case terminal
    case lines(prefix: String)

    /// Whether to draw the progress bar.
    var showsProgress: Bool {
        if case .terminal = self { true } else { false }
    }

    /// What leads each line: nothing on the terminal.
    private var prefix: String {
        if case .lines(let prefix) = self { prefix } else { "" }
    }

    /// Prints `text` on standard output, each of its lines led by the prefix, and flushes it: a
    /// log file has it now, not when the run ends. One `print`, so that lines of networks
    /// training at once do not interleave mid-line.
    func say(_ text: String) {
        print(text.split(separator: "\n", omittingEmptySubsequences: false).map { prefix + $0 }.joined(separator: "\n"))
        fflush(nil)
    }

    /// Prints a warning on standard error, led by the prefix.
    func warn(_ warning: String) {
        printError(prefix + "warning: " + warning)
    }
}
