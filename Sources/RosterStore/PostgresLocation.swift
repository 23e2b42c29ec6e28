import Foundation

/// Where a PostgreSQL store is: `postgres://user:password@host:port/database?parameters`.
///
/// - The password comes from the URL, else from `PGPASSWORD`; the user from the URL, else
///   `PGUSER`, else `postgres`; the database defaults to the user's name (as `psql` does).
/// - `sslmode=disable` (the default) talks in the clear; `require` demands TLS without checking
///   the certificate (as libpq's `require`); `verify-full` demands TLS and checks the
///   certificate against the system's roots and the host name.
/// - `connect_timeout=SECONDS` (default 10) bounds connecting and authenticating, so a wrong
///   host or a server that never answers fails instead of hanging.
/// - `schema=NAME` (default `roster`) is the schema holding roster's tables, so a database
///   shared with other software keeps them apart; each schema is a separate store.
public struct PostgresLocation: Sendable, Hashable {
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, require, verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    public var connectTimeout: Int
    public var schema: String

    /// The URL with the password masked: safe for logs, plans and error messages.
    public var displayURL: String {
        let credentials = password == nil ? user : user + ":***"
        let hostPart = host.contains(":") ? "[\(host)]" : host
        var text = "postgres://\(credentials)@\(hostPart):\(port)/\(database)"
        var parameters: [String] = []
        if tls != .disable { parameters.append("sslmode=\(tls.rawValue)") }
        if schema != "roster" { parameters.append("schema=\(schema)") }
        if !parameters.isEmpty { text += "?" + parameters.joined(separator: "&") }
        return text
    }

    init(host: String, port: Int, user: String, password: String?, database: String, tls: TLSMode,
         connectTimeout: Int, schema: String) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.schema = schema
    }

    /// Parses a `postgres://` or `postgresql://` URL; the message of a thrown error says what
    /// is wrong and never repeats the password.
    public init(url: String, environment: [String: String]) throws {
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"),
              let components = URLComponents(string: url)
        else {
            throw StoreError.badURL(.notPostgres(url: Self.mask(url)))
        }
        guard let host = components.host, !host.isEmpty else {
            throw StoreError.badURL(.noHost(url: Self.mask(url)))
        }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw StoreError.badURL(.portOutOfRange(port: port)) }
        user = components.user.flatMap { $0.isEmpty ? nil : $0 } ?? environment["PGUSER"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "postgres"
        password = components.password ?? environment["PGPASSWORD"]
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? user : path
        tls = .disable
        connectTimeout = 10
        schema = "roster"
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw StoreError.badURL(.unsupportedSSLMode(value: value))
                }
                tls = mode
            case "connect_timeout":
                guard let seconds = Int(value), (1...3600).contains(seconds) else {
                    throw StoreError.badURL(.badConnectTimeout(value: value))
                }
                connectTimeout = seconds
            case "schema":
                guard Self.isPlainName(value) else {
                    throw StoreError.badURL(.badSchema(value: value))
                }
                schema = value
            default:
                throw StoreError.badURL(.unknownParameter(name: item.name))
            }
        }
    }

    /// a-z, 0-9 and `_`, 1 to 63 bytes, not starting with a digit, and not `pg_…` (reserved
    /// by PostgreSQL). Such a name is also written double-quoted in SQL, so keywords work.
    static func isPlainName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count), !name.hasPrefix("pg_"), !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[0])
        else { return false }
        return bytes.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
            || $0 == UInt8(ascii: "_") }
    }

    /// A URL with any password replaced by `***`.
    public static func mask(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        guard let at = rest.lastIndex(of: "@") else { return url }
        let userInfo = rest[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }
}
