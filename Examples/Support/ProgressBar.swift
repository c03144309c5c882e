import Foundation

/// A progress bar over a run's steps, on a terminal only: redirected output stays plain lines.
public struct ProgressBar {
    /// The number of steps.
    public let total: Int
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let enabled = isatty(STDOUT_FILENO) != 0

    /// A bar for `total` steps.
    public init(total: Int) { self.total = total }

    /// Redraws at most ten times a second.
    public mutating func advance(to done: Int) {
        guard enabled, Date().timeIntervalSince(lastDraw) >= 0.1 || done == total else { return }
        lastDraw = Date()
        let elapsed = Date().timeIntervalSince(start)
        let rate = Double(done) / max(elapsed, 1e-9)
        let width = 30, filled = width * done / max(total, 1)
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let line = String(format: "[%@] %d/%d steps  %.0f steps/s  %.1f s left", bar, done, total, rate, Double(total - done) / max(rate, 1e-9))
        FileHandle.standardOutput.write(Data(("\r" + line).utf8))
    }

    /// Erases the bar, before a plain line is printed.
    public func clear() {
        guard enabled else { return }
        FileHandle.standardOutput.write(Data("\r\u{1B}[2K".utf8))
    }
}
