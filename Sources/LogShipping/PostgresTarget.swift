import Foundation
import Logging
import PostgresNIO

/// Where a clinic's log is shipped: a PostgreSQL database, named by a URL as libpq names it.
///
/// - `postgres://user:password@host:5432/database` (TCP; TLS when the server asks for it is not
///   negotiated here: use a unix socket or a network you trust, see docs/DEPLOYMENT.md);
/// - `postgres://user@/database?host=/var/run/postgresql` (a unix socket: `host` is the socket's
///   directory, the socket `.s.PGSQL.<port>` inside it).
public struct PostgresTarget: Sendable, CustomStringConvertible {
    public let configuration: PostgresConnection.Configuration
    /// The URL without its password, for messages and logs.
    public let description: String

    public struct InvalidURL: Error, CustomStringConvertible {
        public let description: String
    }

    /// - Parameter defaultUser: the user when the URL names none (libpq's tools take `PGUSER`;
    ///   a command line passes it here, the library reads no environment).
    public init(url text: String, defaultUser: String = "postgres") throws {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw InvalidURL(description: "\(Self.redacted(text)) is not a PostgreSQL URL (postgres://user@host/database, or postgres://user@/database?host=/socket/directory)")
        }
        let user = components.user.flatMap { $0.removingPercentEncoding } ?? defaultUser
        let password = components.password?.removingPercentEncoding
        var database = String(components.path.drop { $0 == "/" })
        if database.isEmpty { database = user }
        let port = components.port ?? 5432
        let socketDirectory = components.queryItems?.first { $0.name == "host" }?.value ?? (components.host?.hasPrefix("/") == true ? components.host : nil)
        var configuration: PostgresConnection.Configuration
        if let socketDirectory {
            configuration = PostgresConnection.Configuration(unixSocketPath: socketDirectory + "/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            guard let host = components.host, !host.isEmpty else {
                throw InvalidURL(description: "\(Self.redacted(text)) names no host (or ?host=/socket/directory)")
            }
            configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: .disable)
        }
        // An unreachable server is given up after 10 s (and tried again by the caller).
        configuration.options.connectTimeout = .seconds(10)
        self.configuration = configuration
        description = Self.redacted(text)
    }

    /// `text` with any password replaced by `***`.
    static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "***"
        return components.string ?? text
    }

    /// Runs `body` with one connection to this database, closed afterwards. One connection, not
    /// a pool: a shipper writes one batch at a time, and a connection that fails fails `body`
    /// at once, so that the caller can start over on a new one.
    public func withConnection<R: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> R) async throws -> R {
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
