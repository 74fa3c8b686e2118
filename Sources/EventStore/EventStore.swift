import Foundation
import LMDB
import Synchronization

/// An append-only event log in one LMDB environment (a directory): streams, global order, a
/// hash chain, group-committed durable appends, and reads that do not copy.
///
/// ```swift
/// let store = try EventStore.open(at: "/var/lib/clinic/store")
/// let result = try await store.append(
///     [NewEvent(id: "e-1", type: 1, occurredAt: 0, actor: "u-1", payload: [1, 2, 3])],
///     to: "patient-1", expectedVersion: .noStream)
/// for try await event in store.subscribe(from: 1) { print(event.sequence) }
/// ```
///
/// One process may write while others read (open with ``Options/readOnly``); several writer
/// processes also work, each append landing whole.
///
/// ## Topics
/// - ``open(at:options:)``
/// - ``append(_:to:expectedVersion:)``
/// - ``appendAtomically(_:)``
/// - ``read(_:)``
/// - ``subscribe(from:)``
/// - ``verify()``
public final class EventStore: Sendable {
    /// How a store is opened.
    public struct Options: Sendable {
        /// Open for reading only (other processes may write at the same time).
        public var readOnly = false
        /// Fsync each commit before an append returns. Turning it off trades the last commits
        /// before a system crash for speed; a process crash still loses nothing.
        public var durable = true
        /// The first size of the memory map; it grows on demand.
        public var initialMapSize = 256 << 20
        /// Named indexes the application keeps beside the log (``StreamAppend/indexEntries``).
        public var indexes: [String] = []

        public init(readOnly: Bool = false, durable: Bool = true) {
            self.readOnly = readOnly
            self.durable = durable
        }
    }

    /// The directory of the store.
    public let path: String
    public let options: Options
    /// The store's identity, chosen when it was created (32 hex digits).
    public let storeId: String

    let environment: Environment
    let layout: StoreLayout
    let appendWriter: GroupCommitWriter?
    let commits = CommitSignal()
    private let openKey: String

    private static let openStores = Mutex<Set<String>>([])

    private init(path: String, openKey: String, options: Options, environment: Environment, layout: StoreLayout, storeId: String) {
        self.path = path
        self.openKey = openKey
        self.options = options
        self.environment = environment
        self.layout = layout
        self.storeId = storeId
        if options.readOnly {
            appendWriter = nil
        } else {
            let logWriter = LogWriter(layout: layout)
            let commits = self.commits
            appendWriter = GroupCommitWriter(name: "event-store-writer") { requests in
                let result = Result { () throws -> [Result<[AppendResult], EventStoreError>] in
                    try environment.write { txn in
                        try logWriter.commit(requests, in: txn, now: Clock.nanosecondsSinceEpoch())
                    }
                }
                commits.notify()
                return result.mapError { EventStoreError.wrap($0, operation: "append to the store") }
            }
        }
    }

    deinit {
        appendWriter?.stop()
        _ = EventStore.openStores.withLock { $0.remove(openKey) }
    }

    /// Opens the store in the directory `path`, creating the directory and the store unless
    /// read-only. Refuses a file where the directory should be, a directory it may not use, an
    /// LMDB environment that is no event store, and a store of another format version.
    public static func open(at path: String, options: Options = Options()) throws -> EventStore {
        try prepareDirectory(path, options: options)
        let openKey = (path as NSString).resolvingSymlinksInPath
        let claimed = openStores.withLock { $0.insert(openKey).inserted }
        guard claimed else { throw EventStoreError.alreadyOpen(path: path) }
        do {
            var envOptions = Environment.Options()
            envOptions.readOnly = options.readOnly
            envOptions.durable = options.durable
            envOptions.mapSize = options.initialMapSize
            envOptions.maxDatabases = 32
            let environment: Environment
            do {
                environment = try Environment(path: path, options: envOptions)
            } catch .permissionDenied {
                throw EventStoreError.permissionDenied(path: path)
            } catch .invalid, .versionMismatch {
                throw EventStoreError.notAnEventStore(path: path)
            } catch {
                throw EventStoreError.storage(operation: "open the store at \(path)", error)
            }
            let (layout, storeId) = try openLayout(environment, path: path, options: options)
            return EventStore(path: path, openKey: openKey, options: options, environment: environment, layout: layout, storeId: storeId)
        } catch {
            _ = openStores.withLock { $0.remove(openKey) }
            throw error
        }
    }

    /// A store others can write is not a record anyone can vouch for: the directory and its
    /// files must not be writable by the group or by other users.
    private static func refuseWritableByOthers(_ path: String) throws {
        for item in [path, path + "/data.mdb", path + "/lock.mdb"] {
            var status = stat()
            guard stat(item, &status) == 0 else { continue }
            let mode = status.st_mode & 0o7777
            if mode & 0o022 != 0 {
                throw EventStoreError.writableByOthers(path: item, mode: UInt32(mode))
            }
        }
    }

    private static func prepareDirectory(_ path: String, options: Options) throws {
        var isDirectory: ObjCBool = false
        let manager = FileManager.default
        if manager.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw EventStoreError.notADirectory(path: path) }
            guard manager.isReadableFile(atPath: path), manager.isExecutableFile(atPath: path) else {
                throw EventStoreError.permissionDenied(path: path)
            }
            if options.readOnly && !manager.fileExists(atPath: path + "/data.mdb") {
                throw EventStoreError.noStore(path: path)
            }
            try refuseWritableByOthers(path)
            return
        }
        guard !options.readOnly else { throw EventStoreError.noStore(path: path) }
        do {
            try manager.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch let error as CocoaError where error.code == .fileWriteNoPermission {
            throw EventStoreError.permissionDenied(path: path)
        } catch let error as CocoaError where error.code == .fileWriteFileExists {
            throw EventStoreError.notADirectory(path: path)
        } catch {
            throw EventStoreError.invalidEvent("Could not create the store directory \(path): \(error.localizedDescription)")
        }
    }

    private static func openLayout(_ environment: Environment, path: String, options: Options) throws -> (StoreLayout, String) {
        let readOnly = options.readOnly
        func database(_ name: String) throws -> Database {
            let opened: Database?
            do {
                opened = try environment.openDatabase(named: name, create: !readOnly)
            } catch let error as LMDBError {
                if error == .permissionDenied { throw EventStoreError.permissionDenied(path: path) }
                if error == .incompatible { throw EventStoreError.notAnEventStore(path: path) }
                throw EventStoreError.storage(operation: "open the database \(name) in \(path)", error)
            }
            guard let opened else { throw EventStoreError.notAnEventStore(path: path) }
            return opened
        }
        let layout = StoreLayout(
            events: try database("events"), streams: try database("streams"),
            eventIds: try database("event-ids"), meta: try database("meta"),
            indexes: try Dictionary(uniqueKeysWithValues: options.indexes.compactMap { name in
                // A read-only process may open a store written before an index existed.
                guard let opened = try environment.openDatabase(named: name, create: !readOnly) else { return nil }
                return (name, opened)
            }),
            projections: try environment.openDatabase(named: "projections", create: !readOnly))

        let stored: (version: UInt32?, id: [UInt8]?, empty: Bool) = try environment.read { txn in
            let version = try txn.value(forKey: StoreLayout.MetaKey.formatVersion, in: layout.meta)
                .map { $0.count == 4 ? UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) : 0 }
            return (version, try txn.bytes(forKey: StoreLayout.MetaKey.storeId, in: layout.meta), try txn.count(of: layout.events) == 0)
        }
        switch stored.version {
        case StoreLayout.formatVersion?:
            return (layout, Bytes.hex(stored.id ?? []))
        case let other?:
            throw EventStoreError.formatVersionMismatch(path: path, found: other, supported: StoreLayout.formatVersion)
        case nil:
            guard stored.empty else { throw EventStoreError.notAnEventStore(path: path) }
            guard !readOnly else { throw EventStoreError.noStore(path: path) }
            var id = [UInt8](repeating: 0, count: 16)
            var generator = SystemRandomNumberGenerator()
            for index in id.indices { id[index] = UInt8.random(in: 0...255, using: &generator) }
            try environment.write { txn in
                try txn.put(withUnsafeBytes(of: StoreLayout.formatVersion.bigEndian) { Array($0) }, forKey: StoreLayout.MetaKey.formatVersion, in: layout.meta)
                try txn.put(id, forKey: StoreLayout.MetaKey.storeId, in: layout.meta)
            }
            return (layout, Bytes.hex(id))
        }
    }

    /// Stops accepting appends after those already queued. Later appends fail with ``EventStoreError/closed``.
    public func close() {
        appendWriter?.stop()
    }
}

extension EventStoreError {
    static func wrap(_ error: any Error, operation: String) -> any Error {
        if let lmdb = error as? LMDBError { return EventStoreError.storage(operation: operation, lmdb) }
        return error
    }
}

enum Clock {
    static func nanosecondsSinceEpoch() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

extension EventStore {
    /// Writes a compacted copy of one consistent snapshot into the existing empty directory
    /// `destination` while readers and writers go on. Free pages are left out of the copy.
    public func backup(to destination: String) throws {
        do {
            try environment.copy(to: destination, compacting: true)
        } catch {
            throw EventStoreError.wrap(error, operation: "copy the store to \(destination)")
        }
    }
}
