import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import RosterApp
import RosterCore
import RosterStore
import ServiceLifecycle

/// What `roster serve` is given: where to listen, the tokens, the project's configuration and
/// the world it runs in.
public struct ServeOptions: Sendable {
    public var listen: ListenAddress
    /// The accepted bearer tokens (two during a rotation).
    public var tokens: [String]
    public var config: Config
    /// The folder of roster.yaml (the invitation delivery's relative paths).
    public var root: String
    public var environment: AppEnvironment
    /// How often the store's position is checked.
    public var refreshInterval: Duration = .seconds(1)
    /// The longest `wait` of `GET /v1/events`.
    public var maxWait: Int = 60

    public init(listen: ListenAddress, tokens: [String], config: Config, root: String, environment: AppEnvironment) {
        self.listen = listen
        self.tokens = tokens
        self.config = config
        self.root = root
        self.environment = environment
    }
}

/// The Hummingbird application of `roster serve` (SPEC §12): its router, middleware and the
/// handlers, which call RosterApp and Core and answer from the in-memory view.
public final class ServeApplication: Sendable {
    public let options: ServeOptions
    public let worker: StoreWorker
    public let state: ServerState
    public let refresher: ViewRefresher
    public let metrics = ServerMetrics()
    public let limiter: RateLimiter
    let deliverer: EventDeliverer
    let logger: Logger

    /// Loads the first view from the store (throwing when it does not answer) and sets up the rest.
    public init(options: ServeOptions, worker: StoreWorker, limiter: RateLimiter = RateLimiter(),
                logger: Logger) async throws(RosterError) {
        self.options = options
        self.worker = worker
        self.limiter = limiter
        self.logger = logger
        let view = try await ViewRefresher.load(worker: worker, catalogue: options.config.permissions)
        state = ServerState(view: view)
        refresher = ViewRefresher(worker: worker, state: state, catalogue: options.config.permissions,
                                  interval: options.refreshInterval, logger: logger)
        deliverer = EventDeliverer(worker: worker, options: options, logger: logger)
    }

    /// Makes NIO's event loops Swift Concurrency's global executor, so a request's handler runs
    /// on the event loop that read it instead of hopping to the cooperative pool and back (those
    /// hops and their context switches were the largest cost of an evaluation; BENCHMARKS.md). Call
    /// it once, from the main thread, before any task runs, and only in a process of roster's
    /// own (not in tests): nothing may block on the executor then, which is why every store call
    /// runs on threads of its own. False when it could not be installed.
    public static func runTasksOnEventLoops() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// The application, listening on `options.listen`; `onRunning` hears the bound port.
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> Application<RouterResponder<ServeContext>> {
        var app = Application(router: router(),
                              configuration: .init(address: .hostname(options.listen.host, port: options.listen.port),
                                                   serverName: nil),
                              onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
                              logger: logger)
        app.addServices(refresher)
        return app
    }

    /// Every route, behind the middleware: observe (log and metrics) → errors as JSON → bearer auth.
    public func router() -> Router<ServeContext> {
        let router = Router(context: ServeContext.self)
        router.add(middleware: ObserveMiddleware(metrics: metrics))
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: BearerAuthMiddleware(tokens: options.tokens))

        router.get("/healthz") { _, _ in try await self.health() }
        router.get("/metrics") { _, _ in self.metricsText() }
        router.get("/.well-known/authzen-configuration") { request, _ in
            JSONBody.response(AuthZEN.Metadata(base: Self.baseURL(of: request)))
        }
        router.post("/access/v1/evaluation") { request, _ in
            let body = try await JSONBody.read(AuthZEN.EvaluationRequest.self, from: request, with: AuthZENReader.evaluation)
            let question = try AuthZEN.question(body)
            var out: [UInt8] = []
            out.reserveCapacity(256)
            AuthZEN.json(AuthZEN.decide(question, in: try self.currentView()), into: &out)
            return JSONBody.response(bytes: out)
        }
        router.post("/access/v1/evaluations") { request, _ in
            let body = try await JSONBody.read(AuthZEN.EvaluationsRequest.self, from: request, with: AuthZENReader.evaluations)
            switch try AuthZEN.evaluations(body, in: try self.currentView()) {
            case .single(let decision):
                var out: [UInt8] = []
                AuthZEN.json(decision, into: &out)
                return JSONBody.response(bytes: out)
            case .boxcar(let decisions): return JSONBody.response(bytes: AuthZEN.json(decisions))
            }
        }
        router.post("/access/v1/search/subject") { request, _ in
            let body = try await JSONBody.decode(AuthZEN.SearchRequest.self, from: request)
            return JSONBody.response(try AuthZEN.searchSubjects(body, in: try self.currentView()))
        }
        router.post("/access/v1/search/resource") { request, _ in
            let body = try await JSONBody.decode(AuthZEN.SearchRequest.self, from: request)
            return JSONBody.response(try AuthZEN.searchResources(body, in: try self.currentView()))
        }
        router.post("/access/v1/search/action") { request, _ in
            let body = try await JSONBody.decode(AuthZEN.SearchRequest.self, from: request)
            return JSONBody.response(try AuthZEN.searchActions(body, in: try self.currentView()))
        }
        router.get("/v1/access/:email") { request, context in
            try await self.access(email: context.parameters.get("email") ?? "", request: request)
        }
        router.get("/v1/who-can") { request, _ in try await self.whoCan(request) }
        router.post("/v1/invitations/accept") { request, context in
            try await self.accept(request, client: context.clientAddress ?? "unknown")
        }
        router.get("/v1/events") { request, _ in try await self.events(request) }
        return router
    }

    /// The view, while the store answers its checks: answers from a view the store no longer
    /// confirms could grant what was revoked since, so they fail closed (503) instead.
    func currentView() throws -> DirectoryView {
        guard let view = state.answeringView else { throw APIError.storeUnavailable }
        return view
    }

    // MARK: Handlers

    func health() async throws -> Response {
        struct Health: Encodable { var status: String; var serial: Int; var seq: Int }
        guard await refresher.refresh() else { throw APIError.storeUnavailable }
        let status = state.view.status
        return JSONBody.response(Health(status: "ok", serial: status.serial, seq: status.lastSequence))
    }

    func metricsText() -> Response {
        let view = state.view
        let text = metrics.exposition(gauges: [
            ("roster_store_serial", "The store's serial in the view being served.", view.status.serial),
            ("roster_store_last_seq", "The last audit seq in the view being served.", view.status.lastSequence),
            ("roster_store_up", "1 when the store answered its last check, else 0.", state.storeAnswers ? 1 : 0),
            ("roster_view_users", "Users in the view being served.", view.userCount),
        ])
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// `GET /v1/access/EMAIL[?customer=ID|account=ID]`: `roster access --format json`, byte for byte.
    func access(email: String, request: Request) async throws -> Response {
        guard Syntax.isEmail(email) else { throw APIError.malformed("bad-email", "the path does not end in an email address") }
        let scope = try Self.optionalScope(request)
        let catalogue = options.config.permissions
        let report = try await worker.run { store throws(RosterError) in
            try AccessQueries(catalogue: catalogue).access(of: email, in: store, on: scope)
        }
        return JSONBody.response(data: Data(try CanonicalJSON.pretty(report).utf8))
    }

    /// `GET /v1/who-can?permission=MODULE:ACTION&customer=ID|account=ID`: `roster who-can --format json`.
    func whoCan(_ request: Request) async throws -> Response {
        guard let permission = request.uri.queryParameters.get("permission"), !permission.isEmpty else {
            throw APIError.malformed("missing-permission", "give ?permission=MODULE:ACTION")
        }
        guard let scope = try Self.optionalScope(request) else {
            throw APIError.malformed("missing-scope", "give ?customer=ID or ?account=ID")
        }
        let catalogue = options.config.permissions
        let report = try await worker.run { store throws(RosterError) in
            try AccessQueries(catalogue: catalogue).whoCan(permission, on: scope, in: store)
        }
        return JSONBody.response(data: Data(try CanonicalJSON.pretty(report).utf8))
    }

    static func optionalScope(_ request: Request) throws -> ScopeRef? {
        let customer = request.uri.queryParameters.get("customer")
        let account = request.uri.queryParameters.get("account")
        switch (customer, account) {
        case (.some, .some): throw APIError.malformed("bad-scope", "give customer or account, not both")
        case (.some(let id), nil) where !id.isEmpty: return ScopeRef(.customer, id)
        case (nil, .some(let id)) where !id.isEmpty: return ScopeRef(.account, id)
        case (nil, nil): return nil
        default: throw APIError.malformed("missing-scope", "the scope's id is empty")
        }
    }

    /// `POST /v1/invitations/accept {"token"}`: writes as `roster invitations accept` does (audit
    /// record, event; nothing on error), then refreshes the view and sends the event to the
    /// endpoints. Failures count against the client's address.
    func accept(_ request: Request, client: String) async throws -> Response {
        struct Body: Decodable { var token: String? }
        struct Accepted: Encodable { var email: String; var status: String }
        if let wait = limiter.refusal(for: client) {
            throw APIError(.tooManyRequests, "rate-limited", "too many failed accepts from this address; try again in \(wait) s",
                           retryAfter: wait)
        }
        let body = try await JSONBody.decode(Body.self, from: request)
        guard let token = body.token, !token.isEmpty, token.utf8.count <= 512 else {
            throw APIError.malformed("missing-token", "give {\"token\": \"…\"} with the token of the invitation's link")
        }
        let actor = options.environment.actor(nil)
        let config = options.config, environment = options.environment
        let email: String
        do {
            email = try await worker.run { store throws(RosterError) in
                try InvitationService(store: store, config: config, environment: environment).accept(token: token, actor: actor)
            }
        } catch {
            if (400..<500).contains(error.httpFailure.status) { limiter.recordFailure(for: client) }
            throw error
        }
        await refresher.refresh()
        if !config.events.isEmpty { deliverer.deliver() }
        return JSONBody.response(Accepted(email: email, status: UserStatus.active.rawValue))
    }

    /// `GET /v1/events?since=SEQ&limit=N&wait=30s`: the event bodies after SEQ (byte for byte what a
    /// webhook receives), waiting up to `wait` for one when there is none yet.
    func events(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let since = try Self.integer(query.get("since"), name: "since", default: 0, range: 0...Int.max)
        let limit = try Self.integer(query.get("limit"), name: "limit", default: 100, range: 1...1000)
        var wait = 0
        if let text = query.get("wait") {
            guard let seconds = DurationSyntax.seconds(parsing: text), seconds <= options.maxWait else {
                throw APIError.malformed("bad-wait", "wait must be a duration of at most \(options.maxWait)s, e.g. 30s")
            }
            wait = seconds
        }
        let deadline = ContinuousClock.now + .seconds(wait)
        while true {
            // What the view has seen before the read: a wait below is for news after both.
            let seen = max(since, state.view.status.lastSequence)
            let records = try await worker.run { store throws(RosterError) in
                try storeCall { try store.records(afterSequence: since, limit: limit) }
            }
            if !records.isEmpty || ContinuousClock.now >= deadline || state.shuttingDown {
                return try Self.eventsResponse(records, since: since)
            }
            // Woken by a view with a newer record (at once after this server's own accept, within
            // the refresh interval after another process's write), by shutdown, or by the deadline.
            // The HTTP server drains its requests before the other services hear of a shutdown,
            // so the poll hears of it itself.
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await self.state.waitForRecord(after: seen) }
                    group.addTask { try? await Task.sleep(until: deadline) }
                    await group.next()
                    group.cancelAll()
                }
            } onGracefulShutdown: { [state] in
                state.beginShutdown()
            }
            if Task.isShuttingDownGracefully || state.shuttingDown { return try Self.eventsResponse([], since: since) }
        }
    }

    static func eventsResponse(_ records: [AuditRecord], since: Int) throws -> Response {
        var out = Data("{\"events\":[".utf8)
        var first = true
        for record in records {
            guard let event = Event(record) else { continue }
            if !first { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: try event.body())
            first = false
        }
        out.append(contentsOf: Data("],\"next\":\(records.last?.sequence ?? since)}".utf8))
        return JSONBody.response(data: out)
    }

    static func integer(_ text: String?, name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError.malformed("bad-\(name)", "\(name) must be a whole number from \(range.lowerBound)"
                                     + (range.upperBound == Int.max ? " up" : " to \(range.upperBound)"))
        }
        return number
    }

    /// The PDP's base URL as the client reached it: the proxy's `X-Forwarded-Host`, else the
    /// request's host; https when the proxy says so (`X-Forwarded-Proto`).
    static func baseURL(of request: Request) -> String {
        let host = request.headers.field(named: "x-forwarded-host")?.value ?? request.head.authority
            ?? request.headers.field(named: "host")?.value ?? "localhost"
        let scheme = request.headers.field(named: "x-forwarded-proto")?.value == "https" ? "https" : "http"
        return "\(scheme)://\(host)"
    }
}
