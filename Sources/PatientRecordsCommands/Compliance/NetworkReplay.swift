@_spi(RawRecords) import ClinicalRecord
import Compliance
@_spi(RawRecords) import EventStore
import Foundation
import LogShipping
import Logging
import PostgresNIO

/// The compliance of a network of clinics: every store shipped to one PostgreSQL database,
/// replayed from its shipped records (each store opened with its own master key) and judged in
/// one report whose findings name their store. The chain is checked as the records come: a row
/// changed in PostgreSQL is an `integrity` finding at its sequence, and nothing of that store
/// from there on is judged, as in a local store.
struct NetworkReplay {
    let target: PostgresTarget
    let storeIds: [String]
    let keyDirectory: String
    let policy: Policy

    static let page = 5_000

    func run() async throws -> ComplianceReport {
        let policy = self.policy, storeIds = self.storeIds, keyDirectory = self.keyDirectory
        let reports = try await target.withConnection(logger: quietLogger) { client -> [(store: String, report: ComplianceReport)] in
            var shipped = try await ShippedLog.stores(client, logger: quietLogger)
            if !storeIds.isEmpty {
                let missing = Set(storeIds).subtracting(shipped.map(\.identity.storeId))
                guard missing.isEmpty else { throw CommandFailure("No log was shipped for store \(missing.sorted().joined(separator: ", ")).") }
                shipped = shipped.filter { storeIds.contains($0.identity.storeId) }
            }
            guard !shipped.isEmpty else { throw CommandFailure("No store has shipped its log to this database.") }
            var reports: [(store: String, report: ComplianceReport)] = []
            for store in shipped {
                // A store that cannot be judged (an id that is no id, no key file, a rewritten
                // log) is that store's integrity finding; the other stores are judged all the same.
                let report: ComplianceReport
                do {
                    report = try await Self.judge(store, client: client, keyDirectory: keyDirectory, policy: policy)
                } catch let error as PostgresError {
                    throw error
                } catch {
                    report = Self.unjudged(because: "\(error)")
                }
                reports.append((store.identity.storeId, report))
            }
            return reports
        }
        return ComplianceReport.merging(reports)
    }

    /// The report of a store that could not be judged: one integrity finding saying why.
    static func unjudged(because reason: String) -> ComplianceReport {
        let message = "This store's shipped log could not be judged: " + String(reason.reversed().drop(while: { $0 == "." }).reversed()) + "."
        let finding = Finding(rule: .integrity, patient: "", session: nil, eventId: "", sequence: 0, message: message)
        return ComplianceReport(asOf: "", eventsReplayed: 0, patients: 0, findings: [finding], summary: [Rule.integrity.rawValue: 1])
    }

    /// Whether `id` may name a file: 32 hexadecimal digits, as every store id is. A row of
    /// PostgreSQL is not trusted to hold one (`../../x` would name a key file elsewhere).
    static func isStoreId(_ id: String) -> Bool {
        id.utf8.count == 32 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || (0x41...0x46).contains($0) }
    }

    /// One shipped store, judged.
    static func judge(_ store: ShippedLog.Store, client: PostgresConnection, keyDirectory: String, policy: Policy) async throws -> ComplianceReport {
        let id = store.identity.storeId
        guard isStoreId(id) else {
            throw CommandFailure("its store id \(id.debugDescription) is not 32 hexadecimal digits, so it names no key file")
        }
        var opener: RecordOpener?
        if store.identity.isSealed {
            let keyFile = keyDirectory + "/" + id + ".key"
            let key = try MasterKey.read(fromFile: keyFile)
            guard let made = RecordOpener(identity: store.identity, masterKey: key,
                                          storedKeys: try await ShippedLog.streamKeys(client, storeId: id, logger: quietLogger)) else {
                throw CommandFailure("The key file \(keyFile) does not hold the master key of store \(id).")
            }
            opener = made
            // The checkpoint's keyed evidence: a seal the master key made for a shipped head.
            guard let sealed = store.sealedHead else {
                throw CommandFailure("its shipped log carries no head seal, so a rewrite by someone without the master key could not be told apart (ship it again with this release)")
            }
            guard store.identity.isHeadSeal(sealed.seal, sequence: sealed.sequence, chainHash: sealed.chainHash, masterKey: key) else {
                throw CommandFailure("the head seal shipped with its checkpoint (sequence \(sealed.sequence)) is not made by its master key: the checkpoint was forged or changed")
            }
        }
        let sealedHead = store.identity.isSealed ? store.sealedHead : nil
        var sealReached = false
        // The voids first: a voided entry counts as never recorded, wherever its void comes.
        var voided = Set<[UInt8]>()
        var after: UInt64 = 0
        while true {
            let page = try await ShippedLog.records(client, storeId: id, after: after, limit: page,
                                                    types: [ClinicalEventType.entryVoided.rawValue], logger: quietLogger)
            guard let last = page.last else { break }
            for (sequence, bytes) in page {
                bytes.withUnsafeBytes { raw in
                    guard let view = EventRecordView(sequence: sequence, bytes: raw) else { return }
                    let record = opener?.open(view) ?? view
                    if let voidedId = ClinicalReplay.voidedEventId(in: record) { voided.insert(voidedId) }
                }
            }
            after = last.sequence
        }
        // Judged at the recorded time of the last record shipped.
        let judgedAt = try await ShippedLog.records(client, storeId: id, at: [store.shippedThrough], logger: quietLogger)[store.shippedThrough]
            .flatMap { bytes in bytes.withUnsafeBytes { EventRecordView(sequence: store.shippedThrough, bytes: $0)?.recordedAt } } ?? ClinicalTime.now
        let projection = ComplianceReplay.projection(policy: policy, judgedAt: judgedAt)
        var replay = ClinicalReplay()
        let handle = replay.add(projection)
        var feed = replay.feed(voided: voided)
        var chain = ChainCheck()
        var integrity: ChainProblem?
        after = 0
        reading: while true {
            let page = try await ShippedLog.records(client, storeId: id, after: after, limit: page, logger: quietLogger)
            guard let last = page.last else { break }
            for (sequence, bytes) in page {
                let problem = try bytes.withUnsafeBytes { raw -> String? in
                    if let reason = chain.check(sequence: sequence, bytes: raw) { return reason }
                    if let sealedHead, sealedHead.sequence == sequence {
                        guard chain.lastHash == sealedHead.chainHash else {
                            throw CommandFailure("its shipped log does not carry the sealed chain hash at sequence \(sequence): it was rewritten by someone without the master key")
                        }
                        sealReached = true
                    }
                    guard let view = EventRecordView(sequence: sequence, bytes: raw) else { return "its header does not match its length" }
                    try feed.apply(opener?.open(view) ?? view)
                    return nil
                }
                if let problem {
                    integrity = ChainProblem(sequence: min(sequence, chain.expected), reason: problem)
                    break reading
                }
            }
            after = last.sequence
        }
        if integrity == nil, chain.expected <= store.shippedThrough {
            integrity = ChainProblem(sequence: chain.expected, reason: "the record is missing")
        }
        if let sealedHead, !sealReached, integrity == nil {
            throw CommandFailure("its shipped log ends at sequence \(chain.expected - 1), before its sealed head at sequence \(sealedHead.sequence): rows were deleted and the checkpoint moved back")
        }
        var report = try ComplianceReplay.report(feed.finish(integrity: integrity), of: handle, projection: projection, judgedAt: judgedAt) { _ in "" }
        // The findings' event ids, from their records.
        let sequences = Array(Set(report.findings.filter { $0.eventId.isEmpty && !$0.patient.isEmpty }.map(\.sequence)))
        let records = try await ShippedLog.records(client, storeId: id, at: sequences, logger: quietLogger)
        for index in report.findings.indices where report.findings[index].eventId.isEmpty {
            if let bytes = records[report.findings[index].sequence] {
                report.findings[index].eventId = bytes.withUnsafeBytes { EventRecordView(sequence: report.findings[index].sequence, bytes: $0)?.id } ?? ""
            }
        }
        return report
    }
}
