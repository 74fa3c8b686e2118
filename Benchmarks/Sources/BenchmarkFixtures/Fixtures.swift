import ClinicGenerator
import ClinicalRecord
import EventStore
import Foundation
import CMalloc
import Synchronization

/// The histories the benchmarks run on: 10,000 patients with short histories (1M events) or
/// long ones (10M events), generated once into `$PATIENT_RECORDS_BENCH_DIR` (by default
/// `/tmp/patient-records-bench`) and reused by later runs.
public enum Scale: String, Sendable, CaseIterable {
    case oneMillion = "1M"
    case tenMillion = "10M"

    public static let patients = 10_000

    /// Months of history per clinic: induction courses then weekly maintenance.
    var months: Int { self == .oneMillion ? 3 : 46 }

    /// The scales this run measures: 1M always, 10M when `PATIENT_RECORDS_BENCH_10M=1`.
    public static var enabled: [Scale] {
        ProcessInfo.processInfo.environment["PATIENT_RECORDS_BENCH_10M"] == "1" ? [.oneMillion, .tenMillion] : [.oneMillion]
    }
}

public enum Fixtures {
    public static let root = ProcessInfo.processInfo.environment["PATIENT_RECORDS_BENCH_DIR"] ?? "/tmp/patient-records-bench"

    private static let stores = Mutex<[String: PatientRecordStore]>([:])

    /// The master key of every sealed fixture (a key file outside the stores, as in production).
    public static var keyFile: String { root + "/master.key" }

    /// The store of `scale`, sealed (as every new store is by default), generated with snapshots
    /// the first time. Open for the whole run.
    public static func store(_ scale: Scale) throws -> PatientRecordStore {
        try fixture(root + "/sealed-store-" + scale.rawValue, scale: scale, sealed: true)
    }

    /// The same history in a store created without sealing: the reference for what sealing costs.
    public static func unsealedStore(_ scale: Scale) throws -> PatientRecordStore {
        try fixture(root + "/store-" + scale.rawValue, scale: scale, sealed: false)
    }

    private static func fixture(_ path: String, scale: Scale, sealed: Bool) throws -> PatientRecordStore {
        try stores.withLock { stores in
            if let open = stores[path] { return open }
            let marker = path + ".complete"
            if !FileManager.default.fileExists(atPath: marker) {
                try? FileManager.default.removeItem(atPath: path)
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
                let store = try PatientRecordStore.open(at: path, durable: false, keyFile: keyFile, sealing: sealed)
                var generator = ClinicGenerator(seed: 2026, patients: Scale.patients, months: scale.months)
                generator.maintenance = true
                for start in stride(from: 0, to: Scale.patients, by: 250) {
                    try store.importEvents((start..<min(start + 250, Scale.patients)).lazy.flatMap { generator.events(forPatient: $0) })
                    Self.note("Generating \(scale.rawValue)\(sealed ? ", sealed" : ""): \(min(start + 250, Scale.patients)) of \(Scale.patients) patients")
                }
                store.close()
                _ = FileManager.default.createFile(atPath: marker, contents: Data())
            }
            // Default settings: durable commits.
            let store = try PatientRecordStore.open(at: path, keyFile: keyFile)
            try store.refreshSnapshots()
            stores[path] = store
            return store
        }
    }

    /// The same (sealed) records in SQLite, built from the store the first time.
    public static func sqlite(_ scale: Scale) throws -> SQLiteLog {
        let path = root + "/sqlite-sealed-" + scale.rawValue + ".db"
        let marker = path + ".complete"
        if !FileManager.default.fileExists(atPath: marker) {
            try? FileManager.default.removeItem(atPath: path)
            let log = try SQLiteLog(path: path)
            try log.load(from: try store(scale))
            _ = FileManager.default.createFile(atPath: marker, contents: Data())
            return log
        }
        return try SQLiteLog(path: path)
    }

    /// Closes the fixtures this process holds open, so that a child process may write to them
    /// (a tool records its reads) without waiting for this process's writer lock.
    public static func release() {
        stores.withLock { stores in
            for store in stores.values { store.close() }
            stores.removeAll()
        }
    }

    private static let copied = Mutex<Set<String>>([])

    /// A copy of the sealed store of `scale`, made once per benchmark process, for the process
    /// rows: the tools record every read of patient data (a RecordAccessed per patient shown),
    /// so they write to the store they read, and the fixture itself must stay as generated.
    public static func workingCopy(_ scale: Scale) throws -> String {
        let source = root + "/sealed-store-" + scale.rawValue
        let copy = root + "/working-copy-" + scale.rawValue
        _ = try store(scale)
        release()
        try copied.withLock { copied in
            guard !copied.contains(copy) else { return }
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: source + "/data.mdb", toPath: copy + "/data.mdb")
            copied.insert(copy)
        }
        return copy
    }

    /// A line on standard error (the harness keeps standard output for its tables).
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// A file of `count` lines of the 1M fixture's export (CloudEvents NDJSON), made once.
    public static func ndjson(lines count: Int) throws -> String {
        let file = root + "/export-\(count).ndjson"
        guard !FileManager.default.fileExists(atPath: file) else { return file }
        let store = try store(.oneMillion)
        var text: [UInt8] = []
        var lines = 0
        struct Enough: Error {}
        do {
            try store.exportEvents { line in
                guard lines < count else { throw Enough() }
                text.append(contentsOf: line.utf8)
                lines += 1
            }
        } catch is Enough {}
        try Data(text).write(to: URL(fileURLWithPath: file + ".partial"))
        try FileManager.default.moveItem(atPath: file + ".partial", toPath: file)
        return file
    }

    /// Every patient id of the fixture.
    public static func patientIds() -> [String] {
        (0..<Scale.patients).map { ClinicGenerator.patientId($0) }
    }
}

/// The bytes the process has allocated and not freed (glibc's `mallinfo2`, every arena, small
/// and mmapped blocks): what replay holds, unlike the resident size, which also counts the
/// pages of the memory-mapped store it reads.
@Sendable public func heapInUse() -> Int {
    let info = mallinfo2()
    return Int(info.uordblks) + Int(info.hblkhd)
}

/// The peak growth of the heap in use while `body` runs, sampled every millisecond.
public func peakHeapGrowth<R>(_ body: () throws -> R) rethrows -> (R, bytes: Int) {
    let before = heapInUse()
    let peak = Atomic<Int>(before)
    let running = Atomic<Bool>(true)
    let sampler = Thread {
        while running.load(ordering: .relaxed) {
            let now = heapInUse()
            if now > peak.load(ordering: .relaxed) { peak.store(now, ordering: .relaxed) }
            usleep(1000)
        }
    }
    sampler.start()
    defer { running.store(false, ordering: .relaxed) }
    let result = try body()
    let now = heapInUse()
    if now > peak.load(ordering: .relaxed) { peak.store(now, ordering: .relaxed) }
    return (result, max(0, peak.load(ordering: .relaxed) - before))
}
