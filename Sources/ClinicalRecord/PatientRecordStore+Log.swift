import EventStore

/// The log's identity and reads, so that nothing built on the record store needs the
/// `EventStore` underneath.
extension PatientRecordStore {
    /// The store's id (32 hex digits), fixed when it was created: the name of its key file and
    /// of its shipped copy.
    public var storeId: String { events.storeId }
    /// The store format version written in the data file.
    public var formatVersion: UInt32 { events.formatVersion }
    /// Whether payloads are sealed under a master key.
    public var isSealed: Bool { events.isSealed }
    /// Whether ``close()`` was called: every later use throws `EventStoreError` with code `closed`.
    public var isClosed: Bool { events.isClosed }
    /// The directory the store lives in.
    public var path: String { events.path }

    /// How many events the patient has (0 for a patient never recorded).
    public func eventCount(ofPatient patientId: String) throws -> UInt64 {
        try events.streamVersion(patientId)
    }

    /// Runs `body` over one consistent snapshot of the log (a read transaction): what a replay,
    /// a compliance run or a statistic reads together. Writers go on meanwhile.
    public func read<R>(_ body: (borrowing LogReader) throws -> R) throws -> R {
        try events.read(body)
    }

    /// Events as they are committed: the history from `sequence` first, then each new commit
    /// (woken by the commit, not polling), each copied with its payload opened. A service that
    /// shows them to someone records the read first, as for any read. See `EventSubscription`
    /// in EventStore.
    public func subscribe(from sequence: UInt64 = 1) -> EventSubscription {
        events.subscribe(from: sequence)
    }
}

extension PatientRecordStore {
    /// Copies the store, while it is in use, into the new directory `destination`; the copy is
    /// verified before it is given its name. The master key is not copied (see
    /// `EventStore.backup(to:progress:)`).
    @discardableResult
    public func backup(to destination: String, progress: (@Sendable (_ copied: Int, _ total: Int) -> Void)? = nil) throws -> VerificationReport {
        try events.backup(to: destination, progress: progress)
    }
}
