import Crypto
import Foundation
import LMDB
import TestSupport
import Synchronization
import Testing
@_spi(RawRecords) @testable import EventStore

/// Encryption at rest: payloads sealed per stream, data keys wrapped by a master key kept outside
/// the store, and destroying a key (crypto-shredding).
struct SealingTests {
    static func sealedOptions(_ key: MasterKey = MasterKey.generate()) -> EventStore.Options {
        var options = EventStore.Options()
        options.masterKey = .key(key)
        return options
    }

    static let secret = "Ana Ruiz, born 1980-05-01, phone +1-555-0101"

    /// Every occurrence of `needle` in the file at `path`.
    static func occurrences(of needle: [UInt8], inFileAt path: String) throws -> Int {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard !needle.isEmpty, needle.count <= data.count else { return 0 }
        // Foundation's search (optimised) rather than a byte loop, which is slow in a debug build.
        let pattern = Data(needle)
        var count = 0
        var from = data.startIndex
        while let found = data.range(of: pattern, in: from..<data.endIndex) {
            count += 1
            from = found.lowerBound + 1
        }
        return count
    }

    @Test func payloadsAreStoredSealedAndReadInTheClear() async throws {
        try await withStore(options: Self.sealedOptions()) { store, path in
            try await store.append([event("e-1", payload: Self.secret), event("e-2", payload: Self.secret)], to: "patient-1")
            let events = try store.events()
            #expect(events.map { String(decoding: $0.payload, as: UTF8.self) } == [Self.secret, Self.secret])
            #expect(events.allSatisfy { $0.payloadState == .opened && $0.flags & EventRecordLayout.sealedFlag != 0 })
            // Nothing of the payload is in the file; the header's ids are.
            #expect(try Self.occurrences(of: Array("Ana Ruiz".utf8), inFileAt: path + "/data.mdb") == 0)
            #expect(try Self.occurrences(of: Array("patient-1".utf8), inFileAt: path + "/data.mdb") > 0)
            // The same plaintext seals differently each time (a fresh nonce).
            let stored = try store.read { reader in
                try [1, 2].map { Array(try #require(try reader.storedRecord(at: $0)).storedPayload) }
            }
            #expect(stored[0] != stored[1])
            #expect(try store.verify().isIntact)
        }
    }

    @Test func aStoreWithoutSealingKeepsPayloadsInTheClear() async throws {
        try await withStore { store, path in
            try await store.append([event("e-1", payload: Self.secret)], to: "patient-1")
            #expect(!store.isSealed)
            #expect(try Self.occurrences(of: Array("Ana Ruiz".utf8), inFileAt: path + "/data.mdb") == 1)
        }
    }

    @Test func aSealedStoreOpensOnlyWithItsMasterKey() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store", keys = directory + "/keys"
            var options = EventStore.Options()
            options.masterKey = .directory(keys)
            let storeId: String
            do {
                let store = try EventStore.open(at: path, options: options)
                storeId = store.storeId
                try await store.append([event("e-1", payload: Self.secret)], to: "patient-1")
                store.close()
            }
            let keyFile = keys + "/" + storeId + ".key"
            // The key file is the owner's alone, and lives outside the store.
            let attributes = try FileManager.default.attributesOfItem(atPath: keyFile)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            #expect(try FileManager.default.contentsOfDirectory(atPath: path).sorted() == ["data.mdb", "lock.mdb"])

            #expect(throws: EventStoreError.masterKeyRequired(path: path)) { try EventStore.open(at: path, options: .init(readOnly: true)) }
            var wrong = EventStore.Options(readOnly: true)
            wrong.masterKey = .key(MasterKey.generate())
            #expect(throws: EventStoreError.wrongMasterKey(path: path, source: "the given master key")) { try EventStore.open(at: path, options: wrong) }
            var missing = EventStore.Options(readOnly: true)
            missing.masterKey = .file(directory + "/nowhere.key")
            #expect(throws: EventStoreError.masterKeyMissing(keyFile: directory + "/nowhere.key")) { try EventStore.open(at: path, options: missing) }
            let garbled = directory + "/garbled.key"
            _ = FileManager.default.createFile(atPath: garbled, contents: Data("not a key\n".utf8), attributes: [.posixPermissions: 0o600])
            var bad = EventStore.Options(readOnly: true)
            bad.masterKey = .file(garbled)
            #expect(throws: EventStoreError.invalidMasterKey(source: "the key file \(garbled)", reason: "it should hold 64 hexadecimal digits and holds 9 characters")) {
                try EventStore.open(at: path, options: bad)
            }
            // A key file others can read is refused.
            chmod(keyFile, 0o644)
            var exposed = EventStore.Options(readOnly: true)
            exposed.masterKey = .directory(keys)
            #expect(throws: EventStoreError.keyFileExposed(path: keyFile, mode: 0o644)) { try EventStore.open(at: path, options: exposed) }
            chmod(keyFile, 0o600)
            let reader = try EventStore.open(at: path, options: exposed)
            #expect(try reader.events().map(\.payload) == [Array(Self.secret.utf8)])
        }
    }

    @Test func aChangedSealedByteIsFoundAndNeverReadAsData() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store"
            let key = MasterKey.generate()
            do {
                let store = try EventStore.open(at: path, options: Self.sealedOptions(key))
                try await store.append([event("e-1", payload: Self.secret), event("e-2")], to: "patient-1")
                store.close()
            }
            // Flip one bit of the first record's ciphertext, in the file.
            try damageRecord(1, inStoreAt: path) { bytes in bytes[bytes.count - 20] ^= 0x01 }
            var options = Self.sealedOptions(key)
            options.readOnly = true
            let store = try EventStore.open(at: path, options: options)
            #expect(try store.verify().firstBadSequence == 1)
            let events = try store.events()
            #expect(events[0].payloadState == .damaged && events[0].payload.isEmpty)
            #expect(events[1].payloadState == .opened)
        }
    }

    /// The event id and stream id are authenticated with the payload: a sealed payload copied
    /// onto another event of the same patient (same key, same length) does not open there.
    @Test func aSealedPayloadMovedToAnotherEventDoesNotOpen() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store"
            let key = MasterKey.generate()
            let second: [UInt8]
            do {
                let store = try EventStore.open(at: path, options: Self.sealedOptions(key))
                try await store.append([event("e-1", payload: "dose 40 mg"), event("e-2", payload: "dose 90 mg")], to: "patient-1")
                second = try store.read { reader in Array(try #require(try reader.storedRecord(at: 2)).storedPayload) }
                store.close()
            }
            try damageRecord(1, inStoreAt: path) { bytes in bytes.replaceSubrange((bytes.count - second.count)..., with: second) }
            var options = Self.sealedOptions(key)
            options.readOnly = true
            let store = try EventStore.open(at: path, options: options)
            let events = try store.events()
            #expect(events[0].payloadState == .damaged && events[0].payload.isEmpty)
            #expect(String(decoding: events[1].payload, as: UTF8.self) == "dose 90 mg")
        }
    }

    @Test func destroyingAStreamsKeyLeavesItsPayloadsUnreadableAndEverythingElseWhole() async throws {
        try await withStore(options: Self.sealedOptions()) { store, _ in
            try await store.append([event("a-1", payload: Self.secret), event("a-2")], to: "patient-a")
            try await store.append([event("b-1", payload: "b's own")], to: "patient-b")
            let result = try await store.destroyKey(ofStream: "patient-a", recording: [event("a-forget", payload: "forgotten: ER-1")], expectedVersion: .exactly(2))
            #expect(result.positions[0].streamVersion == 3)

            let a = try store.events(inStream: "patient-a")
            #expect(a.map(\.payloadState) == [.keyDestroyed, .keyDestroyed, .clear])
            #expect(a[0].payload.isEmpty && a[1].payload.isEmpty)
            #expect(String(decoding: a[2].payload, as: UTF8.self) == "forgotten: ER-1")
            #expect(try store.events(inStream: "patient-b").map { String(decoding: $0.payload, as: UTF8.self) } == ["b's own"])
            #expect(try store.verify().isIntact)

            await #expect(throws: EventStoreError.streamKeyDestroyed(stream: "patient-a")) {
                try await store.append([event("a-3")], to: "patient-a")
            }
            await #expect(throws: EventStoreError.streamKeyDestroyed(stream: "patient-a")) {
                try await store.destroyKey(ofStream: "patient-a", recording: [event("a-forget-again")])
            }
            // A retried append of an event stored before the key was destroyed cannot be compared.
            await #expect(throws: EventStoreError.streamKeyDestroyed(stream: "patient-a")) {
                try await store.append([event("a-1", payload: Self.secret)], to: "patient-a")
            }
            try await store.append([event("b-2")], to: "patient-b")
        }
    }

    @Test func aStoreWithoutSealingHasNoKeyToDestroy() async throws {
        try await withStore { store, path in
            try await store.append([event("a-1")], to: "patient-a")
            await #expect(throws: EventStoreError.notSealed(path: path)) {
                try await store.destroyKey(ofStream: "patient-a", recording: [event("a-forget")])
            }
        }
    }

    /// LMDB keeps a page's old version on its free list until it is reused, and a long reader
    /// keeps it from being reused. Destroying a key overwrites every copy of it left in free
    /// pages, so neither the live file nor a backup (live pages only) holds a 16-byte piece of
    /// any destroyed wrapped key.
    @Test(.timeLimit(.minutes(2)))
    func neitherTheLiveFileNorABackupHoldsAByteOfADestroyedKey() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store"
            let store = try EventStore.open(at: path, options: Self.sealedOptions())
            defer { store.close() }
            // Enough streams that the keys span many pages, added in rounds so pages split and
            // are copied on write many times over.
            let streams = (0..<600).map { "patient-\($0)" }
            for round in 0..<3 {
                for stream in streams.shuffled() {
                    try await store.append([event("\(stream)-\(round)")], to: stream)
                }
            }
            let forgotten = stride(from: 0, to: 600, by: 37).map { streams[$0] }
            let wrapped: [[UInt8]] = try store.read { reader in
                try forgotten.map { stream in
                    Array(try #require(try reader.txn.bytes(forKey: Array(stream.utf8), in: store.layout.sealing!.keys)).prefix(StoreSealing.wrappedKeySize))
                }
            }
            #expect(wrapped.allSatisfy { $0.count == StoreSealing.wrappedKeySize && $0[0] == StoreSealing.wrappedKeyFormat })
            // A long reader (a replay, a backup) holds its snapshot while the keys are destroyed:
            // the pages that held them are part of its snapshot, and must not change under it
            // (a backup taken then would hold a live patient with a zeroed key).
            let reading = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
            let seen = Mutex<[[UInt8]]>([])
            let keys = store.layout.sealing!.keys
            Thread {
                _ = try? store.read { reader in
                    reading.signal()
                    release.wait()
                    let inSnapshot = try forgotten.map { stream in
                        Array(try reader.txn.bytes(forKey: Array(stream.utf8), in: keys)?.prefix(StoreSealing.wrappedKeySize) ?? [])
                    }
                    seen.withLock { $0 = inSnapshot }
                }
                done.signal()
            }.start()
            reading.wait()
            for stream in forgotten {
                try await store.destroyKey(ofStream: stream, recording: [event("\(stream)-forget")])
            }
            release.signal()
            done.wait()
            #expect(seen.withLock { $0 } == wrapped, "a page was overwritten under a reader's snapshot")
            // The copies a reader could still see were recorded; the next commit overwrites them.
            try await store.append([event("after-the-reader")], to: "patient-after")
            func pieces(of key: [UInt8]) -> [[UInt8]] {
                stride(from: 1, to: key.count - 16, by: 8).map { Array(key[$0..<($0 + 16)]) }
            }
            for piece in wrapped.flatMap(pieces) {
                #expect(try Self.occurrences(of: piece, inFileAt: path + "/data.mdb") == 0, "a piece of a destroyed key is in the live file")
            }
            if let debug = ProcessInfo.processInfo.environment["DEBUG_SCRUB"] {
                try? FileManager.default.copyItem(atPath: path, toPath: debug)
                try? Data(wrapped.flatMap { $0 }).write(to: URL(fileURLWithPath: debug + "/wrapped.bin"))
            }
            let backup = directory + "/backup"
            try store.backup(to: backup)
            for piece in wrapped.flatMap(pieces) {
                #expect(try Self.occurrences(of: piece, inFileAt: backup + "/data.mdb") == 0, "a piece of a destroyed key is in the backup")
            }
            // The stored value is the tombstone, and the other streams' keys still open.
            try store.read { reader in
                let value = try #require(try reader.txn.bytes(forKey: Array(forgotten[0].utf8), in: store.layout.sealing!.keys))
                #expect(value == store.layout.sealing!.tombstone)
            }
            #expect(try store.events(inStream: streams[1]).allSatisfy { $0.payloadState == .opened })
        }
    }
}

/// The data key's OpenSSL AES-256-GCM and swift-crypto's write and read the same sealed form, so
/// stores sealed before the change open unchanged, and a changed byte or other authenticated data
/// never opens.
struct DataKeyTests {
    @Test func payloadsSealedBySwiftCryptoOpenWithTheDataKeyAndTheOtherWayRound() throws {
        let key = SymmetricKey(size: .bits256)
        let dataKey = DataKey(key)
        for length in [0, 1, 15, 16, 17, 255, 4096, 70_000] {
            let plain = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let aad = Array("event-\(length)patient-1".utf8)

            let bySwiftCrypto = Array(try AES.GCM.seal(plain, using: key, authenticating: aad).combined!)
            #expect(Self.open(bySwiftCrypto, aad: aad, with: dataKey) == plain)

            let byDataKey = try dataKey.seal(plain, aad: aad)
            #expect(byDataKey.count == plain.count + StoreSealing.sealOverhead)
            let reopened = try AES.GCM.open(AES.GCM.SealedBox(combined: byDataKey), using: key, authenticating: aad)
            #expect(Array(reopened) == plain)
            #expect(Self.open(byDataKey, aad: aad, with: dataKey) == plain)

            // Another event's authenticated data, another key, a changed byte: none opens.
            #expect(Self.open(byDataKey, aad: aad + [0], with: dataKey) == nil)
            #expect(Self.open(byDataKey, aad: aad, with: DataKey(SymmetricKey(size: .bits256))) == nil)
            for position in [0, 12, byDataKey.count - 1] {
                var changed = byDataKey
                changed[position] ^= 0x01
                #expect(Self.open(changed, aad: aad, with: dataKey) == nil)
            }
        }
        // Two seals of the same payload differ (a fresh nonce each time).
        #expect(try dataKey.seal([1, 2, 3], aad: []) != (try dataKey.seal([1, 2, 3], aad: [])))
        // Too short to hold a nonce and a tag.
        #expect(Self.open([UInt8](repeating: 0, count: 27), aad: [], with: dataKey) == nil)
    }

    static func open(_ sealed: [UInt8], aad: [UInt8], with key: DataKey) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: max(sealed.count - StoreSealing.sealOverhead, 0))
        let count = output.withUnsafeMutableBytes { out in
            sealed.withUnsafeBytes { sealed in aad.withUnsafeBytes { aad in key.open(sealed, aad: aad, into: out) } }
        }
        return count.map { Array(output.prefix($0)) }
    }
}

/// A rotation retires the old master key: none of the data keys wrapped under it is left in any
/// page of the live file. A reader's snapshot keeps them until it ends; the places are recorded,
/// and the next commit (by any writer, with the new key) scrubs them.
struct RotationScrubTests {
    @Test(.timeLimit(.minutes(2)))
    func afterARotationTheOldMasterKeyOpensNoDataKeyInTheLiveFile() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store"
            let newKey = MasterKey.generate()
            let streams = (0..<120).map { "patient-\($0)" }
            var wrapped: [[UInt8]] = []
            do {
                let store = try EventStore.open(at: path, options: SealingTests.sealedOptions())
                for round in 0..<2 {
                    for stream in streams { try await store.append([event("\(stream)-\(round)", payload: "phone +1-555-01\(round)")], to: stream) }
                }
                let keys = store.layout.sealing!.keys
                wrapped = try store.read { reader in
                    try streams.map { Array(try #require(try reader.txn.bytes(forKey: Array($0.utf8), in: keys)).prefix(StoreSealing.wrappedKeySize)) }
                }
                // A reader holds its snapshot through the rotation: its pages stay as they were.
                let reading = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
                let seen = Mutex<[UInt8]>([])
                Thread {
                    _ = try? store.read { reader in
                        reading.signal()
                        release.wait()
                        let value = Array(try reader.txn.bytes(forKey: Array(streams[0].utf8), in: keys)?.prefix(StoreSealing.wrappedKeySize) ?? [])
                        seen.withLock { $0 = value }
                    }
                    done.signal()
                }.start()
                reading.wait()
                try store.rotateMasterKey(to: newKey)
                release.signal()
                done.wait()
                #expect(seen.withLock { $0 } == wrapped[0], "a page changed under a reader's snapshot")
            }
            func remaining() throws -> Int { try wrapped.reduce(0) { $0 + (try SealingTests.occurrences(of: $1, inFileAt: path + "/data.mdb")) } }
            #expect(try remaining() > 0, "the reader's snapshot should have kept the old keys until it ended")
            // The next writer, with the new key, scrubs the recorded places after its commit.
            let store = try EventStore.open(at: path, options: SealingTests.sealedOptions(newKey))
            try await store.append([event("after-the-rotation")], to: "patient-new")
            #expect(try remaining() == 0, "data keys wrapped under the old master key remain in the live file")
            #expect(try store.events(inStream: streams[7]).allSatisfy { $0.payloadState == .opened })
            store.close()
        }
    }

    /// Without a reader, the rotation itself leaves none.
    @Test(.timeLimit(.minutes(2)))
    func aRotationWithoutReadersScrubsAtOnce() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store"
            let store = try EventStore.open(at: path, options: SealingTests.sealedOptions())
            let streams = (0..<40).map { "patient-\($0)" }
            for stream in streams { try await store.append([event("\(stream)-0")], to: stream) }
            let keys = store.layout.sealing!.keys
            let wrapped = try store.read { reader in
                try streams.map { Array(try #require(try reader.txn.bytes(forKey: Array($0.utf8), in: keys)).prefix(StoreSealing.wrappedKeySize)) }
            }
            try store.rotateMasterKey(to: MasterKey.generate())
            let remaining = try wrapped.reduce(0) { $0 + (try SealingTests.occurrences(of: $1, inFileAt: path + "/data.mdb")) }
            #expect(remaining == 0)
        }
    }
}
