// swift-tools-version: 6.1
import PackageDescription

// Shared settings, declared once: Swift 6 language mode with strict concurrency comes with the
// tools version; these upcoming features keep existentials and imports explicit.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "PatientRecordStore",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "EventStore", targets: ["EventStore"]),
        .library(name: "ClinicalRecord", targets: ["ClinicalRecord"]),
        .library(name: "Compliance", targets: ["Compliance"]),
        // Synthetic clinic histories (the demo, tests, benchmarks): not part of the record store.
        .library(name: "ClinicGenerator", targets: ["ClinicGenerator"]),
        .library(name: "LogShipping", targets: ["LogShipping"]),
        .executable(name: "patient-records", targets: ["patient-records"]),
        .executable(name: "patient-records-replay", targets: ["patient-records-replay"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // `swift package generate-documentation` for the DocC catalogs (tools/test builds them).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        // OpenSSL's EVP AES-256-GCM: a context per data key, kept and reused (the replay's hot path).
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // One line instead of a register dump when a tool crashes (no memory contents printed).
        .target(name: "CCrashOutput"),
        // The processors this process may run on (its affinity mask), for the replay's partitions.
        .target(name: "CProcessorCount"),
        // LMDB's calls behind a guard that turns a fault on a damaged page into an error.
        .target(
            name: "CLMDBGuard",
            dependencies: ["CLMDB"]
        ),
        .target(
            name: "LMDB",
            dependencies: ["CLMDB", "CLMDBGuard"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EventStore",
            dependencies: [
                "LMDB",
                "COpenSSL",
                "CProcessorCount",
                .product(name: "Crypto", package: "swift-crypto"),
                // The host's logging, metrics and tracing; no-ops until it wires them.
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ClinicalRecord",
            dependencies: [
                "EventStore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            exclude: ["Generated/README.md"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Compliance",
            dependencies: ["ClinicalRecord", "EventStore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // Synthetic clinic histories that break chosen rules on purpose: above Compliance, whose
        // rule ids name what it breaks.
        .target(
            name: "ClinicGenerator",
            dependencies: ["ClinicalRecord", "Compliance", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: swiftSettings
        ),
        // The log shipped to PostgreSQL, and read back (restore, a network's compliance).
        .target(
            name: "LogShipping",
            dependencies: [
                "EventStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PatientRecordsCommands",
            dependencies: [
                "EventStore",
                "ClinicalRecord",
                "Compliance",
                "ClinicGenerator",
                "LogShipping",
                "CCrashOutput",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "patient-records",
            dependencies: ["PatientRecordsCommands"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "patient-records-replay",
            dependencies: ["PatientRecordsCommands"],
            swiftSettings: swiftSettings
        ),
        // A small helper process the tests start to append, read and be killed for real.
        .executableTarget(
            name: "event-store-probe",
            dependencies: ["EventStore"],
            path: "Tests/Support/event-store-probe",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TestSupport",
            dependencies: ["LMDB", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/Support/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LMDBTests",
            dependencies: ["LMDB", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ClinicalRecordTests",
            dependencies: ["ClinicalRecord", "ClinicGenerator", "EventStore", "LMDB", "TestSupport",
                           .product(name: "Tracing", package: "swift-distributed-tracing"),
                           .product(name: "InMemoryTracing", package: "swift-distributed-tracing")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ComplianceTests",
            dependencies: ["Compliance", "ClinicalRecord", "ClinicGenerator", "EventStore", "LMDB", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PatientRecordsCommandsTests",
            dependencies: ["ClinicalRecord", "EventStore", "LMDB", "TestSupport", "patient-records", "patient-records-replay"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EventStoreTests",
            dependencies: [
                "EventStore", "LMDB", "TestSupport", "event-store-probe", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "MetricsTestKit", package: "swift-metrics"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
