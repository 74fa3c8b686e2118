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
/// - ``verify(expecting:)``
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
        /// sealed store cannot be opened without it (but see ``withoutMasterKey``). `nil` creates
        /// a store without sealing.
        public var masterKey: MasterKeySource?
        /// Whether a new store seals its payloads (when ``masterKey`` is set). An existing
        /// store keeps the choice it was created with.
        public var sealsNewStore = true
        /// Open a sealed store read-only without its master key: headers, the hash chain and the
        /// structure can be read and verified; payloads read back as ``PayloadState/sealed``.
        public var withoutMasterKey = false
        /// A file outside the store where the highest committed head is kept (see `verify`): a
        /// rollback of the data file to an older state, with its old head seal, is found against
        /// it. By default, for a sealed store whose master key comes from a file, that file's
        /// path with `.head` added; `nil` with a key given in memory.
        public var headAnchorFile: String?

        /// Where the store reports what it does: a swift-log `Logger` and the prefix of its
        /// swift-metrics names (see ``Observability``). Nothing is reported, or printed, until
        /// the host gives a logger or bootstraps a metrics backend.
        public var observability = Observability()

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
    /// Whether the store seals its payloads (whether or not it was opened with its key).
    public let isSealed: Bool
    /// The store's format version as opened (a store opened for writing is brought to
    /// ``EventStore/currentFormatVersion`` first; one opened read-only keeps its own).
    public var formatVersion: UInt32 { layout.formatVersion }
    /// The format version this build writes.
    public static let currentFormatVersion: UInt32 = StoreLayout.formatVersion

    /// The LMDB environment, open until the last reference to the store goes away.
    let lmdb: Environment
    /// Set once by ``close()``.
    private let closedFlag = Atomic<Bool>(false)
    /// The environment, for an operation: after ``close()`` every operation throws
    /// ``EventStoreError/Code/closed`` here, before it touches the store.
    var environment: Environment {
        get throws(EventStoreError) {
            if closedFlag.load(ordering: .acquiring) { throw EventStoreError.closed(path: path) }
            return lmdb
        }
    }
    /// Whether ``close()`` was called.
    public var isClosed: Bool { closedFlag.load(ordering: .acquiring) }
    let layout: StoreLayout
    let appendWriter: GroupCommitWriter?
    let commits = CommitSignal()
    /// The highest committed head, kept outside the data file (a sealed store with a key file).
    let headAnchor: HeadAnchor?
    /// Places in free pages where a retired secret waits for its readers to finish.
    let scrubs = PendingScrubs()
    /// The head seals commits replaced, waiting to be overwritten.
    let retiredSeals = RetiredSeals()
    /// The metrics and the logger of ``Options/observability``, made once.
    let instruments: StoreInstruments
    private let openKey: String

    private static let openStores = Mutex<Set<String>>([])

    private init(path: String, openKey: String, options: Options, environment: Environment, opened: OpenedLayout) {
        self.path = path
        self.openKey = openKey
        self.options = options
        self.instruments = StoreInstruments(options.observability)
        self.lmdb = environment
        self.layout = opened.layout
        self.storeId = Bytes.hex(opened.storeId)
        self.isSealed = opened.isSealed
        let anchorPath = options.headAnchorFile
            ?? (opened.layout.sealing != nil ? options.masterKey?.keyFile(storeId: Bytes.hex(opened.storeId)).map { $0 + ".head" } : nil)
        let headAnchor = anchorPath.map { HeadAnchor(path: $0, storePath: path) }
        self.headAnchor = headAnchor
        if options.readOnly {
            appendWriter = nil
        } else {
            let logWriter = LogWriter(layout: layout)
            let commits = self.commits
            let instruments = self.instruments
            let scrubs = self.scrubs, meta = opened.layout.meta
            let seals = self.retiredSeals
            // A store left with places to scrub (by a process that ended) takes them up.
            if (try? environment.read({ try $0.value(forKey: StoreLayout.MetaKey.scrubPending, in: meta) != nil })) == true {
                scrubs.noteWork()
            }
            appendWriter = GroupCommitWriter(name: "event-store-writer", path: path) { requests in
                let started = ContinuousClock.now
                let layout = logWriter.layout
                let committed = Result { () throws -> ([Result<[AppendResult], EventStoreError>], LogTail, RetiredSeal?) in
                    try environment.write { txn in
                        // The head seal this commit replaces, where it lies in the file.
                        let previous = layout.sealing == nil ? nil : try RetiredSeal.locate(in: txn, meta: layout.meta)
                        let results = try logWriter.commit(requests, in: txn, now: Clock.nanosecondsSinceEpoch())
                        let replaced = try previous.flatMap { try $0.replaced(in: txn, meta: layout.meta) }
                        return (results, try LogTail(layout: layout, txn: txn), replaced)
                    }
                }
                // Durable now: the mark outside the file follows, and the seal this commit
                // replaced (left in a freed page) is overwritten once no reader can see that
                // page, so that no older sealed head can be put back from the file.
                if case .success(let (_, tail, retired)) = committed {
                    seals.committed(head: ChainHead(sequence: tail.sequence, hash: tail.chainHash), replaced: retired,
                                    anchor: headAnchor, environment: environment, meta: meta)
                }
                let result = committed.map(\.0)
                commits.notify()
                // A retired secret whose readers have finished is overwritten now; failing to is
                // not this append's failure (the places stay recorded for the next commit).
                if scrubs.mayHaveWork, case .success = result { try? scrubs.process(environment: environment, meta: meta) }
                let outcome = result.mapError { EventStoreError.wrap($0, operation: "append to the store", path: path) }
                instruments.committed(requests, outcome, after: ContinuousClock.now - started)
                return outcome
            }
        }
    }

    /// For a command-line tool: a data file truncated under one of its in-place reads (a replay,
    /// an audit) ends the process with `message` on standard error and status 1. By default the
    /// read transaction refuses its result instead (``EventStoreError/Code/damaged``).
    public static func exitWhenDataFileShrinks(message: String) {
        Environment.exitWhenFileShrinks(message: message)
    }

    deinit {
        appendWriter?.stop()
        _ = EventStore.openStores.withLock { $0.remove(openKey) }
    }

    /// Opens the store in the directory `path`, creating the directory and the store unless
    /// read-only.
    ///
    /// A new store is created only in a new or empty directory, in one transaction, so that a
    /// data file either holds a whole store or nothing ever committed. A directory holding a
    /// data file that does not open as a store (damaged, truncated, something else's) is refused
    /// and left as it is: it is never initialised again.
    ///
    /// - Throws: ``EventStoreError`` for a file where the directory should be, a directory it may
    ///   not use or that holds something else, a damaged store, a store of another format
    ///   version, and a sealed store without its master key.
    public static func open(at path: String, options: Options = Options()) throws(EventStoreError) -> EventStore {
        do {
            return try openUntyped(at: path, options: options)
        } catch {
            throw EventStoreError.converting(error, operation: "open the store", path: path)
        }
    }

    private static func openUntyped(at path: String, options: Options) throws -> EventStore {
        let preparation = try prepareDirectory(path, options: options)
        let openKey = (path as NSString).resolvingSymlinksInPath
        let claimed = openStores.withLock { $0.insert(openKey).inserted }
        guard claimed else { throw EventStoreError.alreadyOpen(path: path) }
        var created = false
        do {
            let environment = try openEnvironment(path, options: options)
            let opened: OpenedLayout
            if environment.isEmpty {
                // Nothing was ever committed: a new data file, or one whose creation was interrupted.
                guard !options.readOnly else { throw EventStoreError.noStore(path: path) }
                if case .existing = preparation, try !onlyLMDBFiles(in: path) { throw EventStoreError.directoryNotEmpty(path: path) }
                do {
                    opened = try createStore(environment, path: path, options: options)
                    created = true
                } catch is CreatedMeanwhile {
                    created = true
                    opened = try openExisting(environment, path: path, options: options)
                }
            } else {
                opened = try openExisting(environment, path: path, options: options)
            }
            return EventStore(path: path, openKey: openKey, options: options, environment: environment, opened: opened)
        } catch {
            _ = openStores.withLock { $0.remove(openKey) }
            // A creation that failed (a full disk, say) leaves nothing that could pass for a store.
            if case .new(let madeDirectory) = preparation, !created {
                for file in ["data.mdb", "lock.mdb"] { unlink(path + "/" + file) }
                if madeDirectory { rmdir(path) }
            }
            throw error
        }
    }

    /// What the directory holds before the store is opened.
    private enum Preparation {
        /// A data file is there: it must open as a store.
        case existing
        /// An empty or new directory (`true` when this call made it).
        case new(madeDirectory: Bool)
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

    private static func onlyLMDBFiles(in path: String) throws -> Bool {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return entries.allSatisfy { $0 == "data.mdb" || $0 == "lock.mdb" }
    }

    private static func prepareDirectory(_ path: String, options: Options) throws -> Preparation {
        var isDirectory: ObjCBool = false
        let manager = FileManager.default
        if manager.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw EventStoreError.notADirectory(path: path) }
            guard manager.isReadableFile(atPath: path), manager.isExecutableFile(atPath: path) else {
                throw EventStoreError.permissionDenied(path: path)
            }
            try refuseWritableByOthers(path)
            var status = stat()
            if stat(path + "/data.mdb", &status) == 0 {
                // LMDB would take an empty data file for a new one; a store's never is.
                guard status.st_size > 0 else {
                    throw EventStoreError.damaged(path: path, reason: "its data file data.mdb is empty (0 bytes)")
                }
                return .existing
            }
            guard !options.readOnly else { throw EventStoreError.noStore(path: path) }
            guard try onlyLMDBFiles(in: path) else { throw EventStoreError.directoryNotEmpty(path: path) }
            return .new(madeDirectory: false)
        }
        guard !options.readOnly else { throw EventStoreError.noStore(path: path) }
        do {
            try manager.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch let error as CocoaError where error.code == .fileWriteNoPermission {
            throw EventStoreError.permissionDenied(path: path)
        } catch let error as CocoaError where error.code == .fileWriteFileExists {
            throw EventStoreError.notADirectory(path: path)
        } catch let error as CocoaError where error.code == .fileWriteOutOfSpace {
            throw EventStoreError.storage(operation: "create the store directory \(path)", .noSpace, path: path)
        } catch {
            throw EventStoreError(code: .storage, message: "Could not create the store directory \(path): \(SystemErrorText.reason(error)).", path: path)
        }
        return .new(madeDirectory: true)
    }

    static func openEnvironment(_ path: String, options: Options) throws -> Environment {
        var envOptions = Environment.Options()
        envOptions.readOnly = options.readOnly
        envOptions.durable = options.durable
        envOptions.mapSize = options.initialMapSize
        envOptions.maxDatabases = 32
        let observability = options.observability
        envOptions.mapGrown = { bytes in observability.mapGrown(to: bytes, path: path) }
        do {
            return try Environment(path: path, options: envOptions)
        } catch LMDBError.permissionDenied {
            throw EventStoreError.permissionDenied(path: path)
        } catch LMDBError.invalid {
            throw EventStoreError.notAnEventStore(path: path, reason: "LMDB does not recognise its data file")
        } catch LMDBError.versionMismatch {
            throw EventStoreError.notAnEventStore(path: path, reason: "its data file was written by another version of LMDB")
        } catch LMDBError.dataFileTruncated {
            throw EventStoreError.damaged(path: path, reason: "its data file data.mdb is shorter than the pages its last commit uses (truncated, or only partly copied)", underlying: .dataFileTruncated)
        } catch {
            throw EventStoreError.storage(operation: "open the store at \(path)", error, path: path)
        }
    }

    /// The layout of an opened store and what `meta` says about it.
    struct OpenedLayout {
        let layout: StoreLayout
        let storeId: [UInt8]
        let isSealed: Bool
    }

    /// Creates every database and the store's identity in one transaction.
    private static func createStore(_ environment: Environment, path: String, options: Options) throws -> OpenedLayout {
        var id = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for index in id.indices { id[index] = UInt8.random(in: 0...255, using: &generator) }
        // The key file is written before the store records that it is sealed: a crash in
        // between leaves a spare key file, never a store without its key.
        let master = options.sealsNewStore ? try options.masterKey.map { try newMasterKey($0, storeId: Bytes.hex(id)) } : nil
        let format = StoreLayout.formatVersion
        do {
            return try environment.write { txn in
                // Another process may have created the store since this one looked.
                if let meta = try txn.openDatabase(named: "meta"), try txn.value(forKey: StoreLayout.MetaKey.formatVersion, in: meta) != nil {
                    throw CreatedMeanwhile()
                }
                var opened: [String: Database] = [:]
                for name in StoreLayout.coreDatabases + [StoreLayout.projectionsDatabase, StoreLayout.keysDatabase] + options.indexes {
                    opened[name] = try txn.createDatabase(named: name)
                }
                let meta = opened["meta"]!
                try txn.put(withUnsafeBytes(of: format.bigEndian) { Array($0) }, forKey: StoreLayout.MetaKey.formatVersion, in: meta)
                try txn.put(id, forKey: StoreLayout.MetaKey.storeId, in: meta)
                try txn.put(master == nil ? StoreLayout.Sealing.none : StoreLayout.Sealing.sealed, forKey: StoreLayout.MetaKey.sealing, in: meta)
                if let master { try txn.put(master.checkValue(storeId: id, format: format), forKey: StoreLayout.MetaKey.keyCheck, in: meta) }
                let sealing = master.map { StoreSealing(master: $0, keys: opened[StoreLayout.keysDatabase]!, storeId: id, pageSize: environment.pageSize) }
                return OpenedLayout(layout: layout(opened, indexes: options.indexes, sealing: sealing, format: format), storeId: id, isSealed: master != nil)
            }
        } catch {
            throw EventStoreError.wrap(error, operation: "create the store at \(path)", path: path)
        }
    }

    /// Another process created the store between this one's look and its creation.
    struct CreatedMeanwhile: Error {}

    private static func layout(_ opened: [String: Database], indexes: [String], sealing: StoreSealing?, format: UInt32) -> StoreLayout {
        StoreLayout(events: opened["events"]!, streams: opened["streams"]!, eventIds: opened["event-ids"]!, meta: opened["meta"]!,
                    indexes: opened.filter { indexes.contains($0.key) }, projections: opened[StoreLayout.projectionsDatabase],
                    sealing: sealing, formatVersion: format, keysDatabase: opened[StoreLayout.keysDatabase])
    }

    /// What `meta` and the databases of an existing store say, read in one snapshot.
    private struct StoredState {
        var databases: [String: Database] = [:]
        var format: UInt32?
        var id: [UInt8]?
        var keyCheck: [UInt8]?
        var sealing: [UInt8]?
        var storedKeys = 0
        var lastRecordSealed = false
        var head: LogTail?
        var headSeal: [UInt8]?
    }

    private static func openExisting(_ environment: Environment, path: String, options: Options) throws -> OpenedLayout {
        let optional = [StoreLayout.projectionsDatabase, StoreLayout.keysDatabase] + options.indexes
        let stored: StoredState
        do {
            stored = try environment.read({ txn -> StoredState in
                var state = StoredState()
                for name in StoreLayout.coreDatabases {
                    guard let database = try txn.openDatabase(named: name) else {
                        throw EventStoreError.notAnEventStore(path: path, reason: "it has no \(name) database")
                    }
                    state.databases[name] = database
                }
                for name in optional { state.databases[name] = try txn.openDatabase(named: name) }
                let meta = state.databases["meta"]!
                state.format = try txn.value(forKey: StoreLayout.MetaKey.formatVersion, in: meta)
                    .map { $0.count == 4 ? UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) : 0 }
                state.id = try txn.bytes(forKey: StoreLayout.MetaKey.storeId, in: meta)
                state.keyCheck = try txn.bytes(forKey: StoreLayout.MetaKey.keyCheck, in: meta)
                state.sealing = try txn.bytes(forKey: StoreLayout.MetaKey.sealing, in: meta)
                state.headSeal = try txn.bytes(forKey: StoreLayout.MetaKey.headSeal, in: meta)
                if let keys = state.databases[StoreLayout.keysDatabase] { state.storedKeys = try txn.count(of: keys) }
                let provisional = StoreLayout(events: state.databases["events"]!, streams: state.databases["streams"]!,
                                              eventIds: state.databases["event-ids"]!, meta: meta, indexes: [:], projections: nil,
                                              sealing: nil, formatVersion: 0)
                if let last = try provisional.lastRecord(in: txn) {
                    state.lastRecordSealed = last.isSealed
                    state.head = LogTail(sequence: last.sequence, chainHash: Array(last.chainHash), recordedAt: last.recordedAt)
                }
                return state
            }, commitHandles: true)
        } catch let error as EventStoreError {
            throw error
        } catch LMDBError.incompatible {
            throw EventStoreError.notAnEventStore(path: path, reason: "its databases are not the store's")
        } catch {
            throw EventStoreError.wrap(error, operation: "open the store at \(path)", path: path)
        }
        guard let format = stored.format else {
            throw EventStoreError.notAnEventStore(path: path, reason: "its meta database holds no format version")
        }
        guard StoreLayout.readableFormats.contains(format) else {
            throw EventStoreError.formatVersionMismatch(path: path, found: format, supported: StoreLayout.readableFormats)
        }
        guard let id = stored.id, id.count == 16 else {
            throw EventStoreError.damaged(path: path, reason: "its store id in meta is missing or malformed")
        }
        let sealed = try sealingMarker(stored, format: format, path: path)

        var sealing: StoreSealing?
        if sealed {
            let keys = stored.databases[StoreLayout.keysDatabase] ?? nil
            guard let keys else { throw EventStoreError.damaged(path: path, reason: "it is sealed but has no stream-keys database") }
            if options.masterKey == nil && options.withoutMasterKey && options.readOnly {
                sealing = nil
            } else {
                let master = try existingMasterKey(options.masterKey, storeId: Bytes.hex(id), storePath: path)
                guard master.key.checkValue(storeId: id, format: format) == stored.keyCheck else {
                    throw EventStoreError.wrongMasterKey(path: path, source: master.source)
                }
                sealing = StoreSealing(master: master.key, keys: keys, storeId: id, pageSize: environment.pageSize)
            }
        }
        var databases = stored.databases.compactMapValues { $0 }
        if !options.readOnly {
            databases = try upgrade(environment, databases: databases, stored: stored, format: format, sealing: sealing, options: options, path: path)
        }
        let current = options.readOnly ? format : StoreLayout.formatVersion
        return OpenedLayout(layout: layout(databases, indexes: options.indexes, sealing: sealing, format: current), storeId: id, isSealed: sealed)
    }

    /// Whether the store seals its payloads, from a marker that one damaged byte cannot turn
    /// into "no": format 2 records the choice itself and it must agree with the key check; a
    /// format 1 store without a key check must hold no data keys and no sealed record.
    private static func sealingMarker(_ stored: StoredState, format: UInt32, path: String) throws -> Bool {
        if format >= 2 {
            switch stored.sealing {
            case StoreLayout.Sealing.sealed?:
                guard stored.keyCheck?.count == 32 else {
                    throw EventStoreError.damaged(path: path, reason: "it is sealed, but its master key check in meta is missing or malformed")
                }
                return true
            case StoreLayout.Sealing.none?:
                guard stored.keyCheck == nil, stored.storedKeys == 0, !stored.lastRecordSealed else {
                    throw EventStoreError.damaged(path: path, reason: "its sealing marker says it is not sealed, but it holds sealed data")
                }
                return false
            default:
                throw EventStoreError.damaged(path: path, reason: "its sealing marker in meta is missing or malformed")
            }
        }
        if stored.keyCheck != nil { return true }
        guard stored.storedKeys == 0, !stored.lastRecordSealed else {
            throw EventStoreError.damaged(path: path, reason: "it holds sealed data, but its master key check in meta is missing")
        }
        return false
    }

    /// Brings a store opened for writing to this build's format, in one transaction: the
    /// databases added since it was created, the sealing marker, the key check bound to the
    /// format, and the seal of the current head.
    private static func upgrade(_ environment: Environment, databases: [String: Database], stored: StoredState, format: UInt32,
                                sealing: StoreSealing?, options: Options, path: String) throws -> [String: Database] {
        let missing = ([StoreLayout.projectionsDatabase, StoreLayout.keysDatabase] + options.indexes).filter { databases[$0] == nil }
        guard !missing.isEmpty || format < StoreLayout.formatVersion else { return databases }
        do {
            return try environment.write { txn in
                var all = databases
                for name in missing { all[name] = try txn.createDatabase(named: name) }
                let meta = all["meta"]!
                // Read again inside the transaction: another process may have brought the store
                // to this format (and sealed a newer head) since the snapshot `stored` came from.
                let now = try txn.value(forKey: StoreLayout.MetaKey.formatVersion, in: meta)
                    .map { $0.count == 4 ? UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) : 0 } ?? 0
                if now < StoreLayout.formatVersion, let id = stored.id {
                    let target = StoreLayout.formatVersion
                    try txn.put(withUnsafeBytes(of: target.bigEndian) { Array($0) }, forKey: StoreLayout.MetaKey.formatVersion, in: meta)
                    try txn.put(sealing == nil ? StoreLayout.Sealing.none : StoreLayout.Sealing.sealed, forKey: StoreLayout.MetaKey.sealing, in: meta)
                    if let sealing {
                        try sealing.padStoredKeys(in: txn)
                        try txn.put(sealing.master.checkValue(storeId: id, format: target), forKey: StoreLayout.MetaKey.keyCheck, in: meta)
                        // The head is sealed only once the whole chain up to it verifies: a
                        // format 1 log changed by someone without the key must not come out of
                        // the upgrade sealed as genuine. One pass, once per store.
                        var chain = ChainCheck()
                        var problem: (UInt64, String)?
                        try txn.withCursor(on: all["events"]!) { cursor in
                            var entry = try cursor.first()
                            while let current = entry {
                                let sequence = Bytes.uint64(bigEndian: current.key) ?? 0
                                if let reason = chain.check(sequence: sequence, bytes: current.value) {
                                    problem = (sequence, reason)
                                    return
                                }
                                entry = try cursor.next()
                            }
                        }
                        if let (sequence, reason) = problem {
                            throw EventStoreError.damaged(path: path, reason: "its hash chain does not verify at sequence \(sequence) (\(reason)), so it is not brought to format \(target), which seals the head; restore a backup")
                        }
                        if chain.expected > 1 {
                            try txn.put(sealing.headSeal(sequence: chain.expected - 1, chainHash: chain.lastHash), forKey: StoreLayout.MetaKey.headSeal, in: meta)
                        }
                    }
                }
                return all
            }
        } catch {
            throw EventStoreError.wrap(error, operation: "bring the store at \(path) to format \(StoreLayout.formatVersion)", path: path)
        }
    }

    /// The master key of an existing sealed store, and where it came from.
    private static func existingMasterKey(_ source: MasterKeySource?, storeId: String, storePath: String) throws -> (key: MasterKey, source: String) {
        switch source {
        case nil: throw EventStoreError.masterKeyRequired(path: storePath)
        case .key(let key)?: return (key, "the given master key")
        case let source?:
            guard let file = source.keyFile(storeId: storeId) else { throw EventStoreError.masterKeyRequired(path: storePath) }
            return (try MasterKey.read(fromFile: file), "the key file \(file)")
        }
    }

    /// The master key of a new store: the given one, the one in an existing key file, or a new
    /// one written to its key file.
    private static func newMasterKey(_ source: MasterKeySource, storeId: String) throws -> MasterKey {
        if case .key(let key) = source { return key }
        guard let file = source.keyFile(storeId: storeId) else { return MasterKey.generate() }
        if case .file = source, FileManager.default.fileExists(atPath: file) { return try MasterKey.read(fromFile: file) }
        let key = MasterKey.generate()
        try key.write(toFile: file)
        return key
    }

    /// Gives back to the kernel the pages of the map this process has read, so that long work
    /// over many parts of the file (a transaction recording a read for every patient, a walk
    /// over an index) does not keep the whole file resident. Safe at any time: a later read
    /// faults the pages back in; a write transaction's pages are its own.
    public func releaseReadPages() {
        lmdb.releaseReadPages()
    }

    /// Closes the store: appends already queued are committed, then every later use (append,
    /// read, replay, backup, verify) throws ``EventStoreError/Code/closed`` and subscriptions
    /// end. The data file stays mapped until the last reference to the store is released, so a
    /// read already under way finishes; the same directory can be opened again after that.
    public func close() {
        guard !closedFlag.exchange(true, ordering: .acquiringAndReleasing) else { return }
        appendWriter?.stop()
        // Retired secrets whose readers have finished meanwhile are overwritten before the store
        // is put away (what a reader still holds stays recorded for the next writer).
        if appendWriter != nil {
            try? scrubs.process(environment: lmdb, meta: layout.meta)
            retiredSeals.scrubNow(environment: lmdb, meta: layout.meta)
        }
        // Subscriptions waiting for a commit wake up, see the store closed and end.
        commits.notify()
    }
}

enum Clock {
    static func nanosecondsSinceEpoch() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
