import ArgumentParser
import CCrashOutput
import EventStore
import Foundation

/// Runs a command line so that every failure is one sentence on stderr and a non-zero exit,
/// never a stack trace or a usage dump.
public enum CommandRunner {
    /// The program's name for the crash line, kept for the process's life.
    nonisolated(unsafe) static let programName: UnsafeMutablePointer<CChar> =
        strdup((CommandLine.arguments.first.map { ($0 as NSString).lastPathComponent }) ?? "patient-records")!

    /// Parses the arguments for `root`, runs the chosen command and exits: 0 on success, the
    /// command's own `ExitCode` when it throws one, and `failure` for every other error.
    public static func main<Root: ParsableCommand>(_ root: Root.Type, failure: Int32 = 1) async -> Never {
        // A closed pipe is an error a write returns (EPIPE), handled where output is written,
        // not a signal that ends the process mid-write.
        signal(SIGPIPE, SIG_IGN)
        // A file size limit (ulimit -f) is a write that fails with EFBIG, reported as a full
        // disk is, not a signal that ends the process mid-write.
        signal(SIGXFSZ, SIG_IGN)
        // A data file truncated under a reader is one sentence, not SIGBUS.
        EventStore.exitWhenDataFileShrinks(message: "The data file data.mdb shrank while it was being read (truncated under a running command); nothing was written and nothing read was shown: find what truncated it, then run verify and restore the store from a backup if it says damaged.\n")
        // A crash prints one line, not the runtime's register dump and backtrace (memory that
        // may hold patient data), unless asked for (to report a bug).
        if ProcessInfo.processInfo.environment["PATIENT_RECORDS_CRASH_DETAILS"] != "1" {
            crash_output_install(CommandRunner.programName)
        }
        do {
            var command = try root.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            exit(0)
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch is StandardOutput.OutputClosed {
            // The reader went away (`| head`): quiet, with the status a shell gives SIGPIPE.
            exit(141)
        } catch {
            if root.exitCode(for: error) == .success {
                // --help and --version.
                print(root.fullMessage(for: error))
                exit(0)
            }
            sayError(TerminalLine(untrusted: sentence(root.message(for: error), of: error)))
            exit(failure)
        }
    }

    /// The message as one sentence ending with a full stop. The store's own errors are one
    /// sentence already, whatever line breaks the input they quote holds (those are escaped
    /// with every other control character when the line is written); the argument parser's
    /// messages may go on with a usage block, of which the first line is kept.
    static func sentence(_ message: String, of error: any Error) -> String {
        let own = String(describing: error)
        let whole = message == own || message == "Error: " + own
        var text = (whole ? message : message.split(separator: "\n").first.map(String.init)) ?? "Unknown error"
        if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
        text = text.trimmingCharacters(in: .whitespaces)
        if let last = text.last, !".!?".contains(last) { text += "." }
        return text
    }
}
