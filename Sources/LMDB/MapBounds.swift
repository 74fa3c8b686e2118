import CLMDB
import CLMDBGuard
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the data file is mapped, so that every key and value LMDB hands out can be checked to
/// lie inside the file before anyone reads it.
///
/// LMDB maps more than the file holds. A damaged page (a flipped node offset or size) can make it
/// hand out bytes past the end of the file, and touching those ends the process with SIGBUS. A
/// value in the map must end inside the file; one outside the map is a dirty page of the write
/// transaction (heap memory) and is LMDB's own.
final class MapBounds: Sendable {
    /// The first address of the map; 0 when it could not be found (checks then pass).
    private let base = Atomic<UInt>(0)
    /// One past the map's last address.
    private let mapEnd = Atomic<UInt>(0)
    /// One past the file's last byte as last measured; the file only grows while it is open.
    private let fileEnd = Atomic<UInt>(0)

    /// Finds the mapping of the file with this device and inode (Linux: /proc/self/maps).
    func locate(device: UInt64, inode: UInt64, fileSize: Int) {
        var found: (UInt, UInt)?
        #if os(Linux)
        let descriptor = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
        if descriptor >= 0 {
            defer { close(descriptor) }
            var text: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16 << 10)
            while true {
                let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
                guard count > 0 else { break }
                text += chunk[..<count]
            }
            for line in text.split(separator: UInt8(ascii: "\n")) {
                // start-end perms offset major:minor inode path
                let fields = line.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
                guard fields.count >= 5 else { continue }
                let range = fields[0].split(separator: "-"), dev = fields[3].split(separator: ":")
                guard range.count == 2, dev.count == 2,
                      let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16),
                      UInt(fields[2], radix: 16) == 0, UInt64(fields[4]) == inode,
                      let major = UInt32(dev[0], radix: 16), let minor = UInt32(dev[1], radix: 16),
                      UInt64(clmdb_makedev(major, minor)) == device else { continue }
                found = (start, end)
            }
        }
        #endif
        // The fault guard turns a SIGBUS inside the map (the file shrank under a reader) into
        // a page of zeros and a count that the read transaction checks.
        if let old = start, UInt(bitPattern: old) != found?.0 { clmdb_unregister_map(old) }
        slot.store(found.map { Int(clmdb_register_map(UnsafeMutableRawPointer(bitPattern: $0.0), Int($0.1 - $0.0))) } ?? -1, ordering: .releasing)
        base.store(found?.0 ?? 0, ordering: .releasing)
        mapEnd.store(found?.1 ?? 0, ordering: .releasing)
        fileEnd.store((found?.0 ?? 0) + UInt(fileSize), ordering: .releasing)
    }

    /// The map's slot in the fault guard, -1 when it has none.
    private let slot = Atomic<Int>(-1)

    /// Pages of this map that vanished under a reader (the file shrank) and now read as zeros.
    var faults: UInt { UInt(clmdb_map_faults(Int32(slot.load(ordering: .acquiring)))) }

    /// Forgets the map (the environment is closing).
    func release() {
        if let old = start { clmdb_unregister_map(old) }
        base.store(0, ordering: .releasing)
    }

    /// The first address of the map, when it was found.
    var start: UnsafeMutableRawPointer? {
        UnsafeMutableRawPointer(bitPattern: base.load(ordering: .acquiring))
    }

    /// Whether `bytes` may be read: outside the map, or inside the file's part of it. `fileSize`
    /// is asked for when the bytes reach past the size measured last.
    @inline(__always)
    func contains(_ bytes: UnsafeRawBufferPointer, fileSize: () -> Int) -> Bool {
        guard let start = bytes.baseAddress.map({ UInt(bitPattern: $0) }) else { return true }
        let base = self.base.load(ordering: .relaxed)
        guard base != 0, start >= base, start < mapEnd.load(ordering: .relaxed) else { return true }
        let (end, overflow) = start.addingReportingOverflow(UInt(bytes.count))
        if !overflow && end <= fileEnd.load(ordering: .relaxed) { return true }
        let measured = base + UInt(fileSize())
        fileEnd.store(measured, ordering: .relaxed)
        return !overflow && end <= measured
    }
}
