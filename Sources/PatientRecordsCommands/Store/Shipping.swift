import ArgumentParser
import ClinicalRecord
import EventStore
import Foundation
import LogShipping
import Logging

/// `patient-records ship`: the log, copied to PostgreSQL as it grows.
struct Ship: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ship the store's log to PostgreSQL, then follow new commits.",
        discussion: """
            Copies every committed record into PostgreSQL byte for byte (clear header, sealed \
            payload, chain hash), with the store's identity and its wrapped data keys, in \
            batches, each in one PostgreSQL transaction with its checkpoint: stopped or killed \
            at any moment, it resumes where it stopped, with no gap and no duplicate. Payloads \
            stay sealed: the master key never leaves the clinic, and shipping needs none. It \
            then follows new commits (a clinic service may append meanwhile) until stopped; \
            --once ships what is there and stops. PostgreSQL going away is waited out.

            Examples:
              patient-records ship --store ./demo-store --to 'postgres://records@db.example/clinics' --once
              patient-records ship --store /var/lib/clinic/store --to 'postgres://records@/clinics?host=/run/postgresql'
            """
    )

    @OptionGroup var options: StoreOptions
    @Option(name: .customLong("to"), help: ArgumentHelp("The PostgreSQL database (postgres://user@host/database, or ?host=/socket/directory).", valueName: "url"))
    var target: String
    @Flag(help: "Ship what is committed now, then stop.") var once = false
    @Option(help: "Records in one PostgreSQL transaction.") var batch = 2_000
    @Flag(help: "No progress on the terminal.") var quiet = false

    func validate() throws {
        guard (1...20_000).contains(batch) else { throw ValidationError("--batch must be from 1 to 20,000 records.") }
    }

    func run() async throws {
        let target = try PostgresTarget(commandLineURL: self.target)
        // Shipping reads the log and the wrapped keys as they are: no master key, no lock on
        // writers. It works on the log alone (LogShipping is built on EventStore), so it opens that.
        var logOptions = EventStore.Options(readOnly: true)
        logOptions.withoutMasterKey = true
        let log = try EventStore.open(at: try options.path(), options: logOptions)
        defer { log.close() }
        // Retries are told on standard error (PostgreSQL restarting, the network down), one line each.
        var logger = Logger(label: "patient-records.ship", factory: { label in StreamLogHandler.standardError(label: label) })
        logger.logLevel = .warning
        var shipper = LogShipper(store: log, target: target, logger: logger)
        shipper.batchSize = batch
        let progress = TerminalProgress("Shipping", total: nil, quiet: quiet)
        try await shipper.run(once: once) { step in
            progress.update(Int(step.shippedThrough), detail: "through \(step.shippedThrough) of \(step.head), \(step.shipped) this run")
        }
        progress.finish()
        if once { say("Shipped store \(log.storeId) to \(target) through sequence \(try log.head()).") }
    }
}

/// `patient-records restore`: a store rebuilt from its shipped log.
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild a store from its log shipped to PostgreSQL.",
        discussion: """
            Writes the shipped records byte for byte into a new store at DEST (checking the hash \
            chain as they come), with the store's identity and data keys, seals its head with \
            the master key, then rebuilds the indexes and snapshots from the log. The restored \
            store verifies and exports as the source did. DEST must not exist; nothing is left \
            there when the restore fails.

            Example:
              patient-records restore --from 'postgres://records@db.example/clinics' --store-id 3f2a…e91c ./restored-store
            """
    )

    @Option(name: .customLong("from"), help: ArgumentHelp("The PostgreSQL database the log was shipped to.", valueName: "url"))
    var source: String
    @Option(name: .customLong("store-id"), help: "The shipped store to restore (32 hex digits).") var storeId: String
    @Option(name: .customLong("key-file"), help: ArgumentHelp("The store's master key file (default: its own file under ~/.config/patient-records/keys/).", valueName: "file"))
    var keyFile: String?
    @Argument(help: "Where to create the restored store (must not exist).") var destination: String
    @Flag(help: "No progress on the terminal.") var quiet = false

    func run() async throws {
        let target = try PostgresTarget(commandLineURL: source)
        let storeId = self.storeId
        let destination = self.destination
        let keyFile = self.keyFile ?? PatientRecordStore.defaultKeyDirectory + "/" + storeId + ".key"
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw ValidationError("\(destination) exists already; a store is restored into a new directory.")
        }
        let progress = TerminalProgress("Restoring", total: nil, quiet: quiet)
        let (restored, shippedThrough) = try await target.withConnection(logger: quietLogger) { client -> (UInt64, UInt64) in
            guard let shipped = try await ShippedLog.stores(client, id: storeId, logger: quietLogger).first else {
                throw CommandFailure("\(target) holds no shipped store \(storeId).")
            }
            let key = shipped.identity.isSealed ? try MasterKey.read(fromFile: keyFile) : nil
            let restorer = try StoreRestorer(destination: destination, identity: shipped.identity, masterKey: key, indexes: PatientRecordStore.indexNames)
            restorer.expectedSeal = shipped.sealedHead
            // A sealed store is restored through its sealed head: what was shipped after it
            // carries no keyed evidence yet (anyone could have appended it with a valid chain).
            let through = shipped.identity.isSealed ? (shipped.sealedHead?.sequence ?? shipped.shippedThrough) : shipped.shippedThrough
            try restorer.putStreamKeys(try await ShippedLog.streamKeys(client, storeId: storeId, logger: quietLogger))
            while restorer.restored < through {
                let page = try await ShippedLog.records(client, storeId: storeId, after: restorer.restored, limit: 5_000, logger: quietLogger)
                    .filter { $0.sequence <= through }
                guard !page.isEmpty else {
                    if through > shipped.shippedThrough { break } // refused by seal(): the rows before the sealed head were deleted
                    throw CommandFailure("The shipped log of store \(storeId) ends at sequence \(restorer.restored), before its checkpoint \(shipped.shippedThrough); nothing was restored.")
                }
                try restorer.append(page)
                progress.update(Int(restorer.restored), detail: "of \(through)")
            }
            try restorer.seal()
            // What is derived from the log is rebuilt in the work directory; only a whole store
            // is moved to the destination, and any failure before leaves neither (the restorer
            // removes its work directory when dropped).
            do {
                let store = try PatientRecordStore.open(at: restorer.workDirectory, keyFile: keyFile)
                defer { store.close() }
                try store.rebuildFromLog()
            }
            try restorer.moveIntoPlace()
            return (restorer.restored, shipped.shippedThrough)
        }
        progress.finish()
        say("Restored store \(storeId) into \(destination): \(restored) events; the indexes and snapshots were rebuilt from the log.")
        if shippedThrough > restored {
            say("The \(shippedThrough - restored) records shipped after sequence \(restored) carry no head seal yet and were left out; run the shipper at the clinic again to seal them, then restore.")
        }
    }
}

/// The library logs nothing unless asked; the tools keep PostgreSQL's client quiet too.
let quietLogger: Logger = {
    var logger = Logger(label: "patient-records")
    logger.logLevel = .critical
    return logger
}()

extension PostgresTarget {
    /// A URL from the command line: a URL naming no user means `PGUSER`, as for libpq's tools.
    init(commandLineURL url: String) throws {
        let user = ProcessInfo.processInfo.environment["PGUSER"].flatMap { $0.isEmpty ? nil : $0 } ?? "postgres"
        try self.init(url: url, defaultUser: user)
    }
}
