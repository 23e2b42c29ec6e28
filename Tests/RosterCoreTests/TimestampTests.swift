import Foundation
@testable import RosterCore
import XCTest

/// The hand-written timestamps are the formatter's, to the second, and read back.
final class TimestampTests: XCTestCase {
    let formatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        return formatter
    }()

    func testSameTextAsTheFormatter() {
        var random = SystemRandomNumberGenerator()
        // Leap days, year ends, 1970 and before it, fractions of a second, the Julian calendar
        // before 1583 and the years past 9999 (both the formatter's), and random instants.
        var instants: [TimeInterval] = [0, -1, 0.999, 951_782_400, 951_868_799.5, 1_798_761_599, 4_107_542_400,
                                        -62_135_596_800, -12_219_292_800, -12_212_553_600, 253_402_300_799,
                                        253_402_300_800, 1_795_435_200.25]
        for _ in 0..<5000 { instants.append(TimeInterval(Double.random(in: -1.3e10...2.6e11, using: &random)).rounded(.down)) }
        for instant in instants {
            let date = Date(timeIntervalSince1970: instant)
            let text = Timestamp.string(date)
            XCTAssertEqual(text, formatter.string(from: date), "at \(instant)")
            XCTAssertEqual(Timestamp.date(text), formatter.date(from: text), text)
        }
    }

    /// Mail's dates too: every weekday and month, before and after 1970, and the formatter's years.
    func testSameMailDateAsTheFormatter() {
        let mail = DateFormatter()
        mail.locale = Locale(identifier: "en_US_POSIX")
        mail.timeZone = TimeZone(secondsFromGMT: 0)
        mail.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        var random = SystemRandomNumberGenerator()
        var instants: [TimeInterval] = [0, -1, 86_399.9, 951_782_400, -12_219_292_800, 253_402_300_800, 1_795_435_200]
        for _ in 0..<5000 { instants.append(TimeInterval(Double.random(in: -1.3e10...2.6e11, using: &random)).rounded(.down)) }
        for instant in instants {
            let date = Date(timeIntervalSince1970: instant)
            XCTAssertEqual(InvitationMessage.rfc5322Date(date), mail.string(from: date), "at \(instant)")
        }
        XCTAssertEqual(InvitationMessage.rfc5322Date(Date(timeIntervalSince1970: 1_795_435_200)), "Mon, 23 Nov 2026 12:00:00 +0000")
    }

    func testRefusesWhatIsNotATimestamp() {
        for text in ["", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01 00:00:00Z",
                     "later"] {
            XCTAssertNil(Timestamp.date(text), text)
        }
    }
}
