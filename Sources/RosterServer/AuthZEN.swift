import Foundation
import RosterCore

/// The OpenID AuthZEN Authorization API 1.0 mapped onto roster's model: subject
/// `{"type": "user", "id": EMAIL}`, action `{"name": "MODULE:ACTION"}`, resource
/// `{"type": "customer" | "account", "id": ID}`. Unknown fields are ignored, as the spec says.
enum AuthZEN {
    struct Entity: Codable, Sendable {
        var type: String?
        var id: String?
    }

    struct Action: Codable, Sendable {
        var name: String?
    }

    /// One evaluation, or the defaults of a boxcar.
    struct EvaluationRequest: Codable, Sendable {
        var subject: Entity?
        var action: Action?
        var resource: Entity?
    }

    struct EvaluationsRequest: Codable, Sendable {
        struct Options: Codable, Sendable {
            var evaluations_semantic: String?
        }
        var subject: Entity?
        var action: Action?
        var resource: Entity?
        var evaluations: [EvaluationRequest]?
        var options: Options?
    }

    struct SearchRequest: Decodable, Sendable {
        struct Page: Decodable, Sendable {
            var token: String?
            var limit: Int?
        }
        var subject: Entity?
        var action: Action?
        var resource: Entity?
        var page: Page?
    }

    /// A decision as the spec shapes it; `via` on a permit, `reason` and `code` on a deny.
    struct Decision: Encodable, Sendable, Equatable {
        struct Context: Encodable, Sendable, Equatable {
            struct Failure: Encodable, Sendable, Equatable {
                var status: Int
                var code: String
                var message: String
            }
            var via: [String]?
            var code: String?
            var reason: String?
            var error: Failure?
        }
        var decision: Bool
        var context: Context

        init(_ decision: DirectoryView.Decision) {
            switch decision {
            case .permit(let via):
                self.decision = true
                context = Context(via: via)
            case .deny(let code, let reason):
                self.decision = false
                context = Context(code: code, reason: reason)
            }
        }

        /// A malformed evaluation inside a boxcar: closed, with the error in its context.
        init(_ error: APIError) {
            decision = false
            context = Context(error: Context.Failure(status: Int(error.status.code), code: error.code, message: error.message))
        }
    }

    /// A decision's JSON, byte for byte what `JSONEncoder` with sorted keys writes, without its
    /// generic machinery: the evaluation endpoint writes one per request.
    static func json(_ decision: Decision, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"context":{"#.utf8)
        var first = true
        func key(_ name: String) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: #"":"#.utf8)
        }
        let context = decision.context
        if let code = context.code {
            key("code")
            JSONText.string(code, into: &out)
        }
        if let error = context.error {
            key("error")
            out.append(contentsOf: #"{"code":"#.utf8)
            JSONText.string(error.code, into: &out)
            out.append(contentsOf: #","message":"#.utf8)
            JSONText.string(error.message, into: &out)
            out.append(contentsOf: #","status":\#(error.status)}"#.utf8)
        }
        if let reason = context.reason {
            key("reason")
            JSONText.string(reason, into: &out)
        }
        if let via = context.via {
            key("via")
            out.append(UInt8(ascii: "["))
            for (index, grant) in via.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONText.string(grant, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(contentsOf: (decision.decision ? #"},"decision":true}"# : #"},"decision":false}"#).utf8)
    }

    /// A boxcar's answer, `{"evaluations":[…]}`, as `json(_:into:)` writes each.
    static func json(_ decisions: [Decision]) -> [UInt8] {
        var out = Array(#"{"evaluations":["#.utf8)
        for (index, decision) in decisions.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            json(decision, into: &out)
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    /// What an evaluation asks, once checked.
    struct Question: Sendable {
        var email: String
        var permission: String
        var scope: ScopeRef
    }

    // MARK: Checking requests

    /// The subject's email: a user, with an address for its id.
    static func email(_ subject: Entity?) throws -> String {
        guard let subject else { throw APIError.malformed("missing-subject", "subject is missing") }
        guard subject.type == "user" else {
            throw APIError.malformed("bad-subject", "subject.type must be 'user'")
        }
        guard let id = subject.id, !id.isEmpty else { throw APIError.malformed("missing-subject", "subject.id is missing") }
        guard Syntax.isEmail(id) else { throw APIError.malformed("bad-email", "subject.id is not an email address") }
        return id
    }

    /// `module:action`, by shape; whether the catalogue has it is the decision's business.
    static func permission(_ action: Action?) throws -> String {
        guard let name = action?.name, !name.isEmpty else { throw APIError.malformed("missing-action", "action.name is missing") }
        let parts = name.utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && !$0.contains(UInt8(ascii: "*")) && !containsWhitespace($0) }) else {
            throw APIError.malformed("bad-permission", "action.name must be MODULE:ACTION, e.g. streams:delete")
        }
        return name
    }

    /// Whether `bytes` (UTF-8) hold white space: ASCII by byte, anything else (a no-break space,
    /// a line separator) by its characters, which is slower and rare.
    private static func containsWhitespace(_ bytes: Substring.UTF8View.SubSequence) -> Bool {
        if bytes.allSatisfy({ $0 < 0x80 }) {
            return bytes.contains { $0 == 0x20 || (0x09...0x0D).contains($0) }
        }
        return String(Substring(bytes)).contains(where: \.isWhitespace)
    }

    static func scopeKind(_ resource: Entity?) throws -> ScopeKind {
        guard let resource else { throw APIError.malformed("missing-scope", "resource is missing") }
        guard let type = resource.type, let kind = ScopeKind(rawValue: type) else {
            throw APIError.malformed("bad-scope", "resource.type must be 'customer' or 'account'")
        }
        return kind
    }

    static func scope(_ resource: Entity?) throws -> ScopeRef {
        let kind = try scopeKind(resource)
        guard let id = resource?.id, !id.isEmpty else { throw APIError.malformed("missing-scope", "resource.id is missing") }
        return ScopeRef(kind, id)
    }

    static func question(_ request: EvaluationRequest, defaults: EvaluationsRequest? = nil) throws -> Question {
        Question(email: try email(request.subject ?? defaults?.subject),
                 permission: try permission(request.action ?? defaults?.action),
                 scope: try scope(request.resource ?? defaults?.resource))
    }

    static func decide(_ question: Question, in view: DirectoryView) -> Decision {
        Decision(view.decide(email: question.email, permission: question.permission, scope: question.scope))
    }

    // MARK: Boxcars

    enum Semantic: String {
        case executeAll = "execute_all"
        case denyOnFirstDeny = "deny_on_first_deny"
        case permitOnFirstPermit = "permit_on_first_permit"
    }

    /// Evaluates the boxcar in order under its semantic: every one, or up to and including the
    /// first deny (or malformed one), or the first permit. Without `evaluations` (or with an
    /// empty one) it is a single evaluation, answered as one.
    static func evaluations(_ request: EvaluationsRequest, in view: DirectoryView) throws -> EvaluationsAnswer {
        let semantic: Semantic
        if let name = request.options?.evaluations_semantic {
            guard let known = Semantic(rawValue: name) else {
                throw APIError.malformed("bad-option", "options.evaluations_semantic must be execute_all, deny_on_first_deny or permit_on_first_permit")
            }
            semantic = known
        } else {
            semantic = .executeAll
        }
        guard let items = request.evaluations, !items.isEmpty else {
            let single = EvaluationRequest(subject: request.subject, action: request.action, resource: request.resource)
            return .single(decide(try question(single), in: view))
        }
        guard items.count <= 1000 else {
            throw APIError.malformed("too-many-evaluations", "at most 1000 evaluations in one request")
        }
        var decisions: [Decision] = []
        for item in items {
            let decision: Decision
            do {
                decision = decide(try question(item, defaults: request), in: view)
            } catch let error as APIError {
                decision = Decision(error)
            }
            decisions.append(decision)
            if semantic == .denyOnFirstDeny && !decision.decision { break }
            if semantic == .permitOnFirstPermit && decision.decision { break }
        }
        return .boxcar(decisions)
    }

    enum EvaluationsAnswer: Sendable {
        case single(Decision)
        case boxcar([Decision])
    }

    struct Boxcar: Encodable {
        var evaluations: [Decision]
    }

    // MARK: Search

    struct SearchResponse<Result: Encodable>: Encodable {
        struct Page: Encodable {
            var next_token: String
            var count: Int
            var total: Int
        }
        var page: Page
        var results: [Result]
    }

    struct TypedEntity: Encodable, Equatable {
        var type: String
        var id: String
    }

    struct NamedAction: Encodable, Equatable {
        var name: String
    }

    static let defaultLimit = 100
    static let maxLimit = 1000

    /// One page of `all`: `page.token` (a previous `next_token`) says where it starts; the token
    /// carries a fingerprint of the query, so a changed query mid-pagination is refused.
    static func page<Result>(_ all: [Result], request: SearchRequest, query: String) throws -> SearchResponse<Result> {
        let limit = request.page?.limit ?? defaultLimit
        guard limit >= 1 && limit <= maxLimit else {
            throw APIError.malformed("bad-page", "page.limit must be from 1 to \(maxLimit)")
        }
        let fingerprint = Self.fingerprint("\(query)|\(limit)")
        var offset = 0
        if let token = request.page?.token, !token.isEmpty {
            guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8),
                  case let parts = text.split(separator: ";"), parts.count == 2, let start = Int(parts[0]), start >= 0,
                  parts[1] == fingerprint else {
                throw APIError.malformed("bad-page-token", "page.token is not a next_token of this same query")
            }
            offset = min(start, all.count)
        }
        let end = min(offset + limit, all.count)
        let next = end < all.count ? Data("\(end);\(fingerprint)".utf8).base64EncodedString() : ""
        return SearchResponse(page: .init(next_token: next, count: end - offset, total: all.count),
                              results: Array(all[offset..<end]))
    }

    /// FNV-1a of the query, in hex: enough to tell one query from another, not a secret.
    private static func fingerprint(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    /// Who holds the action on the resource (roster's who-can).
    static func searchSubjects(_ request: SearchRequest, in view: DirectoryView) throws -> SearchResponse<TypedEntity> {
        guard request.subject?.type == "user" else { throw APIError.malformed("bad-subject", "subject.type must be 'user'") }
        let permission = try permission(request.action)
        let scope = try scope(request.resource)
        let found = view.holders(of: permission, on: scope).map { TypedEntity(type: "user", id: $0.email) }
        return try page(found, request: request, query: "subject|\(permission)|\(scope)")
    }

    /// Where the user holds the action, among scopes of the resource's type.
    static func searchResources(_ request: SearchRequest, in view: DirectoryView) throws -> SearchResponse<TypedEntity> {
        let email = try email(request.subject)
        let permission = try permission(request.action)
        let kind = try scopeKind(request.resource)
        let found = view.scopes(of: email, holding: permission, kind: kind).map { TypedEntity(type: kind.rawValue, id: $0) }
        return try page(found, request: request, query: "resource|\(Syntax.emailKey(email))|\(permission)|\(kind.rawValue)")
    }

    /// What the user may do on the resource.
    static func searchActions(_ request: SearchRequest, in view: DirectoryView) throws -> SearchResponse<NamedAction> {
        let email = try email(request.subject)
        let scope = try scope(request.resource)
        let found = view.permissions(of: email, on: scope).map { NamedAction(name: $0) }
        return try page(found, request: request, query: "action|\(Syntax.emailKey(email))|\(scope)")
    }

    // MARK: Metadata

    struct Metadata: Encodable {
        var policy_decision_point: String
        var access_evaluation_endpoint: String
        var access_evaluations_endpoint: String
        var search_subject_endpoint: String
        var search_resource_endpoint: String
        var search_action_endpoint: String

        init(base: String) {
            policy_decision_point = base
            access_evaluation_endpoint = base + "/access/v1/evaluation"
            access_evaluations_endpoint = base + "/access/v1/evaluations"
            search_subject_endpoint = base + "/access/v1/search/subject"
            search_resource_endpoint = base + "/access/v1/search/resource"
            search_action_endpoint = base + "/access/v1/search/action"
        }
    }
}
