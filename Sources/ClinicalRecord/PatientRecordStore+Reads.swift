@_spi(RawRecords) import EventStore
import Foundation

/// A read of patients' records that must itself be on the record (HIPAA access logging): who
/// read, in what role, why, for whom when it is a disclosure, and what was read.
public struct RecordRead: Sendable, Hashable {
    public var actorId: String
    public var actorRole: ActorRole
    public var purpose: Ketamine_V1_AccessPurpose
    /// The recipient, when the purpose is a disclosure.
    public var disclosedTo: String?
    /// What was read or sent, as the reader would describe it ("Whole store exported").
    public var description: String
    /// The system that read it (a CloudEvents source URI).
    public var source: String

    public init(actorId: String, actorRole: ActorRole, purpose: Ketamine_V1_AccessPurpose, disclosedTo: String? = nil,
                description: String, source: String) {
        self.actorId = actorId
        self.actorRole = actorRole
        self.purpose = purpose
        self.disclosedTo = disclosedTo
        self.description = description
        self.source = source
    }

    func input(for patient: String, at time: Int64) -> ClinicalEventInput {
        var access = Ketamine_V1_RecordAccessed()
        access.purpose = purpose
        if let disclosedTo { access.disclosedTo = disclosedTo }
        access.description_p = description
        return ClinicalEventInput(source: source, patientId: patient, time: time, actorId: actorId, actorRole: actorRole, message: access)
    }
}

extension PatientRecordStore {
    /// Records that the records of `patients` are read, before they are shown: one
    /// `RecordAccessed` on each patient's stream, all in one durable transaction, so that each
    /// read is in that patient's audit trail and, for a disclosure, in their accounting of
    /// disclosures. Forgotten patients are left out (nothing of theirs can be read).
    ///
    /// - Parameters:
    ///   - read: who read, in what role, for what purpose (and to whom it was disclosed).
    ///   - patients: the patients read; `nil` for every patient with a record (a read of the
    ///     whole store: an export, an audit of everyone).
    ///   - time: when the read happened.
    /// - Returns: the number of reads recorded.
    @discardableResult
    public func recordRead(_ read: RecordRead, of patients: [String]? = nil, at time: Int64 = ClinicalTime.now) throws -> Int {
        // Every stream with events is a patient's (their registration comes first).
        let targets: [String] = try patients ?? events.read { reader in
            var all: [String] = []
            try reader.forEachStream { stream, version in
                if version > 0 { all.append(stream) }
                return true
            }
            return all
        }
        return try events.withExclusiveTransaction { appender in
            var recorded = 0
            for (index, patient) in targets.enumerated() {
                // Each read's checks and writes land on pages all over the file's indexes.
                if index % 64 == 63 { events.releaseReadPages() }
                guard try !References.exists(.forgotten, "", patient: patient, in: appender) else { continue }
                if case .append(let part) = try prepare(read.input(for: patient, at: time), against: appender) {
                    try appender.append(part)
                    recorded += 1
                }
            }
            return recorded
        }
    }

    /// The patients whose entries the audit trail would show for `query`, found from the
    /// records' headers alone (patient, actor, type and recorded time are all in the header).
    public func patientsInAuditTrail(_ query: AuditQuery) throws -> [String] {
        if let patient = query.patientId { return try events.streamVersion(patient) > 0 ? [patient] : [] }
        var seen = BytesTable<Bool>()
        var patients: [String] = []
        let types = query.types.map { names in Set(names.compactMap { ClinicalEventType(name: $0)?.rawValue }) }
        try events.read { reader in
            try reader.forEachStoredRecord { record in
                if let since = query.since, record.recordedAt < since { return true }
                if let until = query.until, record.recordedAt > until { return false }
                if let types, !types.contains(record.type) { return true }
                if let actor = query.actorId, !record.actorBytes.elementsEqual(actor.utf8) { return true }
                if !seen.contains(record.streamIdBytes) {
                    seen.set(record.streamIdBytes, true)
                    patients.append(record.streamId)
                }
                return true
            }
        }
        return patients
    }
}

extension PatientRecordStore {
    /// Rotates the store's master key: a new key is written to `newKeyFile` (which must not
    /// exist; 0600, synced with its directory), then every data key is re-wrapped under it in
    /// one durable transaction. A crash before that commit leaves the store opening with the old
    /// key only, after it with the new one only; never neither. This store is closed afterwards:
    /// open it again with the new key file. Keep the old key file as long as backups made before
    /// the rotation exist (they open with it alone), and never beside them.
    public func rotateMasterKey(newKeyFile: String) throws {
        let key = MasterKey.generate()
        try key.write(toFile: newKeyFile)
        try events.rotateMasterKey(to: key)
    }

    /// Whether the key in `keyFile` opens the store at `path`.
    public static func keyFileOpensStore(_ keyFile: String, at path: String) throws -> Bool {
        try EventStore.masterKeyOpens(try MasterKey.read(fromFile: keyFile), storeAt: path)
    }
}
