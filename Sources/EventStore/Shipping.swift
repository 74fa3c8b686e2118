import Foundation
import LMDB

/// What identifies a store and its sealing, shipped beside its records so that a copy kept
/// elsewhere (PostgreSQL) can be verified, opened with the store's master key, and restored as
/// the same store.
public struct StoreIdentity: Sendable, Hashable, Codable {
    /// The store's id (32 hex digits).
    public let storeId: String
    /// The store format the records were written in.
    public let formatVersion: UInt32
    /// Whether payloads are sealed.
    public let isSealed: Bool
    /// The master key check of a sealed store (HMAC of the store id, under the master key).
    public let keyCheck: [UInt8]?

    public init(storeId: String, formatVersion: UInt32, isSealed: Bool, keyCheck: [UInt8]?) {
        self.storeId = storeId
        self.formatVersion = formatVersion
        self.isSealed = isSealed
        self.keyCheck = keyCheck
    }

    /// The store id's 16 bytes.
    var idBytes: [UInt8]? {
        let digits = Array(storeId.utf8)
        guard digits.count == 32 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 32, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    /// Whether `key` is this store's master key.
    public func isMasterKey(_ key: MasterKey) -> Bool {
        guard let id = idBytes, let keyCheck else { return false }
        return key.checkValue(storeId: id, format: formatVersion) == keyCheck
    }

    /// Whether `seal` is the head seal of this store, under `key`, for the head at `sequence`
    /// whose chain hash is `chainHash`: keyed evidence that the log up to there is the store's
    /// own (no one without the master key can make it for a rewritten log).
    public func isHeadSeal(_ seal: [UInt8], sequence: UInt64, chainHash: [UInt8], masterKey key: MasterKey) -> Bool {
        guard let id = idBytes, isMasterKey(key) else { return false }
        let sealing = StoreSealing(master: key, keys: Database.unopened(StoreLayout.keysDatabase), storeId: id, pageSize: 4096)
        return sealing.headSeal(sequence: sequence, chainHash: chainHash) == seal
    }
}

/// The head of a log and its seal, as a snapshot's `meta` holds them (what a shipped checkpoint
/// carries as its keyed evidence).
public struct SealedHead: Sendable, Hashable {
    public let sequence: UInt64
    public let chainHash: [UInt8]
    public let seal: [UInt8]

    public init(sequence: UInt64, chainHash: [UInt8], seal: [UInt8]) {
        self.sequence = sequence
        self.chainHash = chainHash
        self.seal = seal
    }
}

extension LogReader {
    /// The store's identity as this snapshot's `meta` holds it.
    public func identity() throws -> StoreIdentity {
        let id = try txn.bytes(forKey: StoreLayout.MetaKey.storeId, in: layout.meta) ?? []
        let keyCheck = try txn.bytes(forKey: StoreLayout.MetaKey.keyCheck, in: layout.meta)
        return StoreIdentity(storeId: Bytes.hex(id), formatVersion: layout.formatVersion, isSealed: keyCheck != nil, keyCheck: keyCheck)
    }

    /// The head and its seal, when this snapshot's store seals its head (format 2, sealed).
    public func sealedHead() throws -> SealedHead? {
        guard let sequence = try txn.value(forKey: StoreLayout.MetaKey.headSequence, in: layout.meta).flatMap({ Bytes.uint64(bigEndian: $0) }),
              sequence > 0,
              let chainHash = try txn.bytes(forKey: StoreLayout.MetaKey.chainHead, in: layout.meta),
              let seal = try txn.bytes(forKey: StoreLayout.MetaKey.headSeal, in: layout.meta) else { return nil }
        return SealedHead(sequence: sequence, chainHash: chainHash, seal: seal)
    }

    /// What `stream-keys` holds for `stream`: its wrapped data key or the tombstone of a
    /// destroyed one (without the padding), or `nil` for a stream with no key.
    package func storedStreamKey(_ stream: UnsafeRawBufferPointer) throws -> [UInt8]? {
        guard let keys = layout.sealing?.keys ?? layout.keysDatabase, let stored = try txn.value(forKey: stream, in: keys) else { return nil }
        return Array(stored.prefix(StoreSealing.wrappedKeySize))
    }

    /// Every `stream-keys` entry: each stream's wrapped data key or tombstone (without the
    /// padding), in key order. After a rotation of the master key all of them changed.
    public func storedStreamKeys() throws -> [(stream: [UInt8], value: [UInt8])] {
        guard let keys = layout.sealing?.keys ?? layout.keysDatabase else { return [] }
        return try txn.withCursor(on: keys) { cursor in
            var out: [(stream: [UInt8], value: [UInt8])] = []
            var entry = try cursor.first()
            while let (key, value) = entry {
                out.append((Array(key), Array(value.prefix(StoreSealing.wrappedKeySize))))
                entry = try cursor.next()
            }
            return out
        }
    }
}

/// Opens sealed records read from a shipped copy of a store, with its master key and the
/// wrapped data keys shipped beside them. Not thread-safe: one per thread.
extension RecordOpener {
    /// An opener for records of the store `identity`, whose `stream-keys` entries are
    /// `storedKeys` (stream id bytes → the shipped value). `nil` when `masterKey` is not the
    /// store's master key.
    public convenience init?(identity: StoreIdentity, masterKey: MasterKey, storedKeys: [(stream: [UInt8], value: [UInt8])]) {
        guard identity.isSealed, identity.isMasterKey(masterKey), let id = identity.idBytes else { return nil }
        var entries = BytesTable<[UInt8]>()
        for (stream, value) in storedKeys { stream.withUnsafeBytes { entries.set($0, value) } }
        // The page size only pads keys written later; a reader writes none.
        let sealing = StoreSealing(master: masterKey, keys: Database.unopened(StoreLayout.keysDatabase), storeId: id, pageSize: 4096)
        self.init(sealing: sealing, directory: StreamKeyDirectory(entries: entries))
    }
}

/// Builds a store from shipped records, byte for byte: the records (their chain checked as they
/// come), the stream and event-id indexes derived from their headers, the shipped data keys,
/// and `meta` with the same identity. It is written in a directory beside the destination and
/// renamed into place only when finished, so a restore that fails leaves no half store.
///
/// The application's own indexes (see ``EventStore/Options/indexes``) are created empty: the
/// layer that defines them rebuilds them from the restored log.
public final class StoreRestorer {
    public let destination: String
    private let partial: String
    private var environment: Environment?
    private let layout: StoreLayout
    private let identity: StoreIdentity
    private var chain = ChainCheck()
    private var finished = false

    /// The records written so far.
    public var restored: UInt64 { chain.expected - 1 }

    /// Starts a restore into `destination`, which must not exist.
    ///
    /// - Parameters:
    ///   - destination: the directory of the new store; it must not exist.
    ///   - identity: the shipped store's identity (id, format, key check).
    ///   - masterKey: the store's master key; required for a sealed store (its head is sealed
    ///     with it, and it must match the shipped key check).
    ///   - indexes: the application indexes to create (empty).
    public init(destination: String, identity: StoreIdentity, masterKey: MasterKey?, indexes: [String] = []) throws {
        guard !FileManager.default.fileExists(atPath: destination) else { throw EventStoreError.directoryNotEmpty(path: destination) }
        guard let id = identity.idBytes else {
            throw EventStoreError(code: .damaged, message: "The shipped store id \(identity.storeId) is not 32 hexadecimal digits.", path: destination)
        }
        var master: MasterKey?
        if identity.isSealed {
            guard let masterKey else { throw EventStoreError.masterKeyRequired(path: destination) }
            guard identity.isMasterKey(masterKey) else { throw EventStoreError.wrongMasterKey(path: destination, source: "the given master key") }
            master = masterKey
        }
        self.destination = destination
        self.identity = identity
        // A work directory of its own, made by this restore (mkdir fails on one that exists):
        // nothing someone else made is ever removed.
        var made: String?
        for _ in 0..<8 {
            let candidate = destination + ".partial-" + Bytes.hex((0..<6).map { _ in UInt8.random(in: 0...255) })
            if mkdir(candidate, 0o700) == 0 {
                made = candidate
                break
            }
            guard errno == EEXIST else {
                throw EventStoreError(code: .storage, message: "Could not create the work directory \(candidate) beside \(destination): \(String(cString: strerror(errno))).", path: destination)
            }
        }
        guard let made else { throw EventStoreError.directoryNotEmpty(path: destination + ".partial-…") }
        partial = made
        var options = EventStore.Options()
        options.durable = false
        let environment = try EventStore.openEnvironment(partial, options: options)
        self.environment = environment
        let format = StoreLayout.formatVersion
        layout = try environment.write { txn in
            var opened: [String: Database] = [:]
            for name in StoreLayout.coreDatabases + [StoreLayout.projectionsDatabase, StoreLayout.keysDatabase] + indexes {
                opened[name] = try txn.createDatabase(named: name)
            }
            let meta = opened["meta"]!
            try txn.put(withUnsafeBytes(of: format.bigEndian) { Array($0) }, forKey: StoreLayout.MetaKey.formatVersion, in: meta)
            try txn.put(id, forKey: StoreLayout.MetaKey.storeId, in: meta)
            try txn.put(master == nil ? StoreLayout.Sealing.none : StoreLayout.Sealing.sealed, forKey: StoreLayout.MetaKey.sealing, in: meta)
            if let master { try txn.put(master.checkValue(storeId: id, format: format), forKey: StoreLayout.MetaKey.keyCheck, in: meta) }
            let sealing = master.map { StoreSealing(master: $0, keys: opened[StoreLayout.keysDatabase]!, storeId: id, pageSize: environment.pageSize) }
            return StoreLayout(events: opened["events"]!, streams: opened["streams"]!, eventIds: opened["event-ids"]!, meta: meta,
                               indexes: opened.filter { indexes.contains($0.key) }, projections: opened[StoreLayout.projectionsDatabase],
                               sealing: sealing, formatVersion: format, keysDatabase: opened[StoreLayout.keysDatabase])
        }
    }

    deinit {
        if !finished {
            environment = nil
            try? FileManager.default.removeItem(atPath: partial)
        }
    }

    private func writing<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        guard let environment else { throw EventStoreError.closed(path: destination) }
        do {
            return try environment.write(body)
        } catch let error as LMDBError {
            // The partial store's directory is where a full disk or file size limit shows.
            throw EventStoreError.storage(operation: "write the restored store into \(partial)", error, path: partial)
        }
    }

    /// Writes the shipped `stream-keys` entries (wrapped keys and tombstones).
    public func putStreamKeys(_ keys: [(stream: [UInt8], value: [UInt8])]) throws {
        guard let database = layout.keysDatabase else { return }
        let padded = layout.sealing?.paddedKeySize ?? 0
        try writing { txn in
            for (stream, value) in keys {
                try txn.put(value + [UInt8](repeating: 0, count: max(0, padded - value.count)), forKey: stream, in: database)
            }
        }
    }

    /// The shipped checkpoint's keyed evidence: the restore is refused unless the log reaches
    /// its sequence with its chain hash, and the seal is the master key's own for that head.
    public var expectedSeal: SealedHead?

    /// Appends the next records (sequence, bytes), in order, in one transaction. Refuses a gap,
    /// a record out of order, or one whose chain hash does not follow the one before: nothing
    /// of that batch is written then.
    public func append(_ records: [(sequence: UInt64, bytes: [UInt8])]) throws {
        let start = chain
        // The body may run again (a map grown): it starts from the chain as it was.
        let sealing = layout.sealing, expectedSeal = self.expectedSeal, storeId = identity.storeId, destination = self.destination
        chain = try writing { txn -> ChainCheck in
            var chain = start
            for (sequence, bytes) in records {
                let problem = bytes.withUnsafeBytes { chain.check(sequence: sequence, bytes: $0) }
                if let problem {
                    throw EventStoreError.corruptRecord(sequence: sequence, reason: "the shipped record does not follow the chain: \(problem)")
                }
                if let sealing, let expectedSeal, expectedSeal.sequence == sequence {
                    try Self.checkSeal(expectedSeal, sealing: sealing, restoredThrough: sequence, lastHash: chain.lastHash, storeId: storeId, destination: destination)
                }
                try bytes.withUnsafeBytes { raw in
                    guard let record = EventRecordView(sequence: sequence, bytes: raw) else {
                        throw EventStoreError.corruptRecord(sequence: sequence, reason: "its header does not match its length")
                    }
                    let key = Bytes.bigEndian(sequence)
                    try txn.put(Array(raw), forKey: key, in: layout.events)
                    try txn.put(key, forKey: StoreLayout.streamKey(record.streamIdBytes, version: record.streamVersion), in: layout.streams, flags: .noOverwrite)
                    try txn.put(key, forKey: Array(record.idBytes), in: layout.eventIds, flags: .noOverwrite)
                }
            }
            return chain
        }
    }

    /// The directory the store is built in until ``moveIntoPlace()``: open it there to rebuild
    /// what is derived from the log, so that a failure leaves neither it nor the destination.
    public var workDirectory: String { partial }

    /// Records the head (sealed with the master key), syncs, and moves the store into place.
    public func finish() throws {
        try seal()
        try moveIntoPlace()
    }

    /// Records the head (sealed with the master key) and syncs; the store stays in
    /// ``workDirectory``, closed, until ``moveIntoPlace()``.
    public func seal() throws {
        let chain = self.chain
        if let sealing = layout.sealing {
            try Self.checkSeal(expectedSeal, sealing: sealing, restoredThrough: chain.expected - 1, lastHash: chain.lastHash, storeId: identity.storeId, destination: destination)
        }
        try writing { txn in
            guard chain.expected > 1 else { return }
            let sequence = chain.expected - 1
            try txn.put(Bytes.bigEndian(sequence), forKey: StoreLayout.MetaKey.headSequence, in: layout.meta)
            try txn.put(chain.lastHash, forKey: StoreLayout.MetaKey.chainHead, in: layout.meta)
            if let sealing = layout.sealing {
                try txn.put(sealing.headSeal(sequence: sequence, chainHash: chain.lastHash), forKey: StoreLayout.MetaKey.headSeal, in: layout.meta)
            }
        }
        try environment?.sync()
        environment = nil
        for file in ["data.mdb", "lock.mdb"] { chmod(partial + "/" + file, 0o600) }
    }

    /// Refuses a shipped log whose checkpoint carries no seal, a seal that is not the master
    /// key's own, or a log that does not reach the sealed head with its chain hash.
    static func checkSeal(_ expected: SealedHead?, sealing: StoreSealing, restoredThrough: UInt64, lastHash: [UInt8], storeId: String, destination: String) throws {
        guard let expected else {
            throw EventStoreError(code: .damaged, message: "The shipped log of store \(storeId) carries no head seal, so a rewrite by someone without the master key could not be told apart; ship it again with this release (its shipper seals each checkpoint), then restore. Nothing was restored.", path: destination)
        }
        guard sealing.headSeal(sequence: expected.sequence, chainHash: expected.chainHash) == expected.seal else {
            throw EventStoreError(code: .damaged, message: "The head seal shipped for store \(storeId) (sequence \(expected.sequence)) is not made by its master key: the shipped checkpoint was forged or changed. Nothing was restored.", path: destination)
        }
        guard restoredThrough >= expected.sequence else {
            throw EventStoreError(code: .damaged, message: "The shipped log of store \(storeId) ends at sequence \(restoredThrough), before its sealed head at sequence \(expected.sequence): rows were deleted and the checkpoint moved back. Nothing was restored.", path: destination)
        }
        if restoredThrough == expected.sequence && lastHash != expected.chainHash {
            throw EventStoreError(code: .damaged, message: "The shipped log of store \(storeId) does not carry the sealed chain hash at sequence \(expected.sequence): it was rewritten by someone without the master key. Nothing was restored.", path: destination)
        }
    }

    /// Renames the work directory to the destination (which must still not exist) and syncs the
    /// parent directory. Until then, dropping the restorer removes the work directory.
    public func moveIntoPlace() throws {
        environment = nil
        guard !FileManager.default.fileExists(atPath: destination) else { throw EventStoreError.directoryNotEmpty(path: destination) }
        guard rename(partial, destination) == 0 else {
            throw EventStoreError(code: .storage, message: "Could not move the restored store into \(destination): \(String(cString: strerror(errno))).", path: destination)
        }
        let parent = (destination as NSString).deletingLastPathComponent
        let descriptor = open(parent.isEmpty ? "." : parent, O_RDONLY | O_DIRECTORY)
        if descriptor >= 0 {
            fsync(descriptor)
            close(descriptor)
        }
        finished = true
    }
}

extension EventStore {
    /// Replaces everything in the application index `name` with `entries`, in one transaction:
    /// for an index rebuilt from the log (a restored store's, or one found damaged by `verify`).
    public func replaceIndex(named name: String, with entries: [IndexEntry]) throws {
        guard appendWriter != nil else { throw EventStoreError.readOnly(path: path) }
        let database = try layout.index(named: name)
        do {
            try environment.write { txn in
                var keys: [[UInt8]] = []
                try txn.withCursor(on: database) { cursor in
                    var entry = try cursor.first()
                    while let current = entry {
                        keys.append(Array(current.key))
                        entry = try cursor.next()
                    }
                }
                for key in keys { _ = try txn.delete(forKey: key, in: database) }
                for entry in entries where entry.index == name { try txn.put(entry.value, forKey: entry.key, in: database) }
            }
        } catch {
            throw EventStoreError.wrap(error, operation: "rebuild the index \(name)", path: path)
        }
    }
}
