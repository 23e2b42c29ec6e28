import Foundation
import RosterCore
import XCTest

/// The plan as a reviewer and a pipeline see it: golden files of the quickstart's first plan,
/// byte-identical JSON for the same inputs, and no invitation token in any output or record.
final class ReconcilerOutputTests: XCTestCase {

    // MARK: Golden files

    func testFirstPlanOfTheQuickstartInEveryFormat() throws {
        let ws = try Workspace()
        for (format, name) in [("text", "quickstart-plan.txt"), ("markdown", "quickstart-plan.md"), ("json", "quickstart-plan.json")] {
            let result = ws.run(["plan", "--format", format])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertFalse(result.stderr.contains("error") || result.stderr.contains("warning"),
                           "the quickstart is valid without warnings: \(result.stderr)")
            assertGolden(ws.asIfOnSQLite(result.stdout), named: name)
        }
        XCTAssertEqual(try ws.serial(), 0, "plan never writes the directory")
    }

    func testGoldenJSONIsTheQuickstartPlanAndReadsBack() throws {
        let text = try String(contentsOfFile: Paths.testsFolder + "/Golden/quickstart-plan.json", encoding: .utf8)
        let plan = try Plan.read(json: Data(text.utf8))
        XCTAssertEqual(plan.summary.line, "Plan: 12 to create, 6 to invite, 7 to change.")
        XCTAssertEqual(plan.store.serial, 0)
        XCTAssertEqual(plan.store.backend, "sqlite")
        XCTAssertEqual(String(decoding: try plan.jsonData(), as: UTF8.self), text, "the saved form is the printed form")
    }

    // MARK: Determinism

    func testSameInputsGiveByteIdenticalPlans() throws {
        let first = try Workspace(seed: 5)
        let second = try Workspace(seed: 5)
        let a = first.run(["plan", "--format", "json", "--out", first.root + "/p.json"])
        let b = second.run(["plan", "--format", "json", "--out", second.root + "/p.json"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, b.stdout, "two fresh stores of the same lineage, the same files and clock")
        let savedA = try Data(contentsOf: URL(fileURLWithPath: first.root + "/p.json"))
        let savedB = try Data(contentsOf: URL(fileURLWithPath: second.root + "/p.json"))
        XCTAssertEqual(savedA, savedB)
        XCTAssertEqual(String(decoding: savedA, as: UTF8.self), a.stdout, "--out saves what --format json prints")
        for format in ["text", "markdown"] {
            XCTAssertEqual(first.run(["plan", "--format", format]).stdout, second.run(["plan", "--format", format]).stdout, format)
        }
        // Planning again, later in the day, gives the same bytes: no timestamps in a plan.
        XCTAssertEqual(first.run(["plan", "--format", "json"], at: first.now + 3_600).stdout, a.stdout)
        // After the same apply, the same again.
        try first.apply()
        try second.apply()
        try first.edit(Quickstart.bluebird, "name: Bluebird Studio\n", "name: Bluebird Studios\n")
        try second.edit(Quickstart.bluebird, "name: Bluebird Studio\n", "name: Bluebird Studios\n")
        XCTAssertEqual(first.run(["plan", "--format", "json"]).stdout, second.run(["plan", "--format", "json"]).stdout)

        let other = try Workspace(seed: 6)
        let c = other.run(["plan", "--format", "json"]).stdout
        XCTAssertNotEqual(c, a.stdout, "another store has another lineage")
        XCTAssertEqual(c.replacingOccurrences(of: try other.plan().store.lineage, with: "L"),
                       a.stdout.replacingOccurrences(of: try first.plan().store.lineage, with: "L"))
    }

    // MARK: Tokens

    func testNoTokenInAnyPlanOutputHistoryOrRecord() throws {
        let ws = try Workspace()
        var outputs: [String] = []
        func run(_ arguments: [String]) -> RunResult {
            let result = ws.run(arguments)
            outputs += [result.stdout, result.stderr]
            return result
        }
        for format in ["text", "json", "markdown"] {
            XCTAssertEqual(run(["plan", "--format", format, "--out", ws.root + "/first-\(format).plan"]).status, 0)
        }
        XCTAssertEqual(run(["apply", ws.root + "/first-json.plan"]).status, 0)
        XCTAssertEqual(run(["invitations", "accept", try ws.onlyToken(of: "erin@northwind-media.example")]).status, 0)
        XCTAssertEqual(run(["invitations", "resend", "bob@northwind-media.example"]).status, 0)
        ws.now += 8 * oneDay
        XCTAssertEqual(run(["plan", "--out", ws.root + "/reissue.plan"]).status, 0)
        XCTAssertEqual(run(["apply", "--auto-approve"]).status, 0)
        try ws.edit(Quickstart.otherUsers, "---\nkind: User\nemail: dan@partner.example\nname: Dan Partner\n", "")
        try ws.edit(Quickstart.bluebird, "members:\n  - user: dan@partner.example\n    roles: [ecommerce-viewer, viewer]\n", "")
        try ws.edit(Quickstart.northwind, "  - user: dan@partner.example\n    roles: [system-integrator]\n", "")
        try ws.edit(Quickstart.northwind, "    expires: 2029-01-31              # time-bound access: ends at 00:00 UTC that day\n", "")
        XCTAssertEqual(run(["plan", "--format", "markdown", "--out", ws.root + "/remove.plan"]).status, 0)
        XCTAssertEqual(run(["apply", "--auto-approve"]).status, 0)
        for arguments in [["history"], ["history", "--format", "json"], ["history", "--user", "dan@partner.example"],
                          ["invitations", "list"], ["invitations", "list", "--format", "json"], ["show"],
                          ["show", "bob@northwind-media.example"], ["audit", "verify"], ["plan", "--format", "json"]] {
            XCTAssertEqual(run(arguments).status, 0, arguments.joined(separator: " "))
        }

        let tokens = try ws.messages().map(\.token)
        XCTAssertEqual(tokens.count, 6 + 1 + 5, "first invitations, one resend, five re-issues")
        var places: [(String, String)] = outputs.enumerated().map { ("output \($0.offset)", $0.element) }
        for name in try FileManager.default.contentsOfDirectory(atPath: ws.root) where name.hasSuffix(".plan") {
            places.append((name, try ws.read(name)))
        }
        places.append(("the store's tables", try ws.dump()))
        for suffix in ["", "-wal"] {
            if let data = FileManager.default.contents(atPath: ws.statePath + suffix) {
                places.append(("state.db\(suffix) bytes", String(decoding: data, as: UTF8.self)))
            }
        }
        XCTAssertGreaterThan(places.count, 30)
        for token in tokens {
            for (place, text) in places {
                XCTAssertFalse(text.contains(token), "token \(token) found in \(place)")
            }
        }
    }
}
