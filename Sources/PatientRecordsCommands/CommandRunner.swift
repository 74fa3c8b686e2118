import ArgumentParser
import CCrashOutput
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
            FileHandle.standardError.write(Data((sentence(root.message(for: error)) + "\n").utf8))
            exit(failure)
        }
    }

    /// The message as one sentence: first line only, ending with a full stop.
    static func sentence(_ message: String) -> String {
        var text = message.split(separator: "\n").first.map(String.init) ?? "Unknown error"
        if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
        text = text.trimmingCharacters(in: .whitespaces)
        if let last = text.last, !".!?".contains(last) { text += "." }
        return text
    }
}
