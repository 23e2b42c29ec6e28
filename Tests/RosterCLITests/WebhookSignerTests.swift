import Foundation
import RosterDelivery
import XCTest

/// Standard Webhooks 1.0 signatures (SPEC §6.3) and the Retry-After header, without a network.
final class WebhookSignerTests: XCTestCase {
    /// The reference library's test vector.
    func testTheStandardWebhooksReferenceVector() throws {
        let signer = try WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        XCTAssertEqual(signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330,
                                        body: Array(#"{"test": 2432232314}"#.utf8)),
                       "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        // Any change to the id, the time or one byte of the body changes it.
        XCTAssertNotEqual(signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJel", timestamp: 1_614_265_330,
                                           body: Array(#"{"test": 2432232314}"#.utf8)),
                          "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        XCTAssertNotEqual(signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_331,
                                           body: Array(#"{"test": 2432232314}"#.utf8)),
                          "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        XCTAssertNotEqual(signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330,
                                           body: Array(#"{"test":2432232314}"#.utf8)),
                          "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    func testTheSecretIsReadFromTheNamedVariable() throws {
        let signer = try WebhookSigner(variable: "HOOK", variables: ["HOOK": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
        XCTAssertEqual(signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330,
                                        body: Array(#"{"test": 2432232314}"#.utf8)),
                       "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        for variables in [[:], ["HOOK": ""], ["OTHER": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]] {
            XCTAssertThrowsError(try WebhookSigner(variable: "HOOK", variables: variables)) { error in
                XCTAssertEqual(error as? DeliveryError, .missingSecret(variable: "HOOK"))
                XCTAssertTrue("\(error)".hasPrefix("the webhook secret variable HOOK is not set"), "\(error)")
                XCTAssertTrue("\(error)".contains(#"echo "whsec_$(openssl rand -base64 32)""#), "\(error)")
            }
        }
    }

    func testMalformedShortAndLongSecretsAreRefusedWithoutShowingThem() {
        let key24 = Data(repeating: 1, count: 24).base64EncodedString()
        let key64 = Data(repeating: 2, count: 64).base64EncodedString()
        XCTAssertNoThrow(try WebhookSigner(secret: "whsec_" + key24))
        XCTAssertNoThrow(try WebhookSigner(secret: "whsec_" + key64))
        let cases: [(String, String)] = [
            ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "does not start with 'whsec_'"),
            ("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "does not start with 'whsec_'"),
            ("whsec_", "decodes to 0 bytes"),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "is not valid base64 after 'whsec_'"),
            ("whsec_Mf!Q9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "is not valid base64 after 'whsec_'"),
            ("whsec_" + Data(repeating: 1, count: 23).base64EncodedString(), "decodes to 23 bytes"),
            ("whsec_" + Data(repeating: 1, count: 65).base64EncodedString(), "decodes to 65 bytes"),
        ]
        for (secret, problem) in cases {
            XCTAssertThrowsError(try WebhookSigner(variable: "HOOK", variables: ["HOOK": secret]), secret) { error in
                XCTAssertEqual(error as? DeliveryError, .malformedSecret(variable: "HOOK", problem: problem), secret)
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix("the webhook secret in HOOK \(problem);"), text)
                if secret.count > 6 { XCTAssertFalse(text.contains(secret.dropFirst(6)), "the secret is never shown: \(text)") }
            }
        }
    }

    // MARK: Retry-After

    let now = Date(timeIntervalSince1970: 1_795_435_200)  // Mon, 23 Nov 2026 12:00:00 GMT

    func testRetryAfterInSeconds() {
        XCTAssertEqual(RetryAfter.seconds("120", now: now), 120)
        XCTAssertEqual(RetryAfter.seconds(" 0 ", now: now), 0)
        XCTAssertEqual(RetryAfter.seconds("86400", now: now), 86_400)
        XCTAssertNil(RetryAfter.seconds("-5", now: now))
        XCTAssertNil(RetryAfter.seconds("1.5", now: now))
        XCTAssertNil(RetryAfter.seconds("soon", now: now))
        XCTAssertNil(RetryAfter.seconds("", now: now))
    }

    func testRetryAfterAsAnHTTPDate() {
        // The preferred form (IMF-fixdate) and the two obsolete ones RFC 9110 still accepts.
        XCTAssertEqual(RetryAfter.seconds("Mon, 23 Nov 2026 14:00:00 GMT", now: now), 7200)
        XCTAssertEqual(RetryAfter.seconds("Monday, 23-Nov-26 12:05:00 GMT", now: now), 300)
        XCTAssertEqual(RetryAfter.seconds("Mon Nov 23 12:00:30 2026", now: now), 30)
        // In the past or now: no wish to wait.
        XCTAssertNil(RetryAfter.seconds("Mon, 23 Nov 2026 11:00:00 GMT", now: now))
        XCTAssertNil(RetryAfter.seconds("Mon, 23 Nov 2026 12:00:00 GMT", now: now))
        XCTAssertNil(RetryAfter.seconds("Mon, 32 Nov 2026 12:00:00 GMT", now: now))
    }
}
