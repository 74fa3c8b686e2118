// swift-tools-version: 6.1
import PackageDescription

// libFuzzer targets, in their own package so that the store's own build never needs the fuzzer
// runtime. Build and run with `tools/fuzz` (every Swift module here and in the store is compiled
// with `-sanitize=fuzzer,address`, so coverage guides the fuzzer through the store's code).
let package = Package(
    name: "PatientRecordStoreFuzz",
    dependencies: [
        .package(name: "PatientRecordStore", path: "../"),
    ],
    targets: [
        // Hands each fuzz executable to libFuzzer's driver.
        .target(name: "FuzzDriver"),
        // Stored event records: the header checks, the sealed-payload states, the decoder.
        .executableTarget(
            name: "fuzz-record-decoder",
            dependencies: [
                "FuzzDriver",
                .product(name: "EventStore", package: "PatientRecordStore"),
                .product(name: "ClinicalRecord", package: "PatientRecordStore"),
            ]
        ),
        // CloudEvents NDJSON files imported into a store: parsing, validation, all-or-nothing.
        .executableTarget(
            name: "fuzz-import",
            dependencies: [
                "FuzzDriver",
                .product(name: "EventStore", package: "PatientRecordStore"),
                .product(name: "ClinicalRecord", package: "PatientRecordStore"),
            ]
        ),
    ]
)
