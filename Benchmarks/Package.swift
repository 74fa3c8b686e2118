// swift-tools-version: 6.1
import PackageDescription

// Benchmarks live in their own package so that services embedding the store never resolve
// benchmark dependencies. Run: `swift package benchmark` from this folder.
let package = Package(
    name: "PatientRecordStoreBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "PatientRecordStore", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "Appends",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "EventStore", package: "PatientRecordStore"),
            ],
            path: "Benchmarks/Appends",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
