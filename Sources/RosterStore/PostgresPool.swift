import Foundation
import Logging
import PostgresNIO
import RosterCore

/// A PostgreSQL store shared by the requests of a server: postgres-nio's `PostgresClient` keeps
/// a pool of connections, and each call leases one for its duration and runs `SQLStore`'s SQL on
/// it through a `PostgresStore` bound to that connection. A session advisory lock (the apply
/// lock, the delivery lock) is re-entrant within one session, so two calls on one connection
/// would both "hold" it; here each call's locks are taken on its own leased connection.
///
/// A server that goes away fails the calls that cannot lease a connection within
/// `leaseTimeout` (503 to the server's clients); the pool keeps trying to connect and the calls
/// succeed again once it is back, without a restart.
public final class PostgresPool: SharedStore {
    public let location: PostgresLocation
    public var displayURL: String { location.displayURL }
    private let client: PostgresClient
    private let running: Task<Void, Never>
    private let busyTimeout: TimeInterval
    private let answerTimeout: TimeInterval
    private let leaseTimeout: Duration
    private let logger: Logger

    /// Opens the store once as a command does (creating and migrating it when needed, reading
    /// the server's version), then starts the pool of at most `connections` connections.
    ///
    /// The pool runs (`PostgresClient.run()`) in a task of its own until `shutdown()`, rather than
    /// as one of the application's services: it must outlive the HTTP server's drain of its last
    /// requests, and Hummingbird's test client runs an application's services once per test
    /// while a client runs only once.
    public init(location: PostgresLocation, random: any RandomSource = SystemRandomSource(), connections: Int = 8,
                busyTimeout: TimeInterval = 30, answerTimeout: TimeInterval = 120, leaseTimeout: Duration = .seconds(3)) throws {
        self.location = location
        self.busyTimeout = busyTimeout
        self.answerTimeout = answerTimeout
        self.leaseTimeout = leaseTimeout
        let version = try PostgresStore(location: location, random: random, busyTimeout: busyTimeout,
                                        answerTimeout: answerTimeout).serverVersion()
        var logger = Logger(label: "roster.postgres")
        logger.logLevel = .critical
        self.logger = logger
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: PostgresStore.clientTLS(location))
        configuration.options.connectTimeout = .seconds(Int64(location.connectTimeout))
        configuration.options.maximumConnections = connections
        configuration.options.additionalStartupParameters = PostgresStore.sessionParameters(
            location: location, busyTimeout: busyTimeout, version: version)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        running = Task { await client.run() }
    }

    public func withStore<T: Sendable>(_ body: @escaping @Sendable (any StateStore) throws -> T) async throws -> T {
        let location = location, busyTimeout = busyTimeout, answerTimeout = answerTimeout, logger = logger
        let lease = LeaseRace()
        let timeout = leaseTimeout
        // The body's own errors (an unknown token, a lost connection, described as the store
        // describes them) pass through as they are; only the pool's are described here.
        let outcome: Result<T, any Error>
        do {
            outcome = try await withThrowingTaskGroup(of: Result<T, any Error>?.self) { group in
                group.addTask {
                    try await self.client.withConnection { connection in
                        // Too late: the caller was told the store does not answer, so do nothing.
                        guard lease.leased() else { throw StoreError.postgres(.noConnection(server: location.server)) }
                        return await BlockingCalls.result {
                            try body(PostgresStore(leased: connection, location: location, busyTimeout: busyTimeout,
                                                   answerTimeout: answerTimeout, logger: logger))
                        }
                    }
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    guard lease.timedOut() else { return nil }
                    throw StoreError.postgres(.noConnection(server: location.server))
                }
                while let result = try await group.next() {
                    if let outcome = result {
                        group.cancelAll()
                        return outcome
                    }
                }
                throw StoreError.postgres(.noConnection(server: location.server))
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.postgres(PostgresStore.describe(error, at: location))
        }
        return try outcome.get()
    }

    public func shutdown() async {
        running.cancel()
        await running.value
    }
}

/// Who won between a lease and its timeout, decided once under a lock: a call whose caller has
/// already been answered 503 must not then run (an accept would write after its failure).
private final class LeaseRace: @unchecked Sendable {
    // @unchecked: `state` is read and written under `lock`.
    private let lock = NSLock()
    private var state = 0  // 0 waiting, 1 leased, 2 timed out

    /// True when the lease came first.
    func leased() -> Bool {
        lock.withLock {
            if state == 0 { state = 1 }
            return state == 1
        }
    }

    /// True when the timeout came first.
    func timedOut() -> Bool {
        lock.withLock {
            if state == 0 { state = 2 }
            return state == 2
        }
    }
}

extension PostgresLocation {
    /// `host:port`, as errors name the server.
    var server: String { "\(host):\(port)" }
}
