import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import RosterCore

/// Standard Webhooks 1.0 signatures (SPEC §6.3): `v1,` + base64 of HMAC-SHA256 over
/// `{id}.{timestamp}.{body}`, keyed with the base64-decoded part of a `whsec_` secret.
public struct WebhookSigner: Sendable {
    private let key: SymmetricKey

    /// Reads the secret from `variable` in `variables`; the secret itself never appears in an error.
    public init(variable: String, variables: [String: String]) throws(DeliveryError) {
        guard let secret = variables[variable], !secret.isEmpty else { throw .missingSecret(variable: variable) }
        try self.init(secret: secret, variable: variable)
    }

    /// `variable` names where the secret came from, for errors.
    public init(secret: String, variable: String = "the secret") throws(DeliveryError) {
        guard secret.hasPrefix("whsec_") else { throw .malformedSecret(variable: variable, problem: "does not start with 'whsec_'") }
        guard let bytes = Data(base64Encoded: String(secret.dropFirst("whsec_".count))) else {
            throw .malformedSecret(variable: variable, problem: "is not valid base64 after 'whsec_'")
        }
        guard (24...64).contains(bytes.count) else {
            throw .malformedSecret(variable: variable, problem: "decodes to \(bytes.count) bytes")
        }
        key = SymmetricKey(data: bytes)
    }

    /// The `webhook-signature` header's value for one attempt.
    public func signature(id: String, timestamp: Int, body: [UInt8]) -> String {
        var authenticator = HMAC<SHA256>(key: key)
        authenticator.update(data: Array("\(id).\(timestamp).".utf8))
        authenticator.update(data: body)
        return "v1," + Data(authenticator.finalize()).base64EncodedString()
    }
}

/// Posts signed JSON to one receiver over one reused HTTP client (its connections are kept
/// for the whole run); never follows a redirect. Used for invitations and for event endpoints.
public final class WebhookSender: Sendable {
    public let url: String
    private let signer: WebhookSigner
    private let timeout: Int
    private let now: @Sendable () -> Date
    private let client: HTTPClient

    /// How many requests a run keeps in flight, each on a connection of its own.
    public static let concurrency = 8

    public init(url: String, signer: WebhookSigner, timeout: Int, now: @escaping @Sendable () -> Date) {
        self.url = url
        self.signer = signer
        self.timeout = timeout
        self.now = now
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(Int64(min(timeout, 10))), read: .seconds(Int64(timeout))),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: Self.concurrency))
        configuration.decompression = .disabled
        // A refused connection is an attempt's failure for the schedule to retry (SPEC §6.2):
        // the client's own retries would hold each batch for the whole connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// One signed POST of `body` with `id` as its `webhook-id`.
    public func send(id: String, body: [UInt8]) async -> DeliveryOutcome {
        let sentAt = now()
        let timestamp = Int(sentAt.timeIntervalSince1970)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "roster/\(rosterVersion)")
        request.headers.add(name: "webhook-id", value: id)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(name: "webhook-signature", value: signer.signature(id: id, timestamp: timestamp, body: body))
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .seconds(Int64(timeout)))
            // The answer's body is read (a bounded amount) so the connection can be reused.
            _ = try? await response.body.collect(upTo: 64 * 1024)
            let status = Int(response.status.code)
            if (200..<300).contains(status) { return .delivered }
            let wait = response.headers.first(name: "retry-after").flatMap { RetryAfter.seconds($0, now: sentAt) }
            let reason: String
            switch status {
            case 300..<400:
                reason = "HTTP \(status) redirect to '\(response.headers.first(name: "location") ?? "?")' (redirects are not followed; "
                    + "point the url at the final address)"
            default:
                reason = "HTTP \(status) \(response.status.reasonPhrase)"
            }
            return .temporaryFailure(reason: reason, retryAfter: status == 429 || status == 503 ? wait : nil)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return .temporaryFailure(reason: "no answer within \(timeout) s", retryAfter: nil)
        } catch {
            return .temporaryFailure(reason: Self.describe(error), retryAfter: nil)
        }
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    private static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if text.contains("connectTimeout") { return "could not connect in time" }
        return "request failed: \(text)"
    }
}

/// The `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
public enum RetryAfter {
    /// Seconds from `now`; nil when the header is neither form or lies in the past.
    public static func seconds(_ value: String, now: Date) -> TimeInterval? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed), seconds >= 0 { return TimeInterval(seconds) }
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(secondsFromGMT: 0)
            formatter.dateFormat = format
            if let date = formatter.date(from: trimmed) {
                let wait = date.timeIntervalSince(now)
                return wait > 0 ? wait : nil
            }
        }
        return nil
    }
}

/// The `webhook` delivery kind: each invitation as a signed `invitation.issued` POST (SPEC §6.1).
public struct WebhookDelivery: DeliveryChannel {
    public let sender: WebhookSender

    public var concurrency: Int { WebhookSender.concurrency }

    public func deliver(_ message: OutboundInvitation) async -> DeliveryOutcome {
        do {
            return await sender.send(id: message.messageID, body: try InvitationWebhookBody.bytes(message))
        } catch {
            return .permanentFailure(reason: "cannot write the webhook body: \(error)")
        }
    }

    public func shutdown() async {
        await sender.shutdown()
    }
}

/// `{"type": "invitation.issued", "timestamp", "data": {…}}`, keys sorted, one line; the same
/// bytes on every attempt. Every key of SPEC §6.1 is always present (`null` when unknown, as a
/// user without a name), so a receiver can rely on the shape: hence the explicit encoders.
public enum InvitationWebhookBody {
    struct Body: Encodable {
        struct Party: Encodable {
            var email: String
            var name: String?
            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(email, forKey: .email)
                try c.encode(name, forKey: .name)
            }
            enum CodingKeys: String, CodingKey { case email, name }
        }
        struct Scope: Encodable {
            var type: String
            var id: String
            var name: String?
            var roles: [String]
            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(type, forKey: .type)
                try c.encode(id, forKey: .id)
                try c.encode(name, forKey: .name)
                try c.encode(roles, forKey: .roles)
            }
            enum CodingKeys: String, CodingKey { case type, id, name, roles }
        }
        struct Payload: Encodable {
            var invitationId: String
            var email: String
            var name: String?
            var inviter: Party?
            var scopes: [Scope]
            var expires: String
            var acceptUrl: String?
            var token: String
            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(invitationId, forKey: .invitationId)
                try c.encode(email, forKey: .email)
                try c.encode(name, forKey: .name)
                try c.encode(inviter, forKey: .inviter)
                try c.encode(scopes, forKey: .scopes)
                try c.encode(expires, forKey: .expires)
                try c.encode(acceptUrl, forKey: .acceptUrl)
                try c.encode(token, forKey: .token)
            }
            enum CodingKeys: String, CodingKey { case invitationId, email, name, inviter, scopes, expires, acceptUrl, token }
        }
        var type = "invitation.issued"
        var timestamp: String
        var data: Payload
    }

    /// The body for `message`. It carries the clear token (in `token`, and in `acceptUrl` when
    /// one is configured): the platform's backend redeems it.
    public static func bytes(_ message: OutboundInvitation) throws -> [UInt8] {
        let body = Body(timestamp: Timestamp.string(message.issuedAt), data: Body.Payload(
            invitationId: message.invitationID, email: message.recipient.email, name: message.recipient.name,
            inviter: message.inviter.map { Body.Party(email: $0.email, name: $0.name) },
            scopes: message.scopes.map { Body.Scope(type: $0.type.rawValue, id: $0.id, name: $0.name, roles: $0.roles) },
            expires: Timestamp.string(message.expiresAt),
            acceptUrl: message.acceptURL, token: message.token))
        return Array(try CanonicalJSON.compactData(body))
    }
}
