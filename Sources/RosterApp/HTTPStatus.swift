import RosterStore

/// How a server answers an error: its HTTP status and a stable code for `{"error": {"code"}}`.
public struct HTTPFailure: Sendable, Hashable {
    public var status: Int
    public var code: String

    public init(status: Int, code: String) {
        self.status = status
        self.code = code
    }
}

extension RosterError {
    /// The one mapping of roster's errors to HTTP (SPEC §12), beside `exitStatus`: the caller's
    /// mistakes are 4xx; anything of the store's is 503 (it may come back), never another 5xx.
    public var httpFailure: HTTPFailure {
        switch self {
        case .unknownPermission: return HTTPFailure(status: 400, code: "unknown-permission")
        case .wildcardPermission: return HTTPFailure(status: 400, code: "bad-permission")
        case .unknownScope: return HTTPFailure(status: 404, code: "unknown-scope")
        case .unknownUser, .notStored: return HTTPFailure(status: 404, code: "unknown-user")
        case .store(let error):
            switch error {
            case .unknownToken: return HTTPFailure(status: 404, code: "unknown-token")
            case .tokenUsed: return HTTPFailure(status: 409, code: "token-used")
            case .tokenRevoked: return HTTPFailure(status: 410, code: "token-revoked")
            case .tokenExpired: return HTTPFailure(status: 410, code: "token-expired")
            default: return HTTPFailure(status: 503, code: "store-unavailable")
            }
        default: return HTTPFailure(status: 503, code: "unavailable")
        }
    }
}
