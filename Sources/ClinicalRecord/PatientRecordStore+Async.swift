import EventStore

/// The long operations for async callers: each runs on a thread of its own (not a thread of the
/// cooperative pool), reports progress through its callback, and answers the calling task's
/// cancellation by throwing `CancellationError` (looked at every 1,024 lines or inputs of an
/// import, every 16,384 records of a replay or refresh). A cancelled import
/// or refresh writes nothing: its transaction is rolled back.
///
/// ```swift
/// let importing = Task {
///     try await records.importEvents(fromFile: path) { read, total, imported in
///         print("\(imported) events, \(read) of \(total ?? 0) bytes")
///     }
/// }
/// importing.cancel()   // the import stops; nothing of it was stored
/// ```
extension PatientRecordStore {
    /// ``importEvents(fromFile:progress:)-8uptd`` for async callers: cancellable, all or nothing.
    @discardableResult
    public func importEvents(fromFile path: String, progress: ImportProgress? = nil) async throws -> ImportSummary {
        try await importEvents(from: .file(path), progress: progress)
    }

    /// ``importEvents(from:progress:)-9jo`` for async callers: cancellable, all or nothing.
    @discardableResult
    public func importEvents(from source: ImportSource, progress: ImportProgress? = nil) async throws -> ImportSummary {
        try await LongWork.run("patient-records.import") { try self.importEvents(from: source, progress: progress) }
    }

    /// Records `inputs` in one transaction, all or none, for async callers: on a thread of its
    /// own, cancellable (nothing is written when cancelled). See the synchronous form.
    @discardableResult
    public func importEvents(_ inputs: some Sequence<ClinicalEventInput> & Sendable, progress: ImportProgress? = nil) async throws -> ImportSummary {
        try await LongWork.run("patient-records.import") { try self.importEvents(inputs, progress: progress) }
    }

    /// ``refreshSnapshots(progress:)-1qvjq`` for async callers: cancellable; a cancelled refresh leaves
    /// the snapshots as they were.
    @discardableResult
    public func refreshSnapshots(progress: ReplayProgress? = nil) async throws -> SnapshotRefresh {
        try await LongWork.run("patient-records.refresh") { try self.refreshSnapshots(progress: progress) }
    }

    /// ``backup(to:progress:)-9ihmd`` for async callers. The copy is made by LMDB in one call and is
    /// not interrupted; cancelling before it starts stops it.
    @discardableResult
    public func backup(to destination: String, progress: (@Sendable (_ copied: Int, _ total: Int) -> Void)? = nil) async throws -> VerificationReport {
        try await LongWork.run("patient-records.backup") { try self.backup(to: destination, progress: progress) }
    }
}

extension ClinicalReplay {
    /// ``run(_:asOf:checkingChain:progress:)-3oyx4`` for async callers: cancellable; the partitions'
    /// threads are stopped and joined before `CancellationError` is thrown.
    public func run(_ store: PatientRecordStore, asOf: AsOf? = nil, checkingChain chain: Bool = false, progress: ReplayProgress? = nil) async throws -> ReplayResult {
        try await LongWork.run("patient-records.replay") { try self.run(store, asOf: asOf, checkingChain: chain, progress: progress) }
    }
}
