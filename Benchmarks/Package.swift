// swift-tools-version: 6.1
import PackageDescription

// Benchmarks live in their own package so that services embedding the store never resolve
// benchmark dependencies. Run `tools/benchmark-table` from the project, or
// `swift package --allow-writing-to-package-directory benchmark` from this folder.
let package = Package(
    name: "PatientRecordStoreBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "PatientRecordStore", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // The system SQLite, the reference PERFORMANCE.md measures against.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // glibc's mallinfo2, for the heap in use during replay.
        .systemLibrary(name: "CMalloc"),
        .target(
            name: "BenchmarkFixtures",
            dependencies: [
                "CSQLite",
                "CMalloc",
                .product(name: "EventStore", package: "PatientRecordStore"),
                .product(name: "ClinicalRecord", package: "PatientRecordStore"),
                .product(name: "Compliance", package: "PatientRecordStore"),
                .product(name: "ClinicGenerator", package: "PatientRecordStore"),
            ]
        ),
        // The reference of the process rows: a plain C scan of `events` (see its main.c).
        .executableTarget(name: "raw-scan", path: "Sources/raw-scan", linkerSettings: [.linkedLibrary("lmdb")]),
        // One replay outside the harness, for profilers (valgrind --tool=callgrind, perf).
        .executableTarget(
            name: "replay-profile",
            dependencies: [
                "BenchmarkFixtures",
                .product(name: "ClinicalRecord", package: "PatientRecordStore"),
                .product(name: "Compliance", package: "PatientRecordStore"),
            ]
        ),
        // Shipping throughput and lag behind 16 durable appenders, against a throwaway PostgreSQL.
        .executableTarget(
            name: "shipping-lag",
            dependencies: [
                .product(name: "EventStore", package: "PatientRecordStore"),
                .product(name: "LogShipping", package: "PatientRecordStore"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "Appends",
            dependencies: [
                "BenchmarkFixtures",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "EventStore", package: "PatientRecordStore"),
            ],
            path: "Benchmarks/Appends",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Whole processes of the shipped tools against reference processes (C, Python).
        .executableTarget(
            name: "Processes",
            dependencies: [
                "BenchmarkFixtures",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ClinicalRecord", package: "PatientRecordStore"),
            ],
            path: "Benchmarks/Processes",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Replay",
            dependencies: [
                "BenchmarkFixtures",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "EventStore", package: "PatientRecordStore"),
                .product(name: "ClinicalRecord", package: "PatientRecordStore"),
                .product(name: "Compliance", package: "PatientRecordStore"),
                .product(name: "ClinicGenerator", package: "PatientRecordStore"),
            ],
            path: "Benchmarks/Replay",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
