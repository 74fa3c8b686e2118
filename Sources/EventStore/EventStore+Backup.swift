import Foundation
import LMDB

extension EventStore {
    /// Writes a compacted copy of one consistent snapshot to `destination` (a new path, or an
    /// empty directory) while readers and writers go on, and returns the copy's verification.
    ///
    /// The copy is written into `<destination>.partial-<random>` beside it, flushed, opened and
    /// verified (hash chain and structure), and only then renamed to `destination`: a backup
    /// that is interrupted or does not verify never appears under the destination's name, and a
    /// partial copy is refused by every tool as truncated. Free pages are left out, so nothing
    /// freed in the store (a destroyed data key) reaches the copy; its data file is readable by
    /// its owner only. The copy keeps the store's id and opens with the same master key, which
    /// is not copied.
    ///
    /// - Parameters:
    ///   - destination: the new directory of the copy; it must not exist.
    ///   - progress: called now and then with the bytes copied so far and the bytes the store
    ///     uses (an upper bound of the copy's size).
    @discardableResult
    public func backup(to destination: String, progress: (@Sendable (_ copied: Int, _ total: Int) -> Void)? = nil) throws -> VerificationReport {
        // A closed store is refused before anything is made on disk.
        let environment = try environment
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: destination, isDirectory: &isDirectory) {
            guard isDirectory.boolValue, (try? manager.contentsOfDirectory(atPath: destination))?.isEmpty == true else {
                throw EventStoreError.backupDestination(path: destination, reason: "it exists and is not an empty directory; give a new one")
            }
        }
        let parent = (destination as NSString).deletingLastPathComponent
        if !parent.isEmpty && !manager.fileExists(atPath: parent) {
            try manager.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let partial = destination + ".partial-" + Bytes.hex((0..<6).map { _ in UInt8.random(in: 0...255) })
        guard mkdir(partial, 0o700) == 0 else {
            throw EventStoreError.backupDestination(path: destination, reason: String(cString: strerror(errno)))
        }
        var moved = false
        defer { if !moved { try? manager.removeItem(atPath: partial) } }

        let total = environment.usedBytes
        let monitor = progress.map { report in CopyMonitor(file: partial + "/data.mdb", total: total, report: report) }
        do {
            try environment.copy(to: partial, compacting: true)
        } catch {
            monitor?.stop()
            // The partial copy is where a full disk or a file size limit shows.
            throw EventStoreError.wrap(error, operation: "copy the store to \(destination)", path: partial)
        }
        monitor?.stop()
        let data = partial + "/data.mdb"
        chmod(data, 0o600)
        try Self.flush(data)

        var options = Options(readOnly: true)
        options.withoutMasterKey = true
        let copy = try EventStore.open(at: partial, options: options)
        let report = try copy.verify()
        copy.close()
        unlink(partial + "/lock.mdb")
        guard report.isIntact else {
            throw EventStoreError.damaged(path: partial, reason: "the copy does not verify (\(report.problem ?? "unknown damage")); nothing was written to \(destination)")
        }
        guard rename(partial, destination) == 0 else {
            throw EventStoreError.backupDestination(path: destination, reason: String(cString: strerror(errno)))
        }
        moved = true
        try Self.flush(parent.isEmpty ? "." : parent)
        progress?(total, total)
        return report
    }

    /// Flushes a file or a directory (a rename is durable once its directory is flushed).
    private static func flush(_ path: String) throws {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw EventStoreError.storage(operation: "flush \(path)", LMDBError(rawValue: errno), path: path) }
        defer { Glibc.close(descriptor) }
        guard fsync(descriptor) == 0 else { throw EventStoreError.storage(operation: "flush \(path)", LMDBError(rawValue: errno), path: path) }
    }
}

/// Reports the size of a file as it is written, every tenth of a second, on a thread of its own.
private final class CopyMonitor: @unchecked Sendable {
    // @unchecked: `done` is guarded by `condition`.
    private let condition = NSCondition()
    private var done = false
    private var finished = false

    init(file: String, total: Int, report: @escaping @Sendable (Int, Int) -> Void) {
        let thread = Thread { [self] in
            condition.lock()
            while !done {
                condition.unlock()
                var status = stat()
                if stat(file, &status) == 0 { report(min(Int(status.st_size), total), total) }
                condition.lock()
                _ = condition.wait(until: Date(timeIntervalSinceNow: 0.1))
            }
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        thread.start()
    }

    func stop() {
        condition.lock()
        done = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }
}
