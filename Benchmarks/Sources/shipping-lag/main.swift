import EventStore
import Foundation
import Logging
import LogShipping
import PostgresNIO

// Shipping throughput and lag (docs/PERFORMANCE.md, "Shipping to PostgreSQL"), measured against a
// throwaway PostgreSQL cluster (tools/postgres-cluster) on this machine:
//
// 1. Backlog: a store of --backlog events (written without fsync) is shipped from scratch,
//    following, until PostgreSQL holds all of it: events/s.
// 2. Live: 16 appenders append durably (one event per append, group commit) for --seconds while
//    the shipper follows; every 100 ms the head of the log is compared with the checkpoint in
//    PostgreSQL: lag in events and in time (how long ago the last shipped event was appended).
//
//   swift run -c release --package-path Benchmarks shipping-lag [--backlog N] [--seconds S]
//
// Events are 272-byte records (200-byte payloads), as in the append benchmarks.

func argument(_ name: String, default value: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let number = Int(arguments[index + 1]) else { return value }
    return number
}

let backlog = argument("--backlog", default: 200_000)
let seconds = argument("--seconds", default: 20)
let appenders = 16
let root = NSTemporaryDirectory() + "shipping-lag-" + UUID().uuidString
let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../tools/postgres-cluster").standardized.path

func cluster(_ command: String) throws -> String {
    let process = Process()
    let output = Pipe()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [script, command, root + "/pg"]
    process.standardOutput = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw CocoaError(.executableLoad) }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

func event(_ index: Int) -> NewEvent {
    NewEvent(id: "e-\(index)-" + UUID().uuidString, type: 1, occurredAt: 0, actor: "bench", payload: [UInt8](repeating: 42, count: 200))
}

/// The checkpoint in PostgreSQL, read on a connection of its own.
func shippedThrough(_ connection: PostgresConnection, storeId: String, logger: Logger) async throws -> UInt64 {
    var through: UInt64 = 0
    for try await (value,) in try await connection.query("SELECT shipped_through FROM prs_stores WHERE store_id = \(storeId)", logger: logger).decode((Int64,).self) {
        through = UInt64(value)
    }
    return through
}

var logger = Logger(label: "shipping-lag")
logger.logLevel = .error
let url = try cluster("start")
defer {
    _ = try? cluster("stop")
    try? FileManager.default.removeItem(atPath: root)
}
let target = try PostgresTarget(url: url)
print("PostgreSQL: \(url) (fsync off: the figures are the shipper's, not a disk's)")

// 1. Backlog.
do {
    let store = try EventStore.open(at: root + "/backlog", options: .init(durable: false))
    for start in stride(from: 0, to: backlog, by: 10_000) {
        _ = try await store.append((start..<min(start + 10_000, backlog)).map(event), to: "S\(start % 97)")
    }
    let shipper = LogShipper(store: store, target: target, logger: logger)
    let started = ContinuousClock.now
    try await shipper.run(once: true)
    let elapsed = ContinuousClock.now - started
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print(String(format: "Backlog: %d events shipped in %.2f s: %.0f events/s", backlog, seconds, Double(backlog) / seconds))
    store.close()
}

// 2. Live, behind 16 durable appenders.
func live(target: PostgresTarget, root: String, seconds: Int, appenders: Int, logger: Logger) async throws {
    let store = try EventStore.open(at: root + "/live", options: .init(durable: true))
    var shipper = LogShipper(store: store, target: target, logger: logger)
    shipper.pollInterval = .milliseconds(20)
    let storeId = store.storeId
    let follower = shipper
    let following = Task { try await follower.run() }
    // Append times by sequence, to turn the checkpoint into a lag in time.
    let appendedAt = AppendTimes()
    let deadline = ContinuousClock.now + .seconds(seconds)
    let appending = Task {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for appender in 0..<appenders {
                group.addTask {
                    var index = appender
                    while ContinuousClock.now < deadline {
                        let result = try await store.append([event(index)], to: "S\(appender)")
                        let now = ContinuousClock.now
                        if let sequence = result.positions.last?.sequence { appendedAt.withLock { $0[sequence] = now } }
                        index += appenders
                    }
                }
            }
            try await group.waitForAll()
        }
    }
    var lagEvents: [Double] = [], lagMilliseconds: [Double] = []
    try await target.withConnection(logger: logger) { connection in
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            let head = try store.head()
            let through = try await shippedThrough(connection, storeId: storeId, logger: logger)
            let now = ContinuousClock.now
            lagEvents.append(Double(head - min(head, through)))
            // The lag in time: how long ago the first event not yet shipped was appended.
            let waiting: ContinuousClock.Instant? = appendedAt.withLock { times in
                var sequence = through + 1
                while sequence <= head {
                    if let time = times[sequence] { return time }
                    sequence += 1
                }
                return nil
            }
            if let waiting, head > through {
                let age = now - waiting
                lagMilliseconds.append(Double(age.components.seconds) * 1000 + Double(age.components.attoseconds) / 1e15)
            } else {
                lagMilliseconds.append(0)
            }
        }
    }
    try await appending.value
    let head = try store.head()
    let caughtUp = ContinuousClock.now
    try await target.withConnection(logger: logger) { connection in
        while try await shippedThrough(connection, storeId: storeId, logger: logger) < head { try await Task.sleep(for: .milliseconds(5)) }
    }
    let catchUp = ContinuousClock.now - caughtUp
    following.cancel()
    _ = try? await following.value
    func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }
    print(String(format: "Live: %d appenders appended %llu events durably in %d s (%.0f events/s)", appenders, head, seconds, Double(head) / Double(seconds)))
    print(String(format: "Lag behind them, sampled every 100 ms: median %.0f events / %.0f ms, p99 %.0f events / %.0f ms, max %.0f events / %.0f ms",
                 percentile(lagEvents, 0.5), percentile(lagMilliseconds, 0.5), percentile(lagEvents, 0.99), percentile(lagMilliseconds, 0.99),
                 lagEvents.max() ?? 0, lagMilliseconds.max() ?? 0))
    print(String(format: "Caught up %.0f ms after the appenders stopped", Double(catchUp.components.seconds) * 1000 + Double(catchUp.components.attoseconds) / 1e15))
    store.close()
}

try await live(target: target, root: root, seconds: seconds, appenders: appenders, logger: logger)

/// Append times by sequence, shared by the appenders and the sampler.
final class AppendTimes: @unchecked Sendable {
    private let lock = NSLock()
    private var times: [UInt64: ContinuousClock.Instant] = [:]

    func withLock<R>(_ body: (inout [UInt64: ContinuousClock.Instant]) -> R) -> R {
        lock.withLock { body(&times) }
    }
}
