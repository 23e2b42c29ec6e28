import Foundation
import Hummingbird
import Logging
import NIOCore
import RosterCore

/// The request context of `roster serve`: Hummingbird's, plus the client's address (the key of
/// the accept rate limit).
public struct ServeContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's socket address, kept as it is: only an accept needs it as text.
    private let peer: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peer = source.channel.remoteAddress
    }

    /// The peer's IP address; nil in Hummingbird's router tests, which have no socket.
    public var clientAddress: String? { peer?.ipAddress }

    /// Bodies are read by `JSONBody` with its own, smaller limit.
    public var maxUploadSize: Int { JSONBody.limit }
}

/// One log line per request (method, route pattern, status, milliseconds: never a header, a
/// token or a query value) and the request counts and latencies of `/metrics`. Outermost, so it
/// sees the status of every answer, 401s included.
struct ObserveMiddleware: RouterMiddleware {
    typealias Context = ServeContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        // The pattern (`/v1/access/{email}`), never the path that was asked (it may hold an email).
        let route = context.endpointPath ?? "unmatched"
        metrics.record(method: request.method.rawValue, route: route, status: response.status.code, seconds: seconds)
        context.logger.info("request", metadata: [
            "method": .string(request.method.rawValue), "route": .string(route),
            "status": .stringConvertible(response.status.code),
            "ms": .string(Self.milliseconds(seconds)),
        ])
        // AuthZEN: a request identifier comes back on its answer.
        if let id = request.headers.field(named: "x-request-id") { response.headers.append(id) }
        return response
    }
}

extension ObserveMiddleware {
    /// `0.42`: milliseconds with two decimals, without Foundation's format parser on every request.
    static func milliseconds(_ seconds: Double) -> String {
        let hundredths = Int((seconds * 100_000).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

/// Every error as a JSON answer with its status (`APIError`).
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ServeContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return APIError(error).response
        }
    }
}

/// `Authorization: Bearer T` with T one of the configured tokens, for every route but
/// `GET /healthz`. Each token is compared in constant time, and all of them always are, so the
/// time taken tells nothing about how much of a token was right or which one it was close to.
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = ServeContext
    let tokens: [[UInt8]]

    init(tokens: [String]) {
        self.tokens = tokens.map { Array($0.utf8) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .get && request.uri.path == "/healthz" { return try await next(request, context) }
        guard let header = request.headers[.authorization] else { throw Self.unauthorized }
        let bytes = header.utf8
        // `Bearer ` in any case, without making a lower-cased copy of the header.
        guard bytes.count > 7, zip(bytes.prefix(7), Self.scheme).allSatisfy({ $0 | 0x20 == $1 | 0x20 }) else {
            throw Self.unauthorized
        }
        let presented = Array(bytes.dropFirst(7))
        var matched = false
        for token in tokens { matched = Self.constantTimeEqual(presented, token) || matched }
        guard matched else { throw Self.unauthorized }
        return try await next(request, context)
    }

    private static let scheme = Array("bearer ".utf8)

    static let unauthorized = APIError(.unauthorized, "unauthorized", "send 'Authorization: Bearer TOKEN' with a token of serve.tokensEnv")

    /// Whether `a` equals `b`, in time that depends only on their lengths.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}

extension HTTPFields {
    /// The first field called `name` (lower-case), for the names HTTPTypes has no constant for.
    func field(named name: String) -> HTTPFields.Element? {
        first { $0.name.canonicalName == name }
    }
}
