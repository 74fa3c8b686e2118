import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program as a child process and measures it as a whole: wall time and its own peak
/// resident size (`wait4`'s rusage of that child alone). For the rows of docs/PERFORMANCE.md that
/// compare whole processes (the replay tool, import, export, audit) with a reference process.
public enum ChildProcess {
    public struct Measured: Sendable {
        public let seconds: Double
        public let peakResidentBytes: Int
        public let status: Int32
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs `path` with `arguments`; standard output goes to `output` (a file path, `/dev/null`
    /// by default), standard error to this process's. `environment` is added to this process's.
    public static func run(_ path: String, _ arguments: [String], output: String = "/dev/null", environment: [String: String] = [:]) throws -> Measured {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let start = ContinuousClock.now
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard spawned == 0 else { throw Failure(description: "cannot start \(path): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        // ru_maxrss is in kilobytes on Linux.
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Measured(seconds: seconds, peakResidentBytes: Int(usage.ru_maxrss) * 1024, status: exit)
    }

    /// A program next to this benchmark's executable (built by `tools/benchmark-table`), or in
    /// `$PATIENT_RECORDS_BIN` for the project's own tools.
    public static func sibling(_ name: String) -> String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (executable as NSString).deletingLastPathComponent + "/" + name
    }

    /// The project's command-line tools, built in release mode by `tools/benchmark-table`.
    public static func tool(_ name: String) throws -> String {
        let directory = ProcessInfo.processInfo.environment["PATIENT_RECORDS_BIN"] ?? (FileManager.default.currentDirectoryPath + "/../.build/release")
        let path = directory + "/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Failure(description: "\(path) is not built; run tools/benchmark-table, or set PATIENT_RECORDS_BIN")
        }
        return path
    }
}
