import EventStore
import Foundation
import TestSupport
import Testing

/// A new store in a fresh directory.
@discardableResult
func withStore<R>(options: EventStore.Options = .init(), _ body: (EventStore, String) async throws -> R) async throws -> R {
    try await withTemporaryDirectory { directory in
        let path = directory + "/store"
        let store = try EventStore.open(at: path, options: options)
        defer { store.close() }
        return try await body(store, path)
    }
}

func event(_ id: String, type: UInt16 = 1, payload: String? = nil, actor: String = "u-test") -> NewEvent {
    NewEvent(id: id, type: type, occurredAt: 1_700_000_000_000_000_000, actor: actor,
             metadata: Array("meta".utf8), payload: Array((payload ?? "payload of \(id)").utf8))
}

/// The helper executable built beside the tests.
enum Probe {
    static var path: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return ((executable as NSString).deletingLastPathComponent as NSString).appendingPathComponent("event-store-probe")
    }

    static func start(_ arguments: [String], launcher: [String] = []) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: launcher.first ?? path)
        process.arguments = launcher.isEmpty ? arguments : Array(launcher.dropFirst()) + [path] + arguments
        process.standardError = Pipe()
        try process.run()
        return process
    }

    /// Runs the probe to the end, killing it after `timeout`; returns its status and stderr.
    static func run(_ arguments: [String], launcher: [String] = [], timeout: Duration = .seconds(60)) async throws -> (status: Int32, stderr: String) {
        let process = try start(arguments, launcher: launcher)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                Issue.record("probe \(arguments) timed out")
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        process.waitUntilExit()
        let stderr = (process.standardError as? Pipe)?.fileHandleForReading.readDataToEndOfFile() ?? Data()
        return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }
}
