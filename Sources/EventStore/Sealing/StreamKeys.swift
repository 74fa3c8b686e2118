import Crypto
import Foundation
import LMDB

/// Encryption at rest: every stream's payloads are sealed with AES-256-GCM under that stream's
/// own data key; data keys are kept in the `stream-keys` database wrapped (AES-GCM) by the master
/// key, which never enters the store. Destroying a stream's data key (crypto-shredding) leaves
/// its payloads unreadable while the headers, the indexes and the hash chain stay whole.
///
/// A sealed payload is `nonce (12) ‖ ciphertext ‖ tag (16)`; the event id and stream id (the
/// record's bytes between the header and the actor) are its additional authenticated data, so a
/// payload cannot be moved to another event.
///
/// A wrapped key is stored padded with zeros to one page, which makes LMDB keep it on overflow
/// pages of its own: LMDB recycles single-page write buffers without clearing them, so a key kept
/// in an ordinary leaf would leave copies of itself in the unused middle of pages written later,
/// where no scrub could find them. Buffers of several pages go back to the heap instead, and
/// the overflow pages a destroyed key leaves behind are whole, free and found by their bytes.
struct StoreSealing: Sendable {
    let master: MasterKey
    /// Stream id → a wrapped data key (``wrappedKeySize`` bytes, padded to ``paddedKeySize``) or a
    /// tombstone.
    let keys: Database
    /// The store's id, which the head seal covers.
    let storeId: [UInt8]
    /// The key of the head seal, derived from the master key (never the master key itself).
    private let headKey: [UInt8]

    /// What a stored key is padded to: a page, so that it needs two overflow pages.
    let paddedKeySize: Int
    /// The master key check a writer expects in `meta` (for the format it writes).
    let writerKeyCheck: [UInt8]

    init(master: MasterKey, keys: Database, storeId: [UInt8], pageSize: Int) {
        self.master = master
        self.keys = keys
        self.storeId = storeId
        paddedKeySize = max(pageSize, Self.wrappedKeySize)
        writerKeyCheck = master.checkValue(storeId: storeId, format: StoreLayout.formatVersion)
        headKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: master.key, salt: storeId, info: Array("event-store head seal".utf8), outputByteCount: 32
        ).withUnsafeBytes { Array($0) }
    }

    /// The seal of the log's head: who rewrites the log without the master key cannot make it.
    func headSeal(sequence: UInt64, chainHash: [UInt8]) -> [UInt8] {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: headKey))
        mac.update(data: storeId)
        mac.update(data: Bytes.bigEndian(sequence))
        mac.update(data: chainHash)
        return Array(mac.finalize())
    }

    static let wrappedKeyFormat: UInt8 = 1
    static let tombstoneFormat: UInt8 = 0xFF
    /// Format byte, nonce, 32 encrypted key bytes, tag.
    static let wrappedKeySize = 1 + 12 + 32 + 16
    static let sealOverhead = 12 + 16

    /// A new data key for `stream`: the key, and what `stream-keys` keeps of it.
    func newDataKey(stream: String) throws -> (DataKey, [UInt8]) {
        let key = SymmetricKey(size: .bits256)
        let sealed = try key.withUnsafeBytes { raw in
            try AES.GCM.seal(raw, using: master.key, authenticating: Self.wrappingContext(stream.utf8))
        }
        return (DataKey(key), paddedValue([Self.wrappedKeyFormat] + (try Self.combined(sealed))))
    }

    /// Pads the keys a format 1 store kept unpadded (see the type's notes).
    func padStoredKeys(in txn: borrowing WriteTransaction) throws {
        var unpadded: [([UInt8], [UInt8])] = []
        try txn.withCursor(on: keys) { cursor in
            var entry = try cursor.first()
            while let current = entry {
                if current.value.count < paddedKeySize { unpadded.append((Array(current.key), Array(current.value))) }
                entry = try cursor.next()
            }
        }
        for (stream, value) in unpadded { try txn.put(paddedValue(value), forKey: stream, in: keys) }
    }

    func paddedValue(_ value: [UInt8]) -> [UInt8] {
        value + [UInt8](repeating: 0, count: paddedKeySize - value.count)
    }

    /// The data key in a `stream-keys` value, or why there is none.
    func unwrap(_ stored: UnsafeRawBufferPointer, stream: UnsafeRawBufferPointer) -> StreamKey {
        // Stores of format 1 kept keys unpadded.
        guard stored.count >= Self.wrappedKeySize else { return .damaged }
        let stored = UnsafeRawBufferPointer(rebasing: stored.prefix(Self.wrappedKeySize))
        switch stored[0] {
        case Self.tombstoneFormat: return .destroyed
        case Self.wrappedKeyFormat:
            do {
                let box = try PayloadOpener.sealedBox(UnsafeRawBufferPointer(rebasing: stored[1...]))
                let raw = try AES.GCM.open(box, using: master.key, authenticating: Self.wrappingContext(stream))
                return .key(DataKey(SymmetricKey(data: raw)))
            } catch {
                return .damaged
            }
        default: return .damaged
        }
    }

    /// The authenticated data of a wrapped key: it opens only as the key of its own stream.
    static func wrappingContext(_ stream: some Sequence<UInt8>) -> [UInt8] {
        Array("stream-key\0".utf8) + Array(stream)
    }

    private static func combined(_ box: AES.GCM.SealedBox) throws -> [UInt8] {
        guard let combined = box.combined else { throw EventStoreError.cryptography("AES-GCM gave no combined form") }
        return Array(combined)
    }

    /// What replaces a destroyed key: it tells a destroyed key from a stream that never had one.
    var tombstone: [UInt8] { paddedValue([Self.tombstoneFormat] + [UInt8](repeating: 0, count: Self.wrappedKeySize - 1)) }

    /// Seals `payload` for the event `id` of `stream`.
    static func seal(_ payload: [UInt8], id: String, stream: String, key: DataKey) throws -> [UInt8] {
        try key.seal(payload, aad: Array(id.utf8) + Array(stream.utf8))
    }
}

/// A stream's data key as a reader finds it.
enum StreamKey {
    case key(DataKey)
    /// Destroyed on purpose (crypto-shredding).
    case destroyed
    /// No key is stored for the stream.
    case missing
    /// The stored key does not open under this master key, or is malformed.
    case damaged
}

/// Opens sealed payloads for one thread, keeping the data keys it has unwrapped.
///
/// Not thread-safe: each reader and each replay worker has its own.
final class PayloadOpener {
    let sealing: StoreSealing
    /// Where keys come from when no transaction may be used (replay workers).
    private let directory: StreamKeyDirectory?
    private var keys = BytesTable<StreamKey>()
    private var scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)

    init(sealing: StoreSealing, directory: StreamKeyDirectory? = nil) {
        self.sealing = sealing
        self.directory = directory
    }

    /// ``open(_:owned:resolve:)`` with the keys of this opener's directory. On a cached key it
    /// touches nothing shared with other threads (no reference counting on shared objects).
    func open(_ record: EventRecordView, owned: Bool) -> EventRecordView {
        open(record, owned: owned) { [unowned self] bytes in
            directory?.key(of: bytes, sealing: sealing) ?? .missing
        }
    }

    deinit { scratch.deallocate() }

    /// `record` with its payload opened, or marked with why it cannot be.
    ///
    /// - Parameters:
    ///   - owned: keep the plaintext alive as long as the returned view (otherwise it is valid
    ///     until the next call on this opener).
    ///   - resolve: a stream's data key (from its id's bytes), called when the key is not cached yet.
    func open(_ record: EventRecordView, owned: Bool, resolve: (UnsafeRawBufferPointer) throws -> StreamKey) rethrows -> EventRecordView {
        guard record.isSealed else { return record }
        let key = try self.key(of: record.streamIdBytes, resolve: resolve)
        var opened = record
        switch key {
        case .destroyed: opened.payloadState = .keyDestroyed
        case .missing: opened.payloadState = .keyMissing
        case .damaged: opened.payloadState = .keyDamaged
        case .key(let dataKey):
            let length = record.storedPayload.count - StoreSealing.sealOverhead
            guard length >= 0 else {
                opened.payloadState = .damaged
                break
            }
            let target: UnsafeMutableRawBufferPointer
            var storage: PlaintextStorage?
            if owned {
                let kept = PlaintextStorage(count: length)
                storage = kept
                target = kept.bytes
            } else {
                if length > scratch.count {
                    scratch.deallocate()
                    scratch = .allocate(byteCount: max(length, scratch.count * 2), alignment: 16)
                }
                target = scratch
            }
            guard let count = dataKey.open(record.storedPayload, aad: record.sealContext, into: target) else {
                opened.payloadState = .damaged
                break
            }
            opened.plaintext = UnsafeRawBufferPointer(rebasing: target[0..<count])
            opened.plaintextOwner = storage
            opened.payloadState = .opened
        }
        return opened
    }

    /// The data key of the stream whose id is `stream`, cached.
    func key(of stream: UnsafeRawBufferPointer, resolve: (UnsafeRawBufferPointer) throws -> StreamKey) rethrows -> StreamKey {
        if let cached = keys[stream] { return cached }
        let key = try resolve(stream)
        // A key with its cipher contexts is about a kilobyte: keep at most 16 MiB of them.
        if keys.count >= 16_384 { keys.removeAll() }
        keys.set(stream, key)
        return key
    }

    /// Bytes of the map as `Data` without copying them (the generic `DataProtocol` paths copy a
    /// raw buffer byte by byte). Valid only while the bytes are: use it at once.
    @inline(__always)
    static func borrowed(_ bytes: UnsafeRawBufferPointer) -> Data {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return Data() }
        return Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: bytes.count, deallocator: .none)
    }

    /// A stored sealed payload as a sealed box, borrowed from the map (no copy).
    static func sealedBox(_ stored: UnsafeRawBufferPointer) throws -> AES.GCM.SealedBox {
        try AES.GCM.SealedBox(combined: borrowed(stored))
    }

    /// Forgets the cached key of `stream` (after it changed in this transaction).
    func forget(_ stream: String) {
        Array(stream.utf8).withUnsafeBytes { keys.remove($0) }
    }
}

/// Plaintext that lives as long as the views that point into it.
final class PlaintextStorage {
    let bytes: UnsafeMutableRawBufferPointer

    init(count: Int) {
        bytes = .allocate(byteCount: max(count, 1), alignment: 16)
    }

    deinit { bytes.deallocate() }
}

extension StoreSealing {
    /// Every stored `stream-keys` value, copied, for replay workers that may not use the read
    /// transaction themselves.
    func directory<T: TransactionReading & ~Copyable>(in txn: borrowing T) throws -> StreamKeyDirectory {
        var entries = BytesTable<[UInt8]>()
        try txn.withCursor(on: keys) { cursor in
            var entry = try cursor.first()
            var read = 0
            while let current = entry {
                entries.set(current.key, Array(current.value.prefix(StoreSealing.wrappedKeySize)))
                // Each key has overflow pages of its own, scattered over the file; the kernel
                // maps a fault's neighbours too. Give them back now and then.
                read += 1
                if read % 128 == 0 { txn.environment.releaseReadPages() }
                entry = try cursor.next()
            }
        }
        return StreamKeyDirectory(entries: entries)
    }
}

/// The stored data keys of one snapshot, shared read-only by replay workers.
struct StreamKeyDirectory: Sendable {
    let entries: BytesTable<[UInt8]>

    func key(of stream: UnsafeRawBufferPointer, sealing: StoreSealing) -> StreamKey {
        guard let stored = entries[stream] else { return .missing }
        return stored.withUnsafeBytes { sealing.unwrap($0, stream: stream) }
    }
}

extension StoreSealing {
    /// The data key of `stream` as stored in `txn`.
    func key<T: TransactionReading & ~Copyable>(of streamBytes: UnsafeRawBufferPointer, in txn: borrowing T) throws -> StreamKey {
        guard let stored = try txn.value(forKey: streamBytes, in: keys) else { return .missing }
        return unwrap(stored, stream: streamBytes)
    }
}

/// The data keys one write transaction has used: creates a stream's key on its first sealed
/// append, seals payloads, opens stored ones for the idempotent-retry comparison.
///
/// Lives for one transaction; dropped whole when a nested transaction is undone, so it never
/// holds a key the store does not.
final class SealingSession {
    let sealing: StoreSealing
    /// The `meta` database, where the master key check is.
    let meta: Database
    private var keys = BytesTable<DataKey>()
    private lazy var opener = PayloadOpener(sealing: sealing)

    init(sealing: StoreSealing, meta: Database) {
        self.sealing = sealing
        self.meta = meta
    }

    /// Forgets every cached key (a nested transaction was undone).
    func reset() {
        keys.removeAll()
        opener = PayloadOpener(sealing: sealing)
    }

    /// The data key of `stream`, created and stored when the stream has none yet.
    func dataKey(for stream: String, in txn: borrowing WriteTransaction) throws -> DataKey {
        let streamBytes = Array(stream.utf8)
        if let key = streamBytes.withUnsafeBytes({ keys[$0] }) { return key }
        let found = try streamBytes.withUnsafeBytes { try sealing.key(of: $0, in: txn) }
        switch found {
        case .key(let key):
            streamBytes.withUnsafeBytes { keys.set($0, key) }
            return key
        case .missing:
            let (key, wrapped) = try sealing.newDataKey(stream: stream)
            try txn.put(wrapped, forKey: streamBytes, in: sealing.keys, flags: .noOverwrite)
            return key
        case .destroyed: throw EventStoreError.streamKeyDestroyed(stream: stream)
        case .damaged:
            // A key that does not open: the master key may have been rotated by another process
            // since this one opened the store (then every key is wrapped under the new one).
            if let stored = try txn.value(forKey: StoreLayout.MetaKey.keyCheck, in: meta), !stored.elementsEqual(sealing.writerKeyCheck) {
                throw EventStoreError.masterKeyRotated()
            }
            throw EventStoreError.streamKeyUnreadable(stream: stream)
        }
    }

    /// `event` as stored in `stream`: its payload sealed and the sealed flag set.
    func sealed(_ event: NewEvent, stream: String, in txn: borrowing WriteTransaction) throws -> NewEvent {
        var out = event
        out.payload = try StoreSealing.seal(event.payload, id: event.id, stream: stream, key: dataKey(for: stream, in: txn))
        out.flags |= EventRecordLayout.sealedFlag
        return out
    }

    /// A stored record with its payload opened (valid until the next call unless `owned`).
    func opened<T: TransactionReading & ~Copyable>(_ record: EventRecordView, owned: Bool = false, in txn: borrowing T) throws -> EventRecordView {
        try opener.open(record, owned: owned) { bytes in try sealing.key(of: bytes, in: txn) }
    }

    /// Destroys the data key of `stream`: the stored value is replaced by a tombstone. The
    /// overflow pages that held the key are freed; ``EventStore`` wipes them after the commit.
    /// Returns the wrapped key as it was stored, so that its old copies can be found and wiped.
    @discardableResult
    func destroyKey(of stream: String, in txn: borrowing WriteTransaction) throws -> [UInt8]? {
        let streamBytes = Array(stream.utf8)
        let found = try streamBytes.withUnsafeBytes { try sealing.key(of: $0, in: txn) }
        if case .destroyed = found { throw EventStoreError.streamKeyDestroyed(stream: stream) }
        let wrapped = try txn.value(forKey: streamBytes, in: sealing.keys).map { Array($0.prefix(StoreSealing.wrappedKeySize)) }
        try txn.put(sealing.tombstone, forKey: streamBytes, in: sealing.keys)
        streamBytes.withUnsafeBytes { keys.remove($0) }
        opener.forget(stream)
        return wrapped
    }
}

/// Opens sealed records that come from outside the store's own reads (a copy of the records in
/// another database, a reference measurement), with the data keys of one snapshot of the store.
/// Not thread-safe: one per thread.
@_spi(RawRecords) public final class RecordOpener {
    private let opener: PayloadOpener

    init(sealing: StoreSealing, directory: StreamKeyDirectory) {
        opener = PayloadOpener(sealing: sealing, directory: directory)
    }

    /// `record` with its payload opened; valid until the next call (a clear record as it is).
    public func open(_ record: EventRecordView) -> EventRecordView {
        opener.open(record, owned: false)
    }
}

extension EventStore {
    /// An opener for records read elsewhere, with the data keys as they are now; `nil` for a
    /// store without sealing.
    @_spi(RawRecords) public func recordOpener() throws -> RecordOpener? {
        guard let sealing = layout.sealing else { return nil }
        let directory = try read { reader in try sealing.directory(in: reader.txn) }
        return RecordOpener(sealing: sealing, directory: directory)
    }
}
