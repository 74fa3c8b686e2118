import LMDB

/// What ``EventStore/verify(expecting:)`` found.
public struct VerificationReport: Sendable, Hashable {
    /// The number of records that verified.
    public let eventsVerified: UInt64
    /// The first sequence that does not verify, or `nil` when the whole log does.
    public let firstBadSequence: UInt64?
    /// Why that sequence (or the log) does not verify.
    public let problem: String?
    /// The last record verified and its chain hash: publish it (a printed report, a copy
    /// elsewhere) and ``EventStore/verify(expecting:)`` proves later that nothing up to it was
    /// rewritten.
    public let head: ChainHead?
    /// Whether the head's seal was checked with the master key (a sealed store opened with its key).
    public let headSealChecked: Bool
    /// Pages of the data file in use by its databases and in LMDB's free list, each owned once
    /// (the file's structure was checked page by page); `nil` when that check could not run.
    public var livePages: UInt64?
    public var freePages: UInt64?
    /// Whether the log was checked against the mark of the highest head this store committed,
    /// kept beside its key file (see `EventStore.Options.headAnchorFile`).
    public var headMarkChecked = false

    public var isIntact: Bool { firstBadSequence == nil && problem == nil }
}

/// A sequence and the chain hash of the record there, written `HEX@SEQUENCE`.
public struct ChainHead: Sendable, Hashable, CustomStringConvertible {
    public let sequence: UInt64
    /// SHA-256, 32 bytes.
    public let hash: [UInt8]

    public init(sequence: UInt64, hash: [UInt8]) {
        self.sequence = sequence
        self.hash = hash
    }

    /// Parses `HEX@SEQUENCE` (64 hexadecimal digits, then a sequence number).
    public init?(_ text: String) {
        let parts = text.split(separator: "@")
        guard parts.count == 2, let sequence = UInt64(parts[1]), sequence > 0, parts[0].utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var digits = parts[0].makeIterator()
        while let high = digits.next(), let low = digits.next() {
            guard let value = UInt8(String([high, low]), radix: 16) else { return nil }
            bytes.append(value)
        }
        self.init(sequence: sequence, hash: bytes)
    }

    public var description: String { Bytes.hex(hash) + "@" + String(sequence) }
}

/// Recomputes the hash chain record by record: what ``EventStore/verify(expecting:)`` and a replay
/// that checks the chain as it goes (in the same pass) share.
public struct ChainCheck: Sendable {
    private var previous = LogTail.genesisHash
    /// The sequence the next record must have.
    public private(set) var expected: UInt64 = 1

    public init() {}

    /// A check that starts after the record at `sequence`, whose chain hash is `hash` (trusted).
    public init(after sequence: UInt64, hash: [UInt8]) {
        previous = hash
        expected = sequence + 1
    }

    /// The chain hash of the last record checked.
    public var lastHash: [UInt8] { previous }

    /// Why the record does not follow the chain, or `nil` when it does (and is then the last checked).
    package mutating func check(sequence: UInt64, bytes: UnsafeRawBufferPointer) -> String? {
        guard sequence == expected else {
            return sequence > expected ? "the log jumps from sequence \(expected - 1) to \(sequence)" : "sequence \(sequence) comes after \(expected - 1)"
        }
        guard let record = EventRecordView(sequence: sequence, bytes: bytes) else {
            return "its header does not match its length or format version"
        }
        let computed = previous.withUnsafeBytes { record.computeChainHash(after: $0) }
        guard computed.elementsEqual(record.chainHash) else {
            return "its chain hash does not match its bytes and the previous record"
        }
        previous = Array(record.chainHash)
        expected += 1
        return nil
    }
}

extension EventStore {
    /// Recomputes the hash chain from the first event and checks every record's structure, that
    /// sequences run from 1 without a gap, that the stream and id indexes point back at each
    /// record and hold nothing else, and that the head in `meta` is the last record. In a sealed
    /// store opened with its key, it also checks the head's seal, which no one without the master
    /// key can make for a rewritten log.
    ///
    /// Runs on one snapshot; writers go on meanwhile.
    ///
    /// - Parameter anchor: a head published earlier: the record at its sequence must still carry
    ///   its chain hash, which proves that nothing up to it was rewritten, with or without a key.
    public func verify(expecting anchor: ChainHead? = nil) throws -> VerificationReport {
        // The highest head this store committed, kept beside its key: the log must reach it and
        // carry its hash there, or the file was rolled back.
        let mark = layout.sealing != nil ? headAnchor?.read() : nil
        return try read { reader in
            var chain = ChainCheck()
            var problem: (UInt64, String)?
            var anchorSeen = false, markSeen = false
            do {
                try reader.txn.withCursor(on: layout.events) { cursor in
                    var entry = try cursor.first()
                    while let current = entry {
                        guard let sequence = Bytes.uint64(bigEndian: current.key) else {
                            problem = (chain.expected, "a key in the events database is not an 8-byte sequence")
                            return
                        }
                        var reason = chain.check(sequence: sequence, bytes: current.value)
                        if reason == nil { reason = try checkIndexes(sequence: sequence, bytes: current.value, reader: reader) }
                        if let reason {
                            problem = (min(sequence, chain.expected), reason)
                            return
                        }
                        if let mark, mark.sequence == sequence {
                            markSeen = true
                            guard chain.lastHash == mark.hash else {
                                problem = (sequence, "it does not carry the chain hash this store committed for it (kept in \(headAnchor?.path ?? "")): the log was rewritten up to there")
                                return
                            }
                        }
                        if let anchor, anchor.sequence == sequence {
                            anchorSeen = true
                            guard chain.lastHash == anchor.hash else {
                                problem = (sequence, "it does not carry the chain hash published for it (\(anchor)): the log was rewritten up to there")
                                return
                            }
                        }
                        entry = try cursor.next()
                    }
                }
            } catch let error as LMDBError {
                // A damaged page: LMDB or the map bounds refuse it; the records before it verified.
                problem = (chain.expected, "a page of the store is damaged at or after this record (\(error))")
            }
            let verified = chain.expected - 1
            let head = verified > 0 ? ChainHead(sequence: verified, hash: chain.lastHash) : nil
            var structure: StructureReport?
            func report(_ bad: UInt64?, _ reason: String?, sealChecked: Bool = false) -> VerificationReport {
                var made = VerificationReport(eventsVerified: bad.map { $0 - 1 } ?? verified, firstBadSequence: bad, problem: reason,
                                              head: bad == nil ? head : nil, headSealChecked: sealChecked)
                made.livePages = structure?.livePages
                made.freePages = structure?.freePages
                made.headMarkChecked = reason == nil && bad == nil && mark != nil
                return made
            }
            // The file's structure, page by page: every page below the last one owned once, the
            // free list sound (a damaged free list verifies record by record until a write reuses
            // a live page from it).
            do {
                structure = try reader.txn.auditStructure()
            } catch {
                return report(nil, "the data file could not be read to check its structure (\(error))")
            }
            if let damage = structure?.problem {
                structure = nil
                return report(problem?.0, "the data file's structure is damaged: " + String(damage.reversed().drop(while: { $0 == "." }).reversed()))
            }
            if let (sequence, reason) = problem { return report(sequence, reason) }
            if let anchor, !anchorSeen {
                return report(nil, "the log ends at sequence \(verified), before the published head \(anchor)")
            }
            if let mark, !markSeen {
                return report(nil, "the log ends at sequence \(verified), below the highest head this store committed (sequence \(mark.sequence), kept in \(headAnchor?.path ?? "")): the data file was rolled back to an older state (a tail dropped, or an older copy put in its place); if a backup was restored on purpose, remove that file")
            }
            // Every index entry belongs to a record: equal counts, each record's entries found.
            for (database, name) in [(layout.streams, "stream index"), (layout.eventIds, "event id index")] {
                let entries = try reader.txn.count(of: database)
                if entries != Int(verified) {
                    return report(nil, "the \(name) holds \(entries) entries for \(verified) events")
                }
            }
            let storedHead = try reader.txn.value(forKey: StoreLayout.MetaKey.headSequence, in: layout.meta).flatMap { Bytes.uint64(bigEndian: $0) } ?? 0
            let chainHead = try reader.txn.bytes(forKey: StoreLayout.MetaKey.chainHead, in: layout.meta) ?? LogTail.genesisHash
            if storedHead != verified || chainHead != chain.lastHash {
                return report(nil, "the head recorded in meta (sequence \(storedHead)) does not match the last record (sequence \(verified))")
            }
            guard let sealing = layout.sealing, layout.formatVersion >= 2, verified > 0 else { return report(nil, nil) }
            let seal = try reader.txn.bytes(forKey: StoreLayout.MetaKey.headSeal, in: layout.meta)
            guard seal == sealing.headSeal(sequence: verified, chainHash: chain.lastHash) else {
                return report(nil, "the seal of the head (sequence \(verified)) does not match: the log was rewritten by someone without the master key")
            }
            return report(nil, nil, sealChecked: true)
        }
    }

    /// Why the record's index entries do not point back at it, or `nil` when they do.
    private func checkIndexes(sequence: UInt64, bytes: UnsafeRawBufferPointer, reader: borrowing LogReader) throws -> String? {
        guard let record = EventRecordView(sequence: sequence, bytes: bytes) else { return nil }
        let indexed = try reader.txn.value(forKey: StoreLayout.streamKey(record.streamIdBytes, version: record.streamVersion), in: layout.streams)
            .flatMap { Bytes.uint64(bigEndian: $0) }
        guard indexed == sequence else {
            return "the stream index of \(record.streamId) version \(record.streamVersion) does not point at it"
        }
        guard try reader.txn.value(forKey: record.idBytes, in: layout.eventIds).flatMap({ Bytes.uint64(bigEndian: $0) }) == sequence else {
            return "the event id index does not point at it"
        }
        return nil
    }
}
