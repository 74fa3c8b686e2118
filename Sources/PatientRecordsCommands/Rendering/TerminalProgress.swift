import ClinicalRecord
import Foundation

/// Progress of long work on a terminal's stderr; silent when stderr is a pipe or a file.
public final class TerminalProgress: @unchecked Sendable {
    // @unchecked: used from one task at a time; the lock only guards against a stray second caller.
    private let label: String
    private let total: Int?
    private let enabled: Bool
    private var lastDraw = ContinuousClock.now - .seconds(1)
    private let lock = NSLock()
    private var drewSomething = false

    /// - Parameters:
    ///   - total: the amount that means done (bytes, events), if known.
    ///   - quiet: never draw, even on a terminal.
    public init(_ label: String, total: Int? = nil, quiet: Bool = false) {
        self.label = label
        self.total = total
        self.enabled = !quiet && isatty(STDERR_FILENO) == 1
    }

    /// Reports `done` units; redraws at most ten times a second.
    public func update(_ done: Int, detail: String = "") {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = ContinuousClock.now
        guard now - lastDraw >= .milliseconds(100) else { return }
        lastDraw = now
        var text = "\r\(label): "
        if let total, total > 0 {
            text += "\(min(100, done * 100 / total))%"
        } else {
            text += "\(done)"
        }
        if !detail.isEmpty { text += " (\(TerminalText.safe(detail)))" }
        FileHandle.standardError.write(Data((text + "\u{1B}[K").utf8))
        drewSomething = true
    }

    /// Clears the progress line.
    public func finish() {
        guard enabled, drewSomething else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    /// Reports an import's progress (bytes of a file, or events of a stream).
    var importing: ImportProgress {
        { [self] read, total, events in update(total == nil ? events : read, detail: "\(events) events") }
    }

    /// Reports a replay's progress.
    var replaying: ReplayProgress {
        { [self] replayed, through in update(Int(replayed), detail: "\(replayed) of \(through) events") }
    }
}
