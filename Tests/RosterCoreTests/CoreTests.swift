import Foundation
import RosterCore
import XCTest

/// Unit tests of the pure parts of RosterCore: suggestions, days, identifier syntax,
/// thresholds, diagnostic order and a few validation rules on hand-built directories.
final class CoreTests: XCTestCase {

    // MARK: Encodings

    /// RFC 4648's test vectors (§10), in the URL alphabet without padding, and the two letters
    /// that differ from standard base64.
    func testBase64URLEncodesRFC4648Vectors() {
        let vectors = ["": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy"]
        for (text, encoded) in vectors { XCTAssertEqual(base64URL(Array(text.utf8)), encoded, text) }
        XCTAssertEqual(base64URL([0xFB, 0xFF, 0xBF]), "-_-_")
        XCTAssertEqual(base64URL(Array(repeating: 0xFF, count: 32)).count, 43, "a token: 32 bytes, 43 letters")
    }

    func testHexIsTwoLowerCaseDigitsPerByteForEveryKindOfSequence() {
        let bytes: [UInt8] = [0x00, 0x09, 0x0A, 0x7F, 0x80, 0xAB, 0xFF]
        XCTAssertEqual(hex(bytes), "00090a7f80abff")
        XCTAssertEqual(hex(bytes.lazy.map { $0 }), "00090a7f80abff", "a sequence without contiguous storage")
        XCTAssertEqual(bytes.withUnsafeBytes { hex($0) }, "00090a7f80abff")
        XCTAssertEqual(hex([UInt8]()), "")
    }

    // MARK: Suggestion.closest

    func testSuggestionFindsTypos() {
        let fields = ["kind", "id", "name", "owner", "status", "limits", "members"]
        XCTAssertEqual(Suggestion.closest(to: "staus", in: fields), "status")      // deletion
        XCTAssertEqual(Suggestion.closest(to: "statsu", in: fields), "status")     // transposition
        XCTAssertEqual(Suggestion.closest(to: "memebrs", in: fields), "members")   // transposition
        XCTAssertEqual(Suggestion.closest(to: "ownr", in: fields), "owner")        // deletion
        XCTAssertEqual(Suggestion.closest(to: "limitz", in: fields), "limits")     // substitution
        XCTAssertEqual(Suggestion.closest(to: "Owner", in: fields), "owner")       // case is ignored
        XCTAssertEqual(Suggestion.closest(to: "ix", in: fields), "id")             // short words allow one edit
    }

    func testSuggestionIgnoresFarWords() {
        let fields = ["kind", "id", "name", "owner", "status", "limits", "members"]
        XCTAssertNil(Suggestion.closest(to: "banana", in: fields))
        XCTAssertNil(Suggestion.closest(to: "permissions", in: fields))
        XCTAssertNil(Suggestion.closest(to: "xyz", in: fields))
        // "sta" is three edits from "status": more than a third of a 3-letter word.
        XCTAssertNil(Suggestion.closest(to: "sta", in: fields))
        // Length alone rules a candidate out.
        XCTAssertNil(Suggestion.closest(to: "a", in: ["abcd"]))
        XCTAssertNil(Suggestion.closest(to: "anything", in: [String]()))
        // Exactly at the bound (2 edits for a 6-letter word) is still suggested; one more is not.
        XCTAssertEqual(Suggestion.closest(to: "stxtxs", in: ["status"]), "status")
        XCTAssertNil(Suggestion.closest(to: "sxxtxs", in: ["status"]))
    }

    func testSuggestionTiesAreStable() {
        // "bat", "cot" and "act" are all one edit from "cat"; the first in sort order wins,
        // whatever order the candidates come in (dictionary keys come in any order).
        let candidates = ["bat", "cot", "act"]
        for permutation in [candidates, candidates.reversed(), ["cot", "act", "bat"], ["act", "bat", "cot"]] {
            XCTAssertEqual(Suggestion.closest(to: "cat", in: permutation), "act", "\(permutation)")
        }
        // A closer candidate beats an earlier-sorting one.
        XCTAssertEqual(Suggestion.closest(to: "viewerr", in: ["admin", "viewe", "viewer"]), "viewer")
        XCTAssertEqual(Suggestion.closest(to: "read", in: ["reads", "read"]), "read")
    }

    // MARK: Day(parsing:)

    func testDayParsesValidDates() throws {
        let day = try XCTUnwrap(Day(parsing: "2027-01-31"))
        XCTAssertEqual(day, Day(year: 2027, month: 1, day: 31))
        XCTAssertEqual(day.description, "2027-01-31")
        XCTAssertEqual(Day(parsing: "1970-01-01"), Day(year: 1970, month: 1, day: 1))
        XCTAssertEqual(Day(parsing: "2027-12-31"), Day(year: 2027, month: 12, day: 31))
        XCTAssertEqual(Day(parsing: "2027-04-30"), Day(year: 2027, month: 4, day: 30))
        XCTAssertEqual(Day(year: 27, month: 3, day: 5).description, "0027-03-05")
    }

    func testDayFebruary29FollowsLeapYears() {
        XCTAssertEqual(Day(parsing: "2024-02-29"), Day(year: 2024, month: 2, day: 29))
        XCTAssertEqual(Day(parsing: "2000-02-29"), Day(year: 2000, month: 2, day: 29))  // divisible by 400
        XCTAssertNil(Day(parsing: "2027-02-29"))
        XCTAssertNil(Day(parsing: "1900-02-29"))                                       // divisible by 100 only
        XCTAssertNil(Day(parsing: "2100-02-29"))
        XCTAssertNil(Day(parsing: "2024-02-30"))
        XCTAssertEqual(Day(parsing: "2027-02-28"), Day(year: 2027, month: 2, day: 28))
    }

    func testDayRejectsMalformedText() {
        let malformed = [
            "2027-1-5", "2027-01-5", "2027-1-05", "27-01-05", "02027-01-05",
            "2027-13-01", "2027-00-10", "2027-01-00", "2027-01-32", "2027-04-31", "2027-06-31",
            "abc", "", "-", "--", "2027", "2027-01", "2027-01-05-01", "2027/01/05", "2027-01-05 ",
            " 2027-01-05", "2027-01-05T00:00:00Z", "2027-0a-05", "20x7-01-05",
            // Signs are not digits: Int("+1") would accept them.
            "2027-+1-05", "2027-01-+5", "+027-01-05", "2027--1-05",
        ]
        for text in malformed {
            XCTAssertNil(Day(parsing: text), "'\(text)' must not parse as a day")
        }
    }

    func testDaysCompareChronologically() {
        let days = ["2027-01-31", "2026-12-31", "2027-02-01", "2027-01-30"].compactMap(Day.init(parsing:))
        XCTAssertEqual(days.sorted().map(\.description), ["2026-12-31", "2027-01-30", "2027-01-31", "2027-02-01"])
    }

    // MARK: Day(containing:)

    func testDayContainingKnownInstants() {
        // Expected values computed with Python's datetime.fromtimestamp(s, timezone.utc).
        let cases: [(seconds: Double, expected: String)] = [
            (0, "1970-01-01"),
            (86_399, "1970-01-01"),
            (86_400, "1970-01-02"),
            (-1, "1969-12-31"),
            (-0.5, "1969-12-31"),
            (-86_401, "1969-12-30"),
            (951_782_400, "2000-02-29"),
            (1_000_000_000, "2001-09-09"),
            (1_700_000_000, "2023-11-14"),
            (1_709_164_800, "2024-02-29"),
            (1_795_000_000, "2026-11-18"),
            (4_102_444_800, "2100-01-01"),
            (-2_208_988_800, "1900-01-01"),
            (253_402_300_799, "9999-12-31"),
        ]
        for (seconds, expected) in cases {
            let day = Day(containing: Date(timeIntervalSince1970: seconds))
            XCTAssertEqual(day.description, expected, "seconds \(seconds)")
        }
    }

    // MARK: Syntax

    func testSlugs() {
        XCTAssertTrue(Syntax.isSlug("a"))
        XCTAssertTrue(Syntax.isSlug("0"))
        XCTAssertTrue(Syntax.isSlug("acme-live"))
        XCTAssertTrue(Syntax.isSlug("017"))
        XCTAssertTrue(Syntax.isSlug("a-"))                                  // the pattern allows a trailing '-'
        XCTAssertTrue(Syntax.isSlug("a" + String(repeating: "b", count: 62)))  // 63 characters
        XCTAssertFalse(Syntax.isSlug("a" + String(repeating: "b", count: 63))) // 64 characters
        XCTAssertFalse(Syntax.isSlug(""))
        XCTAssertFalse(Syntax.isSlug("-acme"))
        XCTAssertFalse(Syntax.isSlug("Acme"))
        XCTAssertFalse(Syntax.isSlug("acMe"))
        XCTAssertFalse(Syntax.isSlug("acme_live"))
        XCTAssertFalse(Syntax.isSlug("acme live"))
        XCTAssertFalse(Syntax.isSlug("acme.live"))
        XCTAssertFalse(Syntax.isSlug("café"))
        XCTAssertFalse(Syntax.isSlug("acme\n"))
    }

    func testEmails() {
        XCTAssertTrue(Syntax.isEmail("a@b.co"))
        XCTAssertTrue(Syntax.isEmail("alice@acme.example"))
        XCTAssertTrue(Syntax.isEmail("Alice.Smith+tag@Sub.ACME.example"))   // upper case is fine
        XCTAssertTrue(Syntax.isEmail("a@x-y.example"))
        XCTAssertTrue(Syntax.isEmail(String(repeating: "l", count: 64) + "@b.co"))
        XCTAssertFalse(Syntax.isEmail(String(repeating: "l", count: 65) + "@b.co"))
        XCTAssertFalse(Syntax.isEmail("a@localhost"))       // no dot in the domain
        XCTAssertFalse(Syntax.isEmail("a@@b.co"))
        XCTAssertFalse(Syntax.isEmail("a@b@c.co"))          // two @
        XCTAssertFalse(Syntax.isEmail("@b.co"))
        XCTAssertFalse(Syntax.isEmail("a@"))
        XCTAssertFalse(Syntax.isEmail("ab.co"))
        XCTAssertFalse(Syntax.isEmail(""))
        XCTAssertFalse(Syntax.isEmail("a@.co"))
        XCTAssertFalse(Syntax.isEmail("a@b..co"))
        XCTAssertFalse(Syntax.isEmail("a@b.co."))
        XCTAssertFalse(Syntax.isEmail("a@-b.co"))
        XCTAssertFalse(Syntax.isEmail("a@b-.co"))
        XCTAssertFalse(Syntax.isEmail("a@b_c.co"))
        XCTAssertFalse(Syntax.isEmail(".a@b.co"))
        XCTAssertFalse(Syntax.isEmail("a.@b.co"))
        XCTAssertFalse(Syntax.isEmail("a b@c.co"))
        XCTAssertFalse(Syntax.isEmail("\"a\"@c.co"))
        XCTAssertFalse(Syntax.isEmail("a<b>@c.co"))
        XCTAssertFalse(Syntax.isEmail("a\u{7}@c.co"))
        XCTAssertFalse(Syntax.isEmail("a@" + String(repeating: "d", count: 64) + ".co"))  // label over 63
        XCTAssertFalse(Syntax.isEmail("a@" + String(repeating: "d.", count: 130) + "co"))  // over 254 in all
    }

    // MARK: Threshold

    func testThresholdLimits() {
        XCTAssertEqual(Threshold.count(5).limit(of: 100), 5)
        XCTAssertEqual(Threshold.count(5).limit(of: 0), 5)
        XCTAssertEqual(Threshold.count(0).limit(of: 10), 0)
        XCTAssertEqual(Threshold.percent(10).limit(of: 100), 10)
        XCTAssertEqual(Threshold.percent(10).limit(of: 95), 9)      // rounded down
        XCTAssertEqual(Threshold.percent(10).limit(of: 9), 0)
        XCTAssertEqual(Threshold.percent(10).limit(of: 0), 0)
        XCTAssertEqual(Threshold.percent(25).limit(of: 3), 0)
        XCTAssertEqual(Threshold.percent(25).limit(of: 4), 1)
        XCTAssertEqual(Threshold.percent(12.5).limit(of: 8), 1)
        XCTAssertEqual(Threshold.percent(100).limit(of: 7), 7)
        XCTAssertEqual(Threshold.percent(0).limit(of: 1_000), 0)
        XCTAssertEqual(Threshold.percent(10).description, "10%")
        XCTAssertEqual(Threshold.percent(12.5).description, "12.5%")
        XCTAssertEqual(Threshold.count(3).description, "3")
    }

    // MARK: Diagnostic order

    func testDiagnosticsSortByFileLineColumn() {
        func diagnostic(_ file: String, _ line: Int, _ column: Int, _ problem: Problem = .reservedRole) -> Diagnostic {
            Diagnostic(problem, at: SourceLocation(file: file, line: line, column: column))
        }
        let expected = [
            diagnostic("B.yaml", 9, 9),                     // byte order: upper case first
            diagnostic("a.yaml", 0, 0),                     // the whole file comes first
            diagnostic("a.yaml", 2, 3),
            diagnostic("a.yaml", 2, 12),                    // columns compare as numbers
            diagnostic("a.yaml", 10, 1),                    // lines compare as numbers
            diagnostic("a/b.yaml", 1, 1),
            diagnostic("b.yaml", 1, 1, .duplicateEmail(email: "x@y.co")),   // same place: error first,
            diagnostic("b.yaml", 1, 1, .invalidSlug(field: "id", value: "X")),  // then by code
            diagnostic("b.yaml", 1, 1, .unusedRole(id: "viewer")),        // warnings last
        ]
        var generator = SeededRandomSource(seed: 7)
        for _ in 0..<20 {
            XCTAssertEqual(expected.shuffled(using: &generator).sorted(), expected)
        }
        XCTAssertEqual(expected.map(\.location.description)[1...3], ["a.yaml", "a.yaml:2:3", "a.yaml:2:12"])
    }

    // MARK: Validator

    func testDuplicateRoleIDPointsAtSecondWithNoteAtFirst() {
        var directory = Directory()
        directory.roles = [
            role("admin", file: "directory/roles.yaml", line: 2),
            role("viewer", file: "directory/roles.yaml", line: 9),
            role("admin", file: "directory/more/roles.yaml", line: 4),
        ]
        let diagnostics = Validator(config: config(), directory: directory, today: day("2027-01-01")).run()
        let duplicates = diagnostics.filter { $0.code == .duplicateID }
        XCTAssertEqual(duplicates.count, 1, "\(diagnostics)")
        let duplicate = duplicates.first
        XCTAssertEqual(duplicate?.location, SourceLocation(file: "directory/more/roles.yaml", line: 4, column: 5))
        XCTAssertEqual(duplicate?.notes, [DiagnosticNote("first declared here",
                                                         at: SourceLocation(file: "directory/roles.yaml", line: 2, column: 5))])
        XCTAssertEqual(duplicate?.severity, .error)
        XCTAssertTrue(duplicate?.message.contains("role 'admin'") ?? false, duplicate?.message ?? "")
        // The duplicate is not also reported as unused: only the first declaration counts.
        XCTAssertEqual(diagnostics.filter { $0.code == .unusedRole }.map(\.location.line), [2, 9])
        XCTAssertEqual(diagnostics, diagnostics.sorted())
    }

    func testUnknownRoleSuggestsTheClosest() {
        var directory = Directory()
        directory.roles = [role("admin", line: 1), role("viewer", line: 8)]
        directory.users = [user("alice@acme.example", line: 1), user("carol@acme.example", line: 5)]
        directory.customers = [customer("acme", owner: "alice@acme.example", members: [
            member("carol@acme.example", roles: [("admn", 12), ("zzzzzzzz", 13), ("viewer", 14)], line: 11),
        ])]
        let diagnostics = Validator(config: config(), directory: directory, today: day("2027-01-01")).run()
        let unknown = diagnostics.filter { $0.code == .unknownRole }
        XCTAssertEqual(unknown.map(\.location), [
            SourceLocation(file: "customers/acme.yaml", line: 12, column: 9),
            SourceLocation(file: "customers/acme.yaml", line: 13, column: 9),
        ])
        XCTAssertEqual(unknown.first?.message, "role 'admn' is not declared; did you mean 'admin'?")
        XCTAssertEqual(unknown.last?.message, "role 'zzzzzzzz' is not declared; declare it with 'kind: Role'")
        XCTAssertFalse(diagnostics.contains { $0.code == .unknownUser }, "\(diagnostics)")
    }

    func testExpiredMembershipUsesInjectedToday() {
        var directory = Directory()
        directory.roles = [role("viewer", line: 1)]
        directory.users = [user("alice@acme.example", line: 1), user("bob@acme.example", line: 5),
                           user("carol@acme.example", line: 9), user("dan@acme.example", line: 13)]
        directory.customers = [customer("acme", owner: "alice@acme.example", members: [
            member("bob@acme.example", roles: [("viewer", 8)], expires: ("2027-01-31", 9), line: 7),    // today
            member("carol@acme.example", roles: [("viewer", 11)], expires: ("2027-02-01", 12), line: 10), // tomorrow
            member("dan@acme.example", roles: [("viewer", 14)], expires: ("2026-12-31", 15), line: 13),  // long ago
        ])]
        let today = day("2027-01-31")
        let diagnostics = Validator(config: config(), directory: directory, today: today).run()
        let expired = diagnostics.filter { $0.code == .expiredMembership }
        XCTAssertEqual(expired.map(\.location.line), [9, 15], "\(diagnostics)")
        XCTAssertTrue(expired.allSatisfy { $0.severity == .warning })
        XCTAssertEqual(expired.first?.message,
                       "membership of 'bob@acme.example' in customer 'acme' expired on 2027-01-31; it will be revoked, remove the entry")
        XCTAssertFalse(diagnostics.hasErrors, "\(diagnostics)")

        // A day later, tomorrow's membership has expired too; a day earlier, only the old one.
        let later = Validator(config: config(), directory: directory, today: day("2027-02-01")).run()
        XCTAssertEqual(later.filter { $0.code == .expiredMembership }.map(\.location.line), [9, 12, 15])
        let earlier = Validator(config: config(), directory: directory, today: day("2027-01-30")).run()
        XCTAssertEqual(earlier.filter { $0.code == .expiredMembership }.map(\.location.line), [15])
    }

    // MARK: Helpers

    private func day(_ text: String) -> Day {
        guard let day = Day(parsing: text) else {
            XCTFail("bad test date \(text)")
            return Day(year: 1970, month: 1, day: 1)
        }
        return day
    }

    private func at(_ file: String, _ line: Int, _ column: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column)
    }

    private func config() -> Config {
        var config = Config()
        let place = at("roster.yaml", 5, 3)
        config.permissions.modules = [
            (Located("streams", at: place), ["create", "read"].map { Located($0, at: place) }),
            (Located("billing", at: place), ["read", "update"].map { Located($0, at: place) }),
        ]
        return config
    }

    private func role(_ id: String, file: String = "directory/roles.yaml", line: Int) -> Role {
        Role(id: Located(id, at: at(file, line, 5)), name: nil, description: nil,
             permissions: [PermissionGrant(module: Located("streams", at: at(file, line + 2, 3)),
                                           actions: [Located("read", at: at(file, line + 2, 13))])],
             location: at(file, line - 1, 1))
    }

    private func user(_ email: String, line: Int) -> User {
        User(email: Located(email, at: at("users.yaml", line, 8)), name: nil, status: .active,
             previousEmails: [], location: at("users.yaml", line - 1, 1))
    }

    private func member(_ email: String, roles: [(String, Int)], expires: (String, Int)? = nil, line: Int) -> Member {
        let file = "customers/acme.yaml"
        return Member(user: Located(email, at: at(file, line, 11)),
                      roles: roles.map { Located($0.0, at: at(file, $0.1, 9)) },
                      expires: expires.map { Located(day($0.0), at: at(file, $0.1, 14)) },
                      location: at(file, line, 5))
    }

    private func customer(_ id: String, owner: String, members: [Member]) -> Customer {
        let file = "customers/acme.yaml"
        return Customer(id: Located(id, at: at(file, 2, 5)), name: nil, owner: Located(owner, at: at(file, 3, 8)),
                        status: .active, accountLimit: nil, members: members, location: at(file, 1, 1))
    }
}

/// `ROSTER_TIMINGS=1`: one line a phase with its seconds, CPU seconds, the peak resident set
/// and the resident set at the phase's end.
final class PhaseTimingsTests: XCTestCase {
    func testAPhaseReportsItsTimesAndMemory() throws {
        PhaseTimings.enable()
        let kept = PhaseTimings.measure("timings test phase") { [UInt8](repeating: 1, count: 8 << 20) }
        XCTAssertEqual(kept.count, 8 << 20)
        let line = try XCTUnwrap(PhaseTimings.report().split(separator: "\n").first { $0.contains("timings test phase") })
        let pattern = #/^timing: timings test phase \d+\.\d{3} s, \d+\.\d{2} s CPU, (\d+) MiB peak, (\d+) MiB now$/#
        let match = try XCTUnwrap(String(line).wholeMatch(of: pattern), String(line))
        let (peak, now) = (Int(match.1) ?? 0, Int(match.2) ?? 0)
        XCTAssertGreaterThanOrEqual(now, 8, "the 8 MiB array is alive at the phase's end")
        XCTAssertGreaterThanOrEqual(peak, now)
    }
}
