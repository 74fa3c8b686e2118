import EventStore
import Foundation
import Logging
import PostgresNIO

/// The shipped logs in PostgreSQL: the tables, and reading them back.
///
/// - `prs_stores`: one row a store: its identity (id, format, sealing, master key check) and the
///   checkpoint of its shipping (the last sequence shipped and that record's chain hash).
/// - `prs_records`: every record as the store keeps it (clear header, sealed payload, chain
///   hash), keyed by (store id, sequence), with its type and stream beside it for queries.
/// - `prs_stream_keys`: the stores' wrapped data keys (and the tombstones of destroyed ones), as
///   `stream-keys` keeps them: encrypted under the store's master key, which never leaves it.
public enum ShippedLog {
    static let schema = [
        """
        CREATE TABLE IF NOT EXISTS prs_stores (
            store_id text PRIMARY KEY,
            format_version integer NOT NULL,
            sealed boolean NOT NULL,
            key_check bytea,
            shipped_through bigint NOT NULL DEFAULT 0,
            chain_hash bytea NOT NULL,
            shipped_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS prs_records (
            store_id text NOT NULL REFERENCES prs_stores (store_id),
            sequence bigint NOT NULL,
            type integer NOT NULL,
            stream bytea NOT NULL,
            record bytea NOT NULL,
            PRIMARY KEY (store_id, sequence)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS prs_stream_keys (
            store_id text NOT NULL REFERENCES prs_stores (store_id),
            stream bytea NOT NULL,
            stored_key bytea NOT NULL,
            PRIMARY KEY (store_id, stream)
        )
        """,
        // No statistics on the columns that hold wrapped keys and sealed records: ANALYZE would
        // copy sample values into pg_statistic, where an erasure (VACUUM FULL of the table)
        // does not reach them.
        // The keyed evidence of a checkpoint: the head seal (an HMAC under a key derived from
        // the store's master key) of the local head the shipper last reached, and its sequence.
        "ALTER TABLE prs_stores ADD COLUMN IF NOT EXISTS sealed_through bigint",
        "ALTER TABLE prs_stores ADD COLUMN IF NOT EXISTS sealed_hash bytea",
        "ALTER TABLE prs_stores ADD COLUMN IF NOT EXISTS head_seal bytea",
        "ALTER TABLE prs_stream_keys ALTER COLUMN stored_key SET STATISTICS 0",
        "ALTER TABLE prs_records ALTER COLUMN record SET STATISTICS 0",
        "ALTER TABLE prs_records ALTER COLUMN stream SET STATISTICS 0",
        "ALTER TABLE prs_stream_keys ALTER COLUMN stream SET STATISTICS 0",
    ]

    /// Creates the tables when missing; safe to run from several shippers at once (they take
    /// turns on an advisory lock).
    public static func prepare(_ client: PostgresConnection, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(7158395)", logger: logger)
            for statement in schema { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
        }
    }

    /// A shipped store: its identity and how far it was shipped.
    public struct Store: Sendable {
        public let identity: StoreIdentity
        public let shippedThrough: UInt64
        public let chainHash: [UInt8]
        /// The sealed head the shipper last reached (`nil`: shipped by an older shipper, or not sealed).
        public let sealedHead: SealedHead?
    }

    /// Every shipped store, or the one with `id`.
    public static func stores(_ client: PostgresConnection, id: String? = nil, logger: Logger) async throws -> [Store] {
        let rows = try await client.query(
            "SELECT store_id, format_version, sealed, key_check, shipped_through, chain_hash, sealed_through, sealed_hash, head_seal FROM prs_stores WHERE \(id == nil) OR store_id = \(id ?? "") ORDER BY store_id",
            logger: logger)
        var out: [Store] = []
        for try await (storeId, format, sealed, keyCheck, shipped, hash, sealedThrough, sealedHash, seal) in rows.decode((String, Int32, Bool, Data?, Int64, Data, Int64?, Data?, Data?).self) {
            var head: SealedHead?
            if let sealedThrough, let sealedHash, let seal, sealedThrough > 0 {
                head = SealedHead(sequence: UInt64(sealedThrough), chainHash: Array(sealedHash), seal: Array(seal))
            }
            out.append(Store(identity: StoreIdentity(storeId: storeId, formatVersion: UInt32(format), isSealed: sealed, keyCheck: keyCheck.map { Array($0) }),
                             shippedThrough: UInt64(shipped), chainHash: Array(hash), sealedHead: head))
        }
        return out
    }

    /// The stored `stream-keys` values of a shipped store.
    public static func streamKeys(_ client: PostgresConnection, storeId: String, logger: Logger) async throws -> [(stream: [UInt8], value: [UInt8])] {
        let rows = try await client.query("SELECT stream, stored_key FROM prs_stream_keys WHERE store_id = \(storeId) ORDER BY stream", logger: logger)
        var out: [(stream: [UInt8], value: [UInt8])] = []
        for try await (stream, value) in rows.decode((Data, Data).self) { out.append((Array(stream), Array(value))) }
        return out
    }

    /// Records of a shipped store with sequences after `sequence`, in order, at most `limit`;
    /// only those of `types` when given.
    public static func records(_ client: PostgresConnection, storeId: String, after sequence: UInt64, limit: Int, types: [UInt16]? = nil,
                               logger: Logger) async throws -> [(sequence: UInt64, bytes: [UInt8])] {
        let rows: PostgresRowSequence
        if let types {
            rows = try await client.query(
                "SELECT sequence, record FROM prs_records WHERE store_id = \(storeId) AND sequence > \(Int64(sequence)) AND type = ANY(\(types.map { Int32($0) })) ORDER BY sequence LIMIT \(limit)",
                logger: logger)
        } else {
            rows = try await client.query(
                "SELECT sequence, record FROM prs_records WHERE store_id = \(storeId) AND sequence > \(Int64(sequence)) ORDER BY sequence LIMIT \(limit)",
                logger: logger)
        }
        var out: [(sequence: UInt64, bytes: [UInt8])] = []
        for try await (position, record) in rows.decode((Int64, Data).self) { out.append((UInt64(position), Array(record))) }
        return out
    }

    /// The records at `sequences` of a shipped store (those that exist), by sequence.
    public static func records(_ client: PostgresConnection, storeId: String, at sequences: [UInt64], logger: Logger) async throws -> [UInt64: [UInt8]] {
        guard !sequences.isEmpty else { return [:] }
        let rows = try await client.query(
            "SELECT sequence, record FROM prs_records WHERE store_id = \(storeId) AND sequence = ANY(\(sequences.map { Int64($0) }))", logger: logger)
        var out: [UInt64: [UInt8]] = [:]
        for try await (position, record) in rows.decode((Int64, Data).self) { out[UInt64(position)] = Array(record) }
        return out
    }
}
