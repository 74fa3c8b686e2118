import Benchmark
import BenchmarkFixtures
import EventStore
import Foundation

/// Durable appends: one appender (one event per transaction) is the reference for 16 concurrent
/// appenders (group commit). docs/PERFORMANCE.md asks for 10x its throughput.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.throughput, .wallClock], maxDuration: .seconds(5), maxIterations: 20)

    func makeStore(durable: Bool) -> (EventStore, String) {
        let path = NSTemporaryDirectory() + "append-bench-" + UUID().uuidString
        // swiftlint:disable:next force_try
        let store = try! EventStore.open(at: path, options: .init(durable: durable))
        return (store, path)
    }

    func event(_ id: String) -> NewEvent {
        NewEvent(id: id, type: 1, occurredAt: 0, actor: "bench", payload: [UInt8](repeating: 42, count: 200))
    }

    let eventsPerIteration = 1_000

    /// `eventsPerIteration` durable appends shared by `appenders` concurrent tasks, each to a
    /// stream of its own.
    func append(to store: EventStore, appenders: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for appender in 0..<appenders {
                group.addTask {
                    for index in stride(from: appender, to: eventsPerIteration, by: appenders) {
                        _ = try await store.append([event(UUID().uuidString + "\(index)")], to: "S\(appender)")
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    Benchmark("Durable appends, 1 appender (reference)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let (store, path) = makeStore(durable: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        benchmark.startMeasurement()
        for index in 0..<eventsPerIteration {
            _ = try await store.append([event(UUID().uuidString + "\(index)")], to: "S")
        }
        benchmark.stopMeasurement()
    }

    for appenders in [16] {
        Benchmark("Durable appends, \(appenders) appenders", configuration: .init(scalingFactor: .kilo)) { benchmark in
            let (store, path) = makeStore(durable: true)
            defer { try? FileManager.default.removeItem(atPath: path) }
            benchmark.startMeasurement()
            try await append(to: store, appenders: appenders)
            benchmark.stopMeasurement()
        }
    }

    // The SQLite reference: the same appends, WAL mode, synchronous=FULL, one event per
    // transaction, each appender with its own connection.
    for appenders in [1, 16] {
        Benchmark("SQLite durable appends, \(appenders) appender\(appenders == 1 ? "" : "s") (reference)", configuration: .init(scalingFactor: .kilo)) { benchmark in
            let path = NSTemporaryDirectory() + "sqlite-append-bench-" + UUID().uuidString + ".db"
            defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
            let connections = try (0..<appenders).map { _ in try SQLiteLog(path: path) }
            let record = [UInt8](repeating: 42, count: 272)
            benchmark.startMeasurement()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (appender, connection) in connections.enumerated() {
                    group.addTask {
                        for _ in stride(from: appender, to: eventsPerIteration, by: appenders) {
                            try connection.append(stream: "S\(appender)", type: 1, record: record)
                        }
                    }
                }
                try await group.waitForAll()
            }
            benchmark.stopMeasurement()
        }
    }

    // Sealed stores: payloads sealed with the stream's data key, the head sealed, the previous
    // head's seal scrubbed after each commit; with a key file, the head's mark beside it too.
    for (name, keyFile) in [("key in memory", false), ("key file, head mark", true)] {
        for appenders in [1, 16] {
            Benchmark("Durable appends, sealed, \(name), \(appenders) appender\(appenders == 1 ? "" : "s")", configuration: .init(scalingFactor: .kilo)) { benchmark in
                let path = NSTemporaryDirectory() + "append-bench-" + UUID().uuidString
                defer { try? FileManager.default.removeItem(atPath: path); try? FileManager.default.removeItem(atPath: path + ".key.head") }
                var options = EventStore.Options(durable: true)
                options.masterKey = keyFile ? .file(path + ".key") : .key(MasterKey.generate())
                let store = try EventStore.open(at: path, options: options)
                defer { store.close(); try? FileManager.default.removeItem(atPath: path + ".key") }
                benchmark.startMeasurement()
                try await append(to: store, appenders: appenders)
                benchmark.stopMeasurement()
            }
        }
    }

    Benchmark("Appends without fsync, 1 appender", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let (store, path) = makeStore(durable: false)
        defer { try? FileManager.default.removeItem(atPath: path) }
        benchmark.startMeasurement()
        for index in 0..<eventsPerIteration {
            _ = try await store.append([event(UUID().uuidString + "\(index)")], to: "S")
        }
        benchmark.stopMeasurement()
    }
}
