// swift-tools-version: 6.1
import PackageDescription

// A small clinic service that embeds the store: an example of the library's use, with its own
// tests (run by tools/test). It depends on the store by path, as Benchmarks/ does, so that the
// store's own package never resolves Hummingbird.
let package = Package(
    name: "ClinicService",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "clinic-service", targets: ["clinic-service"]),
    ],
    dependencies: [
        .package(name: "PatientRecordStore", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.3.0"),
    ],
    targets: [
        .target(
            name: "ClinicService",
            dependencies: [
                .product(name: "ClinicalRecord", package: "PatientRecordStore"),
                .product(name: "EventStore", package: "PatientRecordStore"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .executableTarget(
            name: "clinic-service",
            dependencies: ["ClinicService", .product(name: "Hummingbird", package: "hummingbird")]
        ),
        .testTarget(
            name: "ClinicServiceTests",
            dependencies: [
                "ClinicService",
                .product(name: "ClinicalRecord", package: "PatientRecordStore"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
    ]
)
