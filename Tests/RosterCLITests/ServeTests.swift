import Foundation
import RosterApp
import RosterCore
import RosterServer
import RosterTestSupport
import XCTest

/// `roster serve`'s routes through Hummingbird's router test client, on the store under test
/// (`TestStore`): every route, every error answer, and AuthZEN bodies against the spec's schemas.
final class ServeTests: XCTestCase {
    let live = "northwind-live"

    // MARK: Authentication

    func testEveryRouteButHealthNeedsAConfiguredBearerToken() async throws {
        let ws = try Quickstart.applied()
        let server = try await ws.server(tokens: [serveToken, secondServeToken])
        let body = evaluation("dan@partner.example", "streams:read", "account", live)
        let answers = try await send(server, [
            .post("/access/v1/evaluation", body, token: nil),
            .post("/access/v1/evaluation", body, token: "wrong-token-0123456789abcdef"),
            .post("/access/v1/evaluation", body, token: String(serveToken.dropLast())),
            Call(method: .get, uri: "/metrics", token: nil, headers: ["Authorization": "Basic \(serveToken)"]),
            .post("/access/v1/evaluation", body),
            .post("/access/v1/evaluation", body, token: secondServeToken),
            .get("/healthz", token: nil),
        ])
        XCTAssertEqual(answers.map(\.status), [401, 401, 401, 401, 200, 200, 200])
        XCTAssertEqual(answers[0].errorCode, "unauthorized")
        XCTAssertEqual(answers[6].json["status"] as? String, "ok")
        XCTAssertEqual(answers[6].json["serial"] as? Int, try ws.serial())
    }

    // MARK: Evaluation

    func testEvaluationPermitsWithProvenanceAndDeniesWithAReason() async throws {
        let ws = try Quickstart.applied()
        let server = try await ws.server()
        let requests = [
            evaluation("dan@partner.example", "streams:delete", "account", live),
            evaluation("Alice@Northwind-Media.example", "billing:update", "account", live),
            evaluation("dan@partner.example", "streams:delete", "account", "bluebird-tv"),
            evaluation("nobody@partner.example", "streams:read", "account", live),
            evaluation("dan@partner.example", "streams:read", "account", "no-such-account"),
            evaluation("dan@partner.example", "streams:fly", "account", live),
        ]
        let answers = try await send(server, requests.map { .post("/access/v1/evaluation", $0) })
        XCTAssertEqual(answers.map(\.status), [200, 200, 200, 200, 200, 200])
        XCTAssertEqual(answers.map { $0.json["decision"] as? Bool }, [true, true, false, false, false, false])
        XCTAssertEqual(context(answers[0])["via"] as? [String], ["role system-integrator on account northwind-live"])
        XCTAssertEqual(context(answers[1])["via"] as? [String], ["owner of customer northwind-media"])
        XCTAssertEqual(answers[2...].map { context($0)["code"] as? String },
                       ["no-grant", "unknown-user", "unknown-scope", "unknown-permission"])
        XCTAssertEqual(context(answers[2])["reason"] as? String,
                       "'dan@partner.example' holds no grant of streams:delete on account bluebird-tv")
        try validateAuthZEN(requests.map { ("evaluation-request", $0) } + answers.map { ("evaluation-response", $0.body) })
    }

    func testMalformedEvaluationsAre400WithAJSONError() async throws {
        let ws = try Quickstart.applied()
        let server = try await ws.server()
        let cases: [(String, String)] = [
            (evaluation("not-an-email", "streams:read", "account", live), "bad-email"),
            (evaluation("dan@partner.example", "streams", "account", live), "bad-permission"),
            (evaluation("dan@partner.example", "streams:*", "account", live), "bad-permission"),
            (evaluation("dan@partner.example", "streams:read", "document", live), "bad-scope"),
            (evaluation("dan@partner.example", "streams:read", "account", ""), "missing-scope"),
            (#"{"subject":{"type":"user","id":"dan@partner.example"},"action":{"name":"streams:read"}}"#, "missing-scope"),
            (#"{"subject":{"type":"group","id":"dan@partner.example"},"action":{"name":"streams:read"},"resource":{"type":"account","id":"x"}}"#, "bad-subject"),
            (#"{"subject":{"type":"user","id":42},"action":{"name":"streams:read"},"resource":{"type":"account","id":"x"}}"#, "bad-json"),
            ("not json", "bad-json"),
            ("[1, 2]", "bad-json"),
            (#"{"subject": ""# + String(repeating: "x", count: 70_000) + #""}"#, "body-too-large"),
        ]
        let answers = try await send(server, cases.map { .post("/access/v1/evaluation", $0.0) })
        XCTAssertEqual(answers.map(\.status), Array(repeating: 400, count: cases.count))
        XCTAssertEqual(answers.map(\.errorCode), cases.map(\.1))
        XCTAssertTrue(answers.allSatisfy { ($0.json["error"] as? [String: Any])?["message"] is String })
        XCTAssertEqual(answers[0].headers["Content-Type"], "application/json")
    }

    /// Every answer of the view agrees with `roster access` and `who-can` (AccessQueries on the store).
    func testEveryDecisionAgreesWithTheAccessQueries() async throws {
        let ws = try Quickstart.applied(accepted: false)
        let server = try await ws.server()
        let store = try ws.store()
        let catalogue = server.options.config.permissions
        let queries = AccessQueries(catalogue: catalogue)
        let permissions = catalogue.modules.flatMap { module in module.actions.map { "\(module.name.value):\($0.value)" } }
        let scopes = [ScopeRef(.customer, "northwind-media"), ScopeRef(.customer, "bluebird-studio"),
                      ScopeRef(.account, "northwind-live"), ScopeRef(.account, "northwind-meet"), ScopeRef(.account, "bluebird-tv")]
        let view = server.state.view
        var permits = 0
        for email in Quickstart.users {
            let report = try queries.access(of: email, in: store)
            for scope in scopes {
                let held = Set(report.scopes.first { $0.type == scope.kind && $0.id == scope.id }?.permissions ?? [])
                for permission in permissions {
                    let decision = view.decide(email: email, permission: permission, scope: scope)
                    if case .permit = decision { permits += 1 }
                    XCTAssertEqual({ if case .permit = decision { return true } else { return false } }(), held.contains(permission),
                                   "\(email) \(permission) \(scope)")
                }
            }
        }
        XCTAssertGreaterThan(permits, 100)
        for scope in scopes {
            for permission in permissions {
                let holders = try queries.whoCan(permission, on: scope, in: store).holders.map(\.email)
                XCTAssertEqual(view.holders(of: permission, on: scope).map(\.email), holders, "\(permission) \(scope)")
            }
        }
    }

    // MARK: Boxcars

    func testEvaluationsFollowTheirSemanticAndDefaults() async throws {
        let ws = try Quickstart.applied()
        let server = try await ws.server()
        func boxcar(_ semantic: String?) -> String {
            let options = semantic.map { #","options":{"evaluations_semantic":"\#($0)"}"# } ?? ""
            return #"{"subject":{"type":"user","id":"dan@partner.example"},"action":{"name":"streams:read"},"evaluations":["#
                + #"{"resource":{"type":"account","id":"northwind-live"}},"#
                + #"{"action":{"name":"streams:delete"},"resource":{"type":"account","id":"bluebird-tv"}},"#
                + #"{"resource":{"type":"account","id":"bluebird-tv"}},"#
                + #"{"subject":{"type":"user","id":"nobody"},"resource":{"type":"account","id":"bluebird-tv"}}]"#
                + options + "}"
        }
        let bodies = [boxcar(nil), boxcar("execute_all"), boxcar("deny_on_first_deny"), boxcar("permit_on_first_permit"),
                      evaluation("dan@partner.example", "streams:read", "account", live), boxcar("all_of_them"),
                      #"{"evaluations":[{"resource":{"type":"account","id":"x"}}]}"#]
        let answers = try await send(server, bodies.map { .post("/access/v1/evaluations", $0) })
        func decisions(_ answer: Answer) -> [Bool] {
            (answer.json["evaluations"] as? [[String: Any]] ?? []).compactMap { $0["decision"] as? Bool }
        }
        XCTAssertEqual(answers.map(\.status), [200, 200, 200, 200, 200, 400, 200])
        XCTAssertEqual(decisions(answers[0]), [true, false, true, false])
        XCTAssertEqual(decisions(answers[1]), [true, false, true, false])
        XCTAssertEqual(decisions(answers[2]), [true, false])
        XCTAssertEqual(decisions(answers[3]), [true])
        // No evaluations array: a single evaluation, answered as one.
        XCTAssertEqual(answers[4].json["decision"] as? Bool, true)
        XCTAssertEqual(answers[5].errorCode, "bad-option")
        // A malformed evaluation in a boxcar is closed, with its error in its context.
        let malformed = (answers[6].json["evaluations"] as? [[String: Any]])?.first
        XCTAssertEqual(malformed?["decision"] as? Bool, false)
        XCTAssertEqual(((malformed?["context"] as? [String: Any])?["error"] as? [String: Any])?["status"] as? Int, 400)
        try validateAuthZEN(answers[0...3].map { ("evaluations-response", $0.body) } + [("evaluation-response", answers[4].body)]
                            + [("evaluations-response", answers[6].body)])
    }

    // MARK: Search

    func testSubjectSearchPagesThroughWhoCan() async throws {
        let ws = try Quickstart.applied()
        let server = try await ws.server()
        let query = #"{"subject":{"type":"user"},"action":{"name":"streams:delete"},"resource":{"type":"account","id":"northwind-live"}"#
        let first = try await send(server, .post("/access/v1/search/subject", query + #","page":{"limit":2}}"#))
        XCTAssertEqual(first.status, 200, first.body)
        let page = first.json["page"] as? [String: Any]
        XCTAssertEqual(page?["count"] as? Int, 2)
        XCTAssertEqual(page?["total"] as? Int, 3)
        let token = try XCTUnwrap(page?["next_token"] as? String)
        XCTAssertFalse(token.isEmpty)
        let answers = try await send(server, [
            .post("/access/v1/search/subject", query + #","page":{"limit":2,"token":"\#(token)"}}"#),
            .post("/access/v1/search/subject", query + #","page":{"limit":1,"token":"\#(token)"}}"#),
            .post("/access/v1/search/subject", query + #","page":{"token":"garbage"}}"#),
            .post("/access/v1/search/subject", query + #","page":{"limit":0}}"#),
            .post("/access/v1/search/subject", query + "}"),
        ])
        XCTAssertEqual(answers.map(\.status), [200, 400, 400, 400, 200])
        XCTAssertEqual((answers[0].json["page"] as? [String: Any])?["next_token"] as? String, "")
        let ids = (first.json["results"] as? [[String: Any]] ?? []) + (answers[0].json["results"] as? [[String: Any]] ?? [])
        XCTAssertEqual(ids.compactMap { $0["id"] as? String },
                       ["alice@northwind-media.example", "bob@northwind-media.example", "dan@partner.example"])
        XCTAssertEqual(ids.compactMap { $0["type"] as? String }, ["user", "user", "user"])
        XCTAssertEqual(answers[1].errorCode, "bad-page-token")
        XCTAssertEqual((answers[4].json["results"] as? [Any])?.count, 3)
        try validateAuthZEN([first, answers[0], answers[4]].map { ("search-response", $0.body) })
    }

    func testResourceAndActionSearch() async throws {
        let ws = try Quickstart.applied()
        let server = try await ws.server()
        let answers = try await send(server, [
            .post("/access/v1/search/resource",
                  #"{"subject":{"type":"user","id":"dan@partner.example"},"action":{"name":"streams:read"},"resource":{"type":"account"}}"#),
            .post("/access/v1/search/resource",
                  #"{"subject":{"type":"user","id":"alice@northwind-media.example"},"action":{"name":"billing:update"},"resource":{"type":"customer"}}"#),
            .post("/access/v1/search/action",
                  #"{"subject":{"type":"user","id":"dan@partner.example"},"resource":{"type":"account","id":"bluebird-tv"}}"#),
            .post("/access/v1/search/action",
                  #"{"subject":{"type":"user","id":"dan@partner.example"},"resource":{"type":"thing","id":"bluebird-tv"}}"#),
        ])
        XCTAssertEqual(answers.map(\.status), [200, 200, 200, 400])
        XCTAssertEqual((answers[0].json["results"] as? [[String: Any]])?.compactMap { $0["id"] as? String },
                       ["bluebird-tv", "northwind-live"])
        XCTAssertEqual((answers[1].json["results"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, ["northwind-media"])
        let actions = (answers[2].json["results"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        let view = server.state.view
        XCTAssertEqual(actions, view.permissions(of: "dan@partner.example", on: ScopeRef(.account, "bluebird-tv")))
        XCTAssertTrue(actions.contains("streams:read"))
        XCTAssertFalse(actions.contains("streams:delete"))
        try validateAuthZEN(answers[0...2].map { ("search-response", $0.body) })
    }

    func testMetadataNamesTheEndpoints() async throws {
        let ws = try Quickstart.applied()
        let server = try await ws.server()
        let answer = try await send(server, Call(method: .get, uri: "/.well-known/authzen-configuration",
                                                 headers: ["X-Forwarded-Host": "pdp.example.com", "X-Forwarded-Proto": "https"]))
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.json["policy_decision_point"] as? String, "https://pdp.example.com")
        XCTAssertEqual(answer.json["access_evaluation_endpoint"] as? String, "https://pdp.example.com/access/v1/evaluation")
        XCTAssertEqual(answer.json["access_evaluations_endpoint"] as? String, "https://pdp.example.com/access/v1/evaluations")
        for kind in ["subject", "resource", "action"] {
            XCTAssertEqual(answer.json["search_\(kind)_endpoint"] as? String, "https://pdp.example.com/access/v1/search/\(kind)")
        }
    }

    // MARK: roster access and who-can

    func testAccessAndWhoCanAnswerAsTheCommandsPrint() async throws {
        let ws = try Quickstart.applied()
        let server = try await ws.server()
        let access = ws.run(["access", "dan@partner.example", "--format", "json"])
        let scoped = ws.run(["access", "dan@partner.example", "--account", "bluebird-tv", "--format", "json"])
        let whoCan = ws.run(["who-can", "streams:delete", "--account", live, "--format", "json"])
        XCTAssertEqual([access.status, scoped.status, whoCan.status], [0, 0, 0])
        let answers = try await send(server, [
            .get("/v1/access/dan@partner.example"),
            .get("/v1/access/dan@partner.example?account=bluebird-tv"),
            .get("/v1/who-can?permission=streams:delete&account=\(live)"),
            .get("/v1/access/nobody@partner.example"),
            .get("/v1/access/not-an-email"),
            .get("/v1/who-can?permission=streams:delete"),
            .get("/v1/who-can?permission=streams:fly&account=\(live)"),
            .get("/v1/who-can?permission=streams:*&account=\(live)"),
            .get("/v1/who-can?permission=streams:read&account=nowhere"),
            .get("/v1/who-can?permission=streams:read&account=a&customer=b"),
            .get("/v1/nothing-here"),
        ])
        XCTAssertEqual(answers.map(\.status), [200, 200, 200, 404, 400, 400, 400, 400, 404, 400, 404])
        XCTAssertEqual(answers[0].body, access.stdout)
        XCTAssertEqual(answers[1].body, scoped.stdout)
        XCTAssertEqual(answers[2].body, whoCan.stdout)
        XCTAssertEqual(answers[3...].map(\.errorCode), ["unknown-user", "bad-email", "missing-scope", "unknown-permission",
                                                         "bad-permission", "unknown-scope", "bad-scope", "not-found"])
    }

    // MARK: Accepting invitations

    func testAcceptWritesLikeTheCommandAndAnswersEachFailure() async throws {
        let ws = try Quickstart.applied(accepted: false)
        let dan = try ws.onlyToken(of: "dan@partner.example")
        let erin = try ws.onlyToken(of: "erin@northwind-media.example")
        XCTAssertEqual(ws.run(["invitations", "revoke", "erin@northwind-media.example"]).status, 0)
        let server = try await ws.server()
        let before = server.state.view.status
        let answers = try await send(server, [
            .post("/v1/invitations/accept", #"{"token":"\#(dan)"}"#),
            .post("/v1/invitations/accept", #"{"token":"\#(dan)"}"#),
            .post("/v1/invitations/accept", #"{"token":"no-such-token"}"#),
            .post("/v1/invitations/accept", #"{"token":"\#(erin)"}"#),
            .post("/v1/invitations/accept", #"{"token":""}"#),
            .post("/v1/invitations/accept", #"{"token": 12}"#),
        ])
        XCTAssertEqual(answers.map(\.status), [200, 409, 404, 410, 400, 400])
        XCTAssertEqual(answers[0].json as NSDictionary, ["email": "dan@partner.example", "status": "active"] as NSDictionary)
        XCTAssertEqual(answers[1...].map(\.errorCode), ["token-used", "unknown-token", "token-revoked", "missing-token", "bad-json"])
        // Written as the command writes: the user is active, one audit record, and the view saw it at once.
        let list = ws.run(["invitations", "list", "--status", "accepted", "--format", "json"])
        XCTAssertTrue(list.stdout.contains("dan@partner.example"), list.stdout)
        XCTAssertEqual(try ws.strings("SELECT action FROM audit ORDER BY seq DESC LIMIT 1"), ["accept-invitation"])
        XCTAssertEqual(server.state.view.status.lastSequence, before.lastSequence + 1)
    }

    func testAnExpiredTokenIs410() async throws {
        let ws = try Quickstart.applied(accepted: false)
        let token = try ws.onlyToken(of: "dan@partner.example")
        let server = try await ws.server(at: ws.now.addingTimeInterval(8 * oneDay))
        let answer = try await send(server, .post("/v1/invitations/accept", #"{"token":"\#(token)"}"#))
        XCTAssertEqual(answer.status, 410)
        XCTAssertEqual(answer.errorCode, "token-expired")
    }

    func testFailedAcceptsAreRateLimitedPerAddress() async throws {
        let ws = try Quickstart.applied(accepted: false)
        let token = try ws.onlyToken(of: "dan@partner.example")
        let clock = TestClock(ws.now)
        let server = try await ws.server(limiter: RateLimiter(allowed: 3, window: 60, now: { clock.now }))
        let bad = Call.post("/v1/invitations/accept", #"{"token":"guess"}"#)
        let good = Call.post("/v1/invitations/accept", #"{"token":"\#(token)"}"#)
        let answers = try await send(server, [bad, bad, bad, bad, good])
        XCTAssertEqual(answers.map(\.status), [404, 404, 404, 429, 429])
        XCTAssertEqual(answers[3].errorCode, "rate-limited")
        XCTAssertEqual(answers[3].headers["Retry-After"], "60")
        clock.now = clock.now.addingTimeInterval(61)
        let later = try await send(server, good)
        XCTAssertEqual(later.status, 200, later.body)
    }

    // MARK: Events

    func testEventsAreTheWebhookBodiesAfterASeq() async throws {
        let ws = try Quickstart.applied()
        let server = try await ws.server()
        let all = ws.run(["events", "--format", "json"]).stdout.split(separator: "\n").map(String.init)
        XCTAssertGreaterThan(all.count, 10)
        let answers = try await send(server, [
            .get("/v1/events?limit=1000"),
            .get("/v1/events?since=3&limit=2"),
            .get("/v1/events?since=\(all.count)&wait=1s"),
            .get("/v1/events?since=-1"),
            .get("/v1/events?limit=0"),
            .get("/v1/events?wait=forever"),
            .get("/v1/events?wait=61s"),
        ])
        XCTAssertEqual(answers.map(\.status), [200, 200, 200, 400, 400, 400, 400])
        XCTAssertEqual(answers[0].body, #"{"events":["# + all.joined(separator: ",") + #"],"next":\#(all.count)}"#)
        XCTAssertEqual(answers[1].body, #"{"events":["# + all[3...4].joined(separator: ",") + #"],"next":5}"#)
        XCTAssertEqual(answers[2].body, #"{"events":[],"next":\#(all.count)}"#)
        XCTAssertEqual(answers[3...].map(\.errorCode), ["bad-since", "bad-limit", "bad-wait", "bad-wait"])
    }

    func testALongPollAnswersWhenAnEventArrives() async throws {
        let ws = try Quickstart.applied(accepted: false)
        let token = try ws.onlyToken(of: "dan@partner.example")
        let server = try await ws.server(refresh: .milliseconds(200))
        let last = server.state.view.status.lastSequence
        let started = Date()
        async let polled = send(server, .get("/v1/events?since=\(last)&wait=20s"))
        try await Task.sleep(for: .milliseconds(500))
        let accepted = try await send(server, .post("/v1/invitations/accept", #"{"token":"\#(token)"}"#))
        XCTAssertEqual(accepted.status, 200)
        let answer = try await polled
        XCTAssertEqual(answer.status, 200)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        let events = answer.json["events"] as? [[String: Any]] ?? []
        XCTAssertEqual(events.map { $0["type"] as? String }, ["user.activated"])
        XCTAssertEqual(answer.json["next"] as? Int, last + 1)
    }

    // MARK: The view, health and metrics

    func testTheViewFollowsAnotherProcesssApply() async throws {
        let ws = try Quickstart.applied()
        let server = try await ws.server()
        let body = evaluation("frank@bluebird-studio.example", "streams:read", "account", live)
        let before = try await send(server, .post("/access/v1/evaluation", body))
        XCTAssertEqual(before.json["decision"] as? Bool, false)
        try ws.edit(Quickstart.northwind, "  - user: erin@northwind-media.example\n    roles: [reporting]\n",
                    "  - user: erin@northwind-media.example\n    roles: [reporting]\n  - user: frank@bluebird-studio.example\n    roles: [viewer]\n")
        XCTAssertEqual(try ws.apply().status, 0)
        // Unchanged until the store's position is checked; then swapped whole.
        XCTAssertEqual(server.state.view.decide(email: "frank@bluebird-studio.example", permission: "streams:read",
                                                scope: ScopeRef(.account, live)),
                       .deny(code: "no-grant", reason: "'frank@bluebird-studio.example' holds no grant of streams:read on account northwind-live"))
        let refreshed = await server.refresher.refresh()
        XCTAssertTrue(refreshed)
        XCTAssertEqual(server.state.view.status.serial, try ws.serial())
        let after = try await send(server, .post("/access/v1/evaluation", body))
        XCTAssertEqual(after.json["decision"] as? Bool, true)
        XCTAssertEqual(context(after)["via"] as? [String], ["role viewer on account northwind-live"])
    }

    /// A PostgreSQL store that goes away (its database refuses connections and the server's is
    /// cut): 503 for the checks (failing closed) and health; then 200 again once it is back,
    /// without a restart. PostgreSQL only (the server of `scripts/test`); SQLite has no server to lose.
    func testAPostgresStoreThatGoesAwayIs503AndComesBack() async throws {
        let url = try TestStore.postgresServer()
        let ws = try Workspace(backend: .postgres(url: url))
        try ws.apply()
        let server = try await ws.server()
        // A database cannot refuse connections to itself: ask from the server's `postgres` database.
        var components = try XCTUnwrap(URLComponents(string: url))
        let database = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        components.path = "/postgres"
        let admin = try XCTUnwrap(components.string)
        func allowConnections(_ allowed: Bool) throws {
            try psql(admin, "ALTER DATABASE \"\(database)\" ALLOW_CONNECTIONS \(allowed)")
        }
        try allowConnections(false)
        defer { try? allowConnections(true) }
        try psql(admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(database)'")
        let check = Call.post("/access/v1/evaluation", evaluation("dan@partner.example", "streams:read", "account", live))
        let refreshed = await server.refresher.refresh()
        XCTAssertFalse(refreshed)
        let gone = try await send(server, [check, .get("/healthz", token: nil), .get("/v1/access/dan@partner.example"),
                                           .get("/metrics")])
        XCTAssertEqual(gone.map(\.status), [503, 503, 503, 200])
        XCTAssertEqual(gone[0].errorCode, "store-unavailable")
        XCTAssertEqual(gone[0].headers["Retry-After"], "1")
        XCTAssertTrue(gone[3].body.contains("roster_store_up 0\n"), gone[3].body)
        try allowConnections(true)
        let back = try await send(server, [.get("/healthz", token: nil), check])
        XCTAssertEqual(back.map(\.status), [200, 200])
        XCTAssertEqual(back[1].json["decision"] as? Bool, true)
    }

    func testMetricsCountRequestsByRouteAndStatus() async throws {
        let ws = try Quickstart.applied()
        let server = try await ws.server()
        let body = evaluation("dan@partner.example", "streams:read", "account", live)
        let answers = try await send(server, [
            .post("/access/v1/evaluation", body), .post("/access/v1/evaluation", body), .post("/access/v1/evaluation", "{"),
            .get("/v1/access/dan@partner.example"), .get("/v1/access/erin@northwind-media.example"), .get("/metrics"),
        ])
        let text = try XCTUnwrap(answers.last).body
        XCTAssertEqual(answers.last?.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        XCTAssertTrue(text.contains(#"roster_http_requests_total{route="/access/v1/evaluation",method="POST",status="200"} 2"#), text)
        XCTAssertTrue(text.contains(#"roster_http_requests_total{route="/access/v1/evaluation",method="POST",status="400"} 1"#), text)
        // The route's pattern, never the email that was asked about.
        XCTAssertTrue(text.contains(#"roster_http_requests_total{route="/v1/access/{email}",method="GET",status="200"} 2"#), text)
        XCTAssertFalse(text.contains("dan@partner.example"))
        XCTAssertTrue(text.contains(#"roster_http_request_duration_seconds_count{route="/access/v1/evaluation"} 3"#), text)
        XCTAssertTrue(text.contains("roster_store_serial \(try ws.serial())\n"), text)
        XCTAssertTrue(text.contains("roster_store_up 1\n"), text)
    }

    func testARequestIdComesBack() async throws {
        let ws = try Quickstart.applied()
        let server = try await ws.server()
        var call = Call.post("/access/v1/evaluation", evaluation("dan@partner.example", "streams:read", "account", live))
        call.headers["X-Request-ID"] = "bfe9eb29-ab87"
        let answer = try await send(server, call)
        XCTAssertEqual(answer.headers["X-Request-ID"], "bfe9eb29-ab87")
    }

    /// Runs one statement with psql, failing the test when psql does.
    private func psql(_ url: String, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw WorkspaceError(description: "psql failed: \(text)") }
    }

    func testListenAddresses() {
        XCTAssertEqual(ListenAddress(parsing: "127.0.0.1:8080"), ListenAddress(host: "127.0.0.1", port: 8080))
        XCTAssertEqual(ListenAddress(parsing: "localhost:80"), ListenAddress(host: "localhost", port: 80))
        XCTAssertEqual(ListenAddress(parsing: "[::1]:8443"), ListenAddress(host: "::1", port: 8443))
        XCTAssertEqual(ListenAddress(parsing: "[::1]:8443")?.description, "[::1]:8443")
        XCTAssertEqual(ListenAddress(parsing: "127.0.0.1:0", allowAnyPort: true)?.port, 0)
        for bad in ["localhost", "127.0.0.1:", ":8080", "127.0.0.1:0", "127.0.0.1:65536", "::1:8080", "[::1]8080",
                    "host name:80", "127.0.0.1:80x", "[zz]:80", "127.0.0.1:+80"] {
            XCTAssertNil(ListenAddress(parsing: bad), bad)
        }
    }

    private func context(_ answer: Answer) -> [String: Any] {
        answer.json["context"] as? [String: Any] ?? [:]
    }
}

/// A clock a test moves.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var _now: Date
    init(_ now: Date) { _now = now }
    var now: Date {
        get { lock.withLock { _now } }
        set { lock.withLock { _now = newValue } }
    }
}
