import ArgumentParser
import Foundation
import Logging
import RosterApp
import RosterCore
import RosterServer
import RosterStore

/// `roster serve`: the HTTP API of SPEC §12 over the project's store.
struct ServeCommand: ParsableCommand, RosterRunnable {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the directory over HTTP: AuthZEN access checks, invitation accepts, events.",
        discussion: """
        Every request but GET /healthz needs 'Authorization: Bearer TOKEN' with a token from the \
        variable serve.tokensEnv names (default ROSTER_SERVE_TOKENS; comma-separated, so two can \
        be valid during a rotation; each at least 16 characters). Without one it refuses to start. \
        Answers come from an in-memory view of the store, refreshed within a second of a change. \
        Plain HTTP: put TLS in a reverse proxy. SIGTERM or SIGINT drains and exits 0. One log \
        line per request on stderr.

        Endpoints: POST /access/v1/evaluation, /access/v1/evaluations, /access/v1/search/subject, \
        /access/v1/search/resource, /access/v1/search/action; GET /.well-known/authzen-configuration, \
        /v1/access/EMAIL, /v1/who-can, /v1/events, /healthz, /metrics; POST /v1/invitations/accept.

        Examples:
          ROSTER_SERVE_TOKENS=$(openssl rand -hex 32) roster serve --listen 127.0.0.1:8080
          curl -s -H "Authorization: Bearer $TOKEN" -d '{"subject":{"type":"user","id":"dan@partner.example"},
            "action":{"name":"streams:delete"},"resource":{"type":"account","id":"acme-live"}}' \\
            http://127.0.0.1:8080/access/v1/evaluation
        """)

    @OptionGroup var options: GlobalOptions<TextOnly>

    @Option(help: ArgumentHelp("Address to listen on (default: serve.listen in roster.yaml, else 127.0.0.1:8080); "
                               + "port 0 takes any free port.", valueName: "host:port"))
    var listen: String?

    /// Tokens shorter than this are refused: a bearer token must not be guessable.
    static let minimumTokenLength = 16

    func validate() throws {
        if let listen, ListenAddress(parsing: listen, allowAnyPort: true) == nil {
            throw ValidationError(Problem.invalidListen(field: "--listen", value: listen).message)
        }
    }

    func run(in environment: Environment) throws -> ExitStatus {
        let loaded = options.loader(environment).checkedSettings()
        environment.stderr.write(TextReporter(color: false).renderDiagnostics(loaded.diagnostics))
        guard let settings = loaded.settings, !loaded.diagnostics.hasErrors else {
            throw RosterError.invalidFiles(errors: loaded.diagnostics.filter { $0.severity == .error }.count)
        }
        let config = settings.config
        let variable = config.serve.tokensEnv
        let tokens = (environment.variables[variable] ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !tokens.isEmpty else {
            environment.stderr.write("error: no API token: set \(variable) to one or more comma-separated tokens "
                                     + "(e.g. \(variable)=$(openssl rand -hex 32)); roster serve does not start without one\n")
            return .runtimeError
        }
        if tokens.contains(where: { $0.count < Self.minimumTokenLength }) {
            environment.stderr.write("error: a token in \(variable) is shorter than \(Self.minimumTokenLength) characters; "
                                     + "use long random ones (openssl rand -hex 32)\n")
            return .runtimeError
        }
        let address = listen.flatMap { ListenAddress(parsing: $0, allowAnyPort: true) } ?? config.serve.listen
        let serveOptions = ServeOptions(listen: address, tokens: tokens, config: config, root: settings.root,
                                        environment: environment.app)
        let locator = options.locator(environment)
        let root = settings.root
        // Opened once here for what other commands say of a store (new and empty, readable by
        // others); the server's own instance is opened on its store queue.
        _ = try options.openStore(config: config, root: root, environment)
        let worker = StoreWorker { () throws(RosterError) in try locator.openShared(config: config, root: root) }
        let stderr = environment.stderr
        // One line per request, written in batches (BufferedLogWriter) rather than one write each.
        let log = BufferedLogWriter()
        var logger = Logger(label: "roster.serve") { label in log.handler(label: label) }
        logger.logLevel = .info
        if environment.exitsAfterCommand {
            // roster's own process (not a test running commands in-process): see runTasksOnEventLoops.
            _ = ServeApplication.runTasksOnEventLoops()
        }
        let failure: RosterError? = runBlocking { [logger] () async -> RosterError? in
            do {
                let server = try await ServeApplication(options: serveOptions, worker: worker, logger: logger)
                let app = server.application { port in
                    stderr.write("roster serve: listening on http://\(address.host.contains(":") ? "[\(address.host)]" : address.host):\(port)\n")
                }
                try await app.runService()
                await worker.shutdown()
                return nil
            } catch let error as RosterError {
                return error
            } catch {
                return RosterError.cannotListen(address: address.description, reason: "\(error)")
            }
        }
        log.flush()
        if let failure { throw failure }
        stderr.write("roster serve: stopped\n")
        return .success
    }
}
