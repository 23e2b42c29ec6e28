import Foundation
import RosterManifest
import XCTest

/// `roster schema`, checked by an independent validator: Python's jsonschema (Draft 2020-12)
/// through scripts/check-schema.py, which scripts/test installs.
final class SchemaTests: XCTestCase {
    private var scratch = ""

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.path + "/roster-schema-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let probe = try python(["-c", "import jsonschema, yaml; jsonschema.Draft202012Validator"])
        if probe.status != 0 {
            XCTFail("the schema tests need Python 3 with jsonschema and PyYAML; scripts/test installs them "
                    + "('python3 -m pip install jsonschema pyyaml'):\n\(probe.output)")
            throw PythonMissing() // ends the test as failed: never a skip
        }
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    // MARK: Documents

    func testEveryExampleDocumentIsValid() throws {
        let files = exampleFiles().filter { !$0.hasSuffix("/roster.yaml") }
        XCTAssertGreaterThan(files.count, 20)
        let result = try check(schema(.documents), files)
        XCTAssertEqual(result.status, 0, result.output)
        // Every document was checked: as many as the files hold `kind:` lines.
        let documents = try files.reduce(0) { total, file in
            total + (try String(contentsOfFile: file, encoding: .utf8)).split(separator: "\n")
                .filter { $0.hasPrefix("kind: ") }.count
        }
        XCTAssertTrue(result.output.contains("Checked \(documents) documents in \(files.count) files"), result.output)
        XCTAssertGreaterThan(documents, 100)
    }

    func testUnknownFieldsFailEverywhere() throws {
        let schema = try schema(.documents)
        let cases: [(String, String)] = [
            ("kind: User\nemail: a@b.example\nnmae: A\n", "'nmae' was unexpected"),
            ("kind: Role\nid: r\npermissions: {streams: [read]}\ncolour: red\n", "'colour' was unexpected"),
            ("kind: Customer\nid: c\nowner: a@b.example\nlimits: {acounts: 3}\n", "'acounts' was unexpected"),
            ("kind: Account\nid: a\ncustomer: c\nmembers:\n  - user: a@b.example\n    roles: [viewer]\n    expiry: 2027-01-31\n",
             "'expiry' was unexpected"),
        ]
        try expectProblems(schema, cases)
    }

    func testMissingAndMistypedFieldsFail() throws {
        let schema = try schema(.documents)
        let cases: [(String, String)] = [
            ("kind: Role\nid: viewer\nname: Viewer\n", "'permissions' is a required property"),
            ("kind: Account\nid: a\n", "'customer' is a required property"),
            ("kind: Customer\nid: c\n", "'owner' is a required property"),
            ("kind: Usr\nemail: a@b.example\n", "'Usr' is not one of"),
            ("email: a@b.example\n", "'kind' is a required property"),
            ("kind: User\nemail: a@b.example\nstatus: gone\n", "'gone' is not one of ['active', 'inactive']"),
            ("kind: Role\nid: Bad_Id\npermissions: {}\n", "does not match"),
            ("kind: User\nemail: not-an-email\n", "does not match"),
            ("kind: Account\nid: a\ncustomer: c\nmembers:\n  - user: a@b.example\n    roles: []\n", "at /members/0/roles: []"),
            ("kind: Account\nid: a\ncustomer: c\nmembers:\n  - user: a@b.example\n    roles: [owner]\n",
             "at /members/0/roles/0: 'owner'"),
            ("kind: Account\nid: a\ncustomer: c\nmembers:\n  - user: a@b.example\n    roles: [viewer]\n    expires: 31.1.2027\n",
             "does not match"),
        ]
        try expectProblems(schema, cases)
    }

    /// Scalars are strings until a field says otherwise (SPEC §10): what roster accepts, the
    /// schema accepts too, however an editor's YAML 1.2 reads it.
    func testScalarsRosterReadsAsStringsAreAccepted() throws {
        let document = """
            kind: Account
            id: 2024
            customer: no
            name: 017
            service: on
            owner: ~
            limits: {members: "50"}
            members:
              - user: a@b.example
                roles: [viewer]
                expires: 2027-01-31
            ---
            kind: Role
            id: r
            name: true
            description:
            permissions: {streams: "*", billing: [read], analytics: ~}

            """
        let result = try check(schema(.documents), [write(document)])
        XCTAssertEqual(result.status, 0, result.output)
    }

    /// The schema lists exactly the fields the decoder accepts and requires, for every kind.
    func testDocumentSchemaMatchesTheDecoder() throws {
        let schema = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try self.schema(.documents)))) as? [String: Any])
        let definitions = try XCTUnwrap(schema["$defs"] as? [String: Any])
        for kind in DocumentKind.allCases {
            let definition = try XCTUnwrap(definitions[kind.rawValue] as? [String: Any], kind.rawValue)
            let properties = try XCTUnwrap(definition["properties"] as? [String: Any])
            XCTAssertEqual(Set(properties.keys), Set(kind.fields), kind.rawValue)
            XCTAssertEqual(definition["required"] as? [String], ["kind"] + kind.required, kind.rawValue)
            XCTAssertEqual(definition["additionalProperties"] as? Bool, false, kind.rawValue)
        }
        XCTAssertEqual(schema["$schema"] as? String, "https://json-schema.org/draft/2020-12/schema")
    }

    // MARK: roster.yaml

    func testBothExampleConfigsAreValid() throws {
        let configs = exampleFiles().filter { $0.hasSuffix("/roster.yaml") }
        XCTAssertEqual(configs.count, 2)
        let result = try check(schema(.config), configs)
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("Checked 2 documents"), result.output)
    }

    func testConfigMistakesFail() throws {
        let schema = try schema(.config)
        let base = "version: 1\nsources: [directory]\n"
        let cases: [(String, String)] = [
            (base + "limit: {accountsPerCustomer: 3}\n", "'limit' was unexpected"),
            ("sources: [directory]\n", "'version' is a required property"),
            ("version: 2\nsources: [directory]\n", "is not one of [1, '1']"),
            (base + "invitations: {ttl: 7 days}\n", "does not match"),
            (base + "invitations: {acceptUrl: 'https://x.example/invite'}\n", "does not match"),
            (base + "invitations: {delivery: {kind: webhook}}\n", "'url' is a required property"),
            (base + "invitations: {delivery: {kind: file, url: x}}\n", "'url' was unexpected"),
            (base + "invitations: {delivery: {kind: pigeon}}\n", "at /invitations/delivery/kind: 'file' was expected"),
            (base + "safety: {maxUserDeactivations: 150%}\n", "does not match"),
            (base + "permissions: {streams: ['*']}\n", "at /permissions/streams/0: '*'"),
        ]
        try expectProblems(schema, cases)
        let fine = base + "state: sqlite:.roster/state.db\ninvitations: {ttl: 1d12h, reissueExpired: yes, maxReissues: 0, "
            + "delivery: {kind: sendmail}}\nsafety: {maxUserDeactivations: 5, maxMembershipRemovals: 12.5%}\nlimits: ~\n"
        let result = try check(schema, [write(fine)])
        XCTAssertEqual(result.status, 0, result.output)
    }

    // MARK: The command

    func testOutputIsByteIdenticalEveryRun() {
        for arguments in [["schema"], ["schema", "--kind", "config"], ["schema", "--format", "json"]] {
            let first = roster(arguments, in: scratch)
            let second = roster(arguments, in: scratch)
            XCTAssertEqual(first.status, 0, first.stderr)
            XCTAssertFalse(first.stdout.isEmpty)
            XCTAssertEqual(first.stdout, second.stdout, arguments.joined(separator: " "))
        }
        XCTAssertEqual(roster(["schema", "--format", "json"], in: scratch).stdout, roster(["schema"], in: scratch).stdout)
    }

    func testOnlyTextAndJSONFormats() {
        for format in ["markdown", "github"] {
            let result = roster(["schema", "--format", format], in: scratch)
            XCTAssertEqual(result.status, 64, format)
            XCTAssertEqual(result.stdout, "")
        }
        XCTAssertEqual(roster(["schema", "--kind", "roles"], in: scratch).status, 64)
    }

    func testHelpHasAnExample() {
        let result = roster(["schema", "--help"], in: scratch)
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.stdout.contains("roster schema --kind config"), result.stdout)
        XCTAssertTrue(result.stdout.contains("yaml-language-server"), result.stdout)
    }

    /// The committed schema files are what `roster schema` prints, and every example document
    /// file's modeline points at the documents schema.
    func testCommittedSchemasAndModelinesAreCurrent() throws {
        let committed: [(SchemaKind, String)] = [(.documents, "schema/roster-documents.schema.json"),
                                                 (.config, "schema/roster-config.schema.json")]
        for (kind, path) in committed {
            let file = try String(contentsOfFile: Paths.packageRoot + "/" + path, encoding: .utf8)
            XCTAssertEqual(file, try String(contentsOfFile: schema(kind), encoding: .utf8),
                           "\(path) is out of date: run roster schema\(kind == .config ? " --kind config" : "") > \(path)")
        }
        for file in exampleFiles() where file.contains("/directory/") {
            let first = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
            let prefix = "# yaml-language-server: $schema="
            XCTAssertTrue(first.hasPrefix(prefix), "\(file) has no schema modeline")
            let target = URL(fileURLWithPath: file).deletingLastPathComponent()
                .appendingPathComponent(String(first.dropFirst(prefix.count))).standardizedFileURL.path
            XCTAssertEqual(target, Paths.packageRoot + "/" + committed[0].1, file)
        }
    }

    // MARK: Helpers

    enum SchemaKind { case documents, config }

    private struct PythonMissing: Error {}

    /// Runs `roster schema` in-process and writes what it prints to a file.
    private func schema(_ kind: SchemaKind) throws -> String {
        let result = roster(kind == .documents ? ["schema"] : ["schema", "--kind", "config"], in: scratch)
        XCTAssertEqual(result.status, 0, result.stderr)
        let path = scratch + "/\(kind).schema.json"
        try result.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private var written = 0

    private func write(_ yaml: String) throws -> String {
        written += 1
        let path = scratch + "/case-\(written).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Every YAML file of both examples, roster.yaml included, sorted.
    private func exampleFiles() -> [String] {
        ["quickstart", "reseller-platform"].flatMap { example -> [String] in
            let root = Paths.packageRoot + "/examples/" + example
            let walker = FileManager.default.enumerator(atPath: root)
            var files: [String] = []
            while let path = walker?.nextObject() as? String {
                if path.hasSuffix(".yaml") || path.hasSuffix(".yml") { files.append(root + "/" + path) }
            }
            return files.sorted()
        }
    }

    /// Checks every case in one run of the checker: each must fail, with `message` among its problems.
    private func expectProblems(_ schema: String, _ cases: [(yaml: String, message: String)],
                                file: StaticString = #filePath, line: UInt = #line) throws {
        let paths = try cases.map { try write($0.yaml) }
        let result = try check(schema, paths)
        XCTAssertEqual(result.status, 1, result.output, file: file, line: line)
        let lines = result.output.split(separator: "\n")
        for (path, (yaml, message)) in zip(paths, cases) {
            let problems = lines.filter { $0.hasPrefix(path + ": ") }.joined(separator: "\n")
            XCTAssertTrue(problems.contains(message), "expected \(message) for:\n\(yaml)got:\n\(problems)",
                          file: file, line: line)
        }
    }

    private func check(_ schema: String, _ files: [String]) throws -> (status: Int32, output: String) {
        try python([Paths.packageRoot + "/scripts/check-schema.py", schema] + files)
    }

    private func python(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
