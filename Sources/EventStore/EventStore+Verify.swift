import LMDB

/// What ``EventStore/verify()`` found.
public struct VerificationReport: Sendable, Hashable {
    /// The number of records that verified.
    public let eventsVerified: UInt64
    /// The first sequence that does not verify, or `nil` when the whole log does.
    public let firstBadSequence: UInt64?
    /// Why that sequence does not verify.
    public let problem: String?

    public var isIntact: Bool { firstBadSequence == nil && problem == nil }
}

extension EventStore {
    /// Recomputes the hash chain from the first event and checks every record's structure, that
    /// sequences run from 1 without a gap, that the stream and id indexes point back at each
    /// record, and that the head in `meta` is the last record.
    ///
    /// Runs on one snapshot; writers go on meanwhile.
    public func verify() throws -> VerificationReport {
        try read { reader in
            var previous = LogTail.genesisHash
            var expected: UInt64 = 1
            var problem: (UInt64, String)?
            try reader.txn.withCursor(on: layout.events) { cursor in
                var entry = try cursor.first()
                while let current = entry {
                    guard let sequence = Bytes.uint64(bigEndian: current.key) else {
                        problem = (expected, "a key in the events database is not an 8-byte sequence")
                        return
                    }
                    guard sequence == expected else {
                        problem = (expected, "the log jumps from sequence \(expected - 1) to \(sequence)")
                        return
                    }
                    if let reason = try check(sequence: sequence, bytes: current.value, previousHash: previous, reader: reader) {
                        problem = (sequence, reason)
                        return
                    }
                    previous = Array(current.value[40..<72])
                    expected += 1
                    entry = try cursor.next()
                }
            }
            if let (sequence, reason) = problem {
                return VerificationReport(eventsVerified: sequence - 1, firstBadSequence: sequence, problem: reason)
            }
            let verified = expected - 1
            let head = try reader.txn.value(forKey: StoreLayout.MetaKey.headSequence, in: layout.meta).flatMap { Bytes.uint64(bigEndian: $0) } ?? 0
            let chainHead = try reader.txn.bytes(forKey: StoreLayout.MetaKey.chainHead, in: layout.meta) ?? LogTail.genesisHash
            if head != verified || chainHead != previous {
                return VerificationReport(eventsVerified: verified, firstBadSequence: nil,
                                          problem: "the head recorded in meta (sequence \(head)) does not match the last record (sequence \(verified))")
            }
            return VerificationReport(eventsVerified: verified, firstBadSequence: nil, problem: nil)
        }
    }

    /// Why the record does not verify, or `nil` when it does.
    private func check(sequence: UInt64, bytes: UnsafeRawBufferPointer, previousHash: [UInt8], reader: borrowing LogReader) throws -> String? {
        guard let record = EventRecordView(sequence: sequence, bytes: bytes) else {
            return "its header does not match its length or format version"
        }
        let computed = previousHash.withUnsafeBytes { record.computeChainHash(after: $0) }
        guard computed.elementsEqual(record.chainHash) else {
            return "its chain hash does not match its bytes and the previous record"
        }
        let stream = record.streamId
        let indexed = try reader.txn.value(forKey: StoreLayout.streamKey(stream, version: record.streamVersion), in: layout.streams)
            .flatMap { Bytes.uint64(bigEndian: $0) }
        guard indexed == sequence else {
            return "the stream index of \(stream) version \(record.streamVersion) does not point at it"
        }
        guard try reader.sequence(ofEventId: record.id) == sequence else {
            return "the event id index does not point at it"
        }
        return nil
    }
}
