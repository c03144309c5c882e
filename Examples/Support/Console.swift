import ArgumentParser
import Foundation

/// Prints a line to standard output at once, even into a file or a pipe (where output is
/// otherwise held back in blocks), so that a long run's progress can be followed.
public func printNow(_ line: String) {
    print(line)
    fflush(nil)   // nil: every output stream, standard output among them
}

/// Prints to standard error.
public func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Reports a failure as one line on standard error; the caller throws the returned code.
public func failure(_ message: String) -> ExitCode {
    printError("error: " + message)
    return ExitCode.failure
}

/// Runs a command line: every failure is one line on standard error and a non-zero exit code;
/// `--help` prints help and exits 0.
public func runCommandLine<Command: ParsableCommand>(_ command: Command.Type) async {
    do {
        var parsed = try command.parseAsRoot()
        if var asynchronous = parsed as? AsyncParsableCommand {
            try await asynchronous.run()
        } else {
            try parsed.run()
        }
    } catch let code as ExitCode {
        Foundation.exit(code.rawValue)  // already reported
    } catch {
        let code = command.exitCode(for: error)
        if code == .success {
            print(command.fullMessage(for: error))  // --help, --version
            Foundation.exit(0)
        }
        printError("error: " + command.message(for: error).split(separator: "\n").joined(separator: " "))
        Foundation.exit(code.rawValue)
    }
}
