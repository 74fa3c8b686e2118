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
        /// Where the master key comes from. A new store seals its payloads when this is set; a
        /// sealed store cannot be opened without it. `nil` creates a store without sealing.
        public var masterKey: MasterKeySource?
        /// Whether a new store seals its payloads (when ``masterKey`` is set). An existing
        /// store keeps the choice it was created with.
        public var sealsNewStore = true

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
        let events = try database("events"), streams = try database("streams")
        let eventIds = try database("event-ids"), meta = try database("meta")
        let indexes = try Dictionary(uniqueKeysWithValues: options.indexes.compactMap { name -> (String, Database)? in
            // A read-only process may open a store written before an index existed.
            guard let opened = try environment.openDatabase(named: name, create: !readOnly) else { return nil }
            return (name, opened)
        })
        let projections = try environment.openDatabase(named: "projections", create: !readOnly)
        let keys = try environment.openDatabase(named: "stream-keys", create: !readOnly)

        let stored: (version: UInt32?, id: [UInt8]?, keyCheck: [UInt8]?, empty: Bool) = try environment.read { txn in
            let version = try txn.value(forKey: StoreLayout.MetaKey.formatVersion, in: meta)
                .map { $0.count == 4 ? UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) : 0 }
            return (version, try txn.bytes(forKey: StoreLayout.MetaKey.storeId, in: meta),
                    try txn.bytes(forKey: StoreLayout.MetaKey.keyCheck, in: meta), try txn.count(of: events) == 0)
        }
        func layout(_ sealing: StoreSealing?) -> StoreLayout {
            StoreLayout(events: events, streams: streams, eventIds: eventIds, meta: meta, indexes: indexes,
                        projections: projections, sealing: sealing)
        }
        switch stored.version {
        case StoreLayout.formatVersion?:
            let id = stored.id ?? []
            guard let check = stored.keyCheck else { return (layout(nil), Bytes.hex(id)) }
            guard let keys else { throw EventStoreError.notAnEventStore(path: path) }
            let master = try existingMasterKey(options.masterKey, storeId: Bytes.hex(id), storePath: path)
            guard master.key.checkValue(storeId: id) == check else {
                throw EventStoreError.wrongMasterKey(path: path, source: master.source)
            }
            return (layout(StoreSealing(master: master.key, keys: keys)), Bytes.hex(id))
        case let other?:
            throw EventStoreError.formatVersionMismatch(path: path, found: other, supported: StoreLayout.formatVersion)
        case nil:
            guard stored.empty else { throw EventStoreError.notAnEventStore(path: path) }
            guard !readOnly else { throw EventStoreError.noStore(path: path) }
            var id = [UInt8](repeating: 0, count: 16)
            var generator = SystemRandomNumberGenerator()
            for index in id.indices { id[index] = UInt8.random(in: 0...255, using: &generator) }
            // The key file is written before the store records that it is sealed: a crash in
            // between leaves a spare key file, never a store without its key.
            let master = options.sealsNewStore ? try options.masterKey.map { try newMasterKey($0, storeId: Bytes.hex(id)) } : nil
            try environment.write { txn in
                try txn.put(withUnsafeBytes(of: StoreLayout.formatVersion.bigEndian) { Array($0) }, forKey: StoreLayout.MetaKey.formatVersion, in: meta)
                try txn.put(id, forKey: StoreLayout.MetaKey.storeId, in: meta)
                if let master { try txn.put(master.checkValue(storeId: id), forKey: StoreLayout.MetaKey.keyCheck, in: meta) }
            }
            guard let master else { return (layout(nil), Bytes.hex(id)) }
            guard let keys else { throw EventStoreError.notAnEventStore(path: path) }
            return (layout(StoreSealing(master: master, keys: keys)), Bytes.hex(id))
        }
    }

    /// The master key of an existing sealed store, and where it came from.
    private static func existingMasterKey(_ source: MasterKeySource?, storeId: String, storePath: String) throws -> (key: MasterKey, source: String) {
        switch source {
        case nil: throw EventStoreError.masterKeyRequired(path: storePath)
        case .key(let key)?: return (key, "the given master key")
        case let source?:
            let file = source.keyFile(storeId: storeId)!
            return (try MasterKey.read(fromFile: file), "the key file \(file)")
        }
    }

    /// The master key of a new store: the given one, the one in an existing key file, or a new
    /// one written to its key file.
    private static func newMasterKey(_ source: MasterKeySource, storeId: String) throws -> MasterKey {
        if case .key(let key) = source { return key }
        let file = source.keyFile(storeId: storeId)!
        if case .file = source, FileManager.default.fileExists(atPath: file) { return try MasterKey.read(fromFile: file) }
        let key = MasterKey.generate()
        try key.write(toFile: file)
        return key
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
