import Crypto
import Foundation
import LMDB

extension EventStore {
    /// Re-wraps every stream's data key under `newKey`, in one durable transaction with the
    /// master key check and the head's seal: before the commit the store opens with its old
    /// master key only, after it with `newKey` only. Data keys and payloads do not change.
    ///
    /// Write `newKey` to its key file (synced) before calling this, so that a crash after the
    /// commit cannot leave a store that no key file opens. After it, this store must be closed
    /// and opened again with the new key: it refuses further writes with the old one, as does
    /// every other process that still holds the old key (their commits check the key first).
    ///
    /// - Throws: ``EventStoreError/notSealed(path:)`` for a store without sealing; a damaged
    ///   data key (one the old master key does not open) stops the rotation with nothing changed.
    public func rotateMasterKey(to newKey: MasterKey) throws {
        guard appendWriter != nil else { throw EventStoreError.readOnly(path: path) }
        guard let sealing = layout.sealing else { throw EventStoreError.notSealed(path: path) }
        let rotated = StoreSealing(master: newKey, keys: sealing.keys, storeId: sealing.storeId, pageSize: try environment.pageSize)
        do {
            let retired = try environment.write { txn -> [[UInt8]] in
                var retired: [[UInt8]] = []
                var entries: [([UInt8], [UInt8])] = []
                try txn.withCursor(on: sealing.keys) { cursor in
                    var entry = try cursor.first()
                    while let current = entry {
                        entries.append((Array(current.key), Array(current.value)))
                        entry = try cursor.next()
                    }
                }
                for (stream, stored) in entries {
                    let rewrapped: [UInt8]
                    switch stream.withUnsafeBytes({ name in stored.withUnsafeBytes { sealing.unwrap($0, stream: name) } }) {
                    case .key(let dataKey):
                        rewrapped = try rotated.wrap(dataKey.key, stream: stream)
                    case .destroyed:
                        continue
                    case .missing, .damaged:
                        throw EventStoreError.damaged(path: path, reason: "the data key of stream \(String(decoding: stream, as: UTF8.self)) does not open with the current master key; nothing was rotated")
                    }
                    try txn.put(rewrapped, forKey: stream, in: sealing.keys)
                    retired.append(Array(stored.prefix(StoreSealing.wrappedKeySize)))
                }
                try txn.put(newKey.checkValue(storeId: sealing.storeId, format: layout.formatVersion), forKey: StoreLayout.MetaKey.keyCheck, in: layout.meta)
                let tail = try LogTail(layout: layout, txn: txn)
                if tail.sequence > 0 {
                    try txn.put(rotated.headSeal(sequence: tail.sequence, chainHash: tail.chainHash), forKey: StoreLayout.MetaKey.headSeal, in: layout.meta)
                }
                return retired
            }
            // The data keys wrapped under the old master key live on in the pages the rotation
            // freed: whoever holds the old key must recover none of them from the live file.
            // One more commit moves both meta pages past them; then they are scrubbed where no
            // reader can see them, and the rest by the commits that follow.
            try environment.write { txn in
                try txn.put(Bytes.bigEndian(UInt64(Clock.nanosecondsSinceEpoch())), forKey: StoreLayout.MetaKey.maintenance, in: layout.meta)
            }
            try scrubs.retire(retired, environment: environment, meta: layout.meta)
        } catch {
            throw EventStoreError.wrap(error, operation: "rotate the master key of the store at \(path)", path: path)
        }
        // This instance still holds the old key: nothing more is written through it.
        close()
    }

    /// Whether `key` opens the sealed store at `path` (its master key check matches), without
    /// opening it for writing.
    public static func masterKeyOpens(_ key: MasterKey, storeAt path: String) throws -> Bool {
        var options = Options(readOnly: true)
        options.masterKey = .key(key)
        switch Result(catching: { () throws(EventStoreError) in try EventStore.open(at: path, options: options) }) {
        case .success(let store):
            store.close()
            return true
        case .failure(let error):
            if error.code == .wrongMasterKey { return false }
            throw error
        }
    }
}

extension StoreSealing {
    /// `key` wrapped for `stream` under this sealing's master key, as `stream-keys` keeps it.
    func wrap(_ key: SymmetricKey, stream: [UInt8]) throws -> [UInt8] {
        let sealed = try key.withUnsafeBytes { raw in
            try AES.GCM.seal(raw, using: master.key, authenticating: Self.wrappingContext(stream))
        }
        guard let combined = sealed.combined else { throw EventStoreError.cryptography("AES-GCM gave no combined form") }
        return paddedValue([Self.wrappedKeyFormat] + Array(combined))
    }
}
