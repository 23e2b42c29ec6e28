import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Logging
import RosterApp
import RosterCore
import RosterServer
import RosterTestSupport
import XCTest

/// The API token of the serve tests.
let serveToken = "test-token-0123456789abcdef"
let secondServeToken = "second-token-fedcba9876543210"

/// One request to the server under test.
struct Call: Sendable {
    var method: HTTPRequest.Method
    var uri: String
    var body: String?
    var token: String? = serveToken
    var headers: [String: String] = [:]

    static func get(_ uri: String, token: String? = serveToken) -> Call { Call(method: .get, uri: uri, token: token) }
    static func post(_ uri: String, _ body: String, token: String? = serveToken) -> Call {
        Call(method: .post, uri: uri, body: body, token: token)
    }
}

/// Its answer.
struct Answer: Sendable {
    var status: Int
    var body: String
    var headers: [String: String]

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
}

extension Workspace {
    /// The environment the application layer sees in this workspace.
    var appEnvironment: AppEnvironment {
        AppEnvironment(workingDirectory: root, variables: variables(), now: { [now] in now }, random: random)
    }

    /// A server over this workspace's store, as `roster serve` builds it.
    func server(tokens: [String] = [serveToken], limiter: RateLimiter = RateLimiter(), at date: Date? = nil,
                refresh: Duration = .seconds(1)) async throws -> ServeApplication {
        var environment = appEnvironment
        if let date { environment.now = { date } }
        let loaded = ProjectLoader(configOption: nil, environment: environment).checkedSettings()
        guard let settings = loaded.settings else { throw WorkspaceError(description: "no roster.yaml in \(root)") }
        let locator = StoreLocator(override: nil, environment: environment)
        let config = settings.config, root = settings.root
        var options = ServeOptions(listen: ListenAddress(host: "127.0.0.1", port: 0), tokens: tokens, config: config,
                                   root: root, environment: environment)
        options.refreshInterval = refresh
        let worker = StoreWorker { () throws(RosterError) in try locator.openShared(config: config, root: root) }
        var logger = Logger(label: "roster.serve.test")
        logger.logLevel = .error
        return try await ServeApplication(options: options, worker: worker, limiter: limiter, logger: logger)
    }
}

/// Sends `calls` in order through Hummingbird's router test client and returns the answers.
func send(_ server: ServeApplication, _ calls: [Call]) async throws -> [Answer] {
    try await server.application().test(.router) { client in
        var answers: [Answer] = []
        for call in calls {
            var headers = HTTPFields()
            if let token = call.token { headers[.authorization] = "Bearer \(token)" }
            if call.body != nil { headers[.contentType] = "application/json" }
            for (name, value) in call.headers { headers[HTTPField.Name(name)!] = value }
            let response = try await client.execute(uri: call.uri, method: call.method, headers: headers,
                                                    body: call.body.map { ByteBuffer(string: $0) })
            var fields: [String: String] = [:]
            for field in response.headers { fields[field.name.rawName] = field.value }
            answers.append(Answer(status: Int(response.status.code), body: String(buffer: response.body), headers: fields))
        }
        return answers
    }
}

func send(_ server: ServeApplication, _ call: Call) async throws -> Answer {
    guard let answer = try await send(server, [call]).first else { throw WorkspaceError(description: "no answer") }
    return answer
}

/// An AuthZEN evaluation body.
func evaluation(_ email: String, _ permission: String, _ kind: String, _ id: String) -> String {
    #"{"subject":{"type":"user","id":"\#(email)"},"action":{"name":"\#(permission)"},"resource":{"type":"\#(kind)","id":"\#(id)"}}"#
}

/// Validates JSON texts against the AuthZEN schemas (Fixtures/authzen) with Python's jsonschema;
/// each pair is (schema file name, instance).
func validateAuthZEN(_ instances: [(schema: String, json: String)], file: StaticString = #filePath, line: UInt = #line) throws {
    let folder = FileManager.default.temporaryDirectory.path + "/roster-authzen-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var list: [[String]] = []
    for (index, instance) in instances.enumerated() {
        let path = folder + "/\(index).json"
        try instance.json.write(toFile: path, atomically: true, encoding: .utf8)
        list.append([Paths.fixture("authzen/" + instance.schema + ".schema.json"), path])
    }
    let listPath = folder + "/list.json"
    try JSONSerialization.data(withJSONObject: list).write(to: URL(fileURLWithPath: listPath))
    let script = """
    import json, sys, jsonschema
    checked = 0
    for schema_path, path in json.load(open(sys.argv[1])):
        schema = json.load(open(schema_path))
        instance = json.load(open(path))
        jsonschema.Draft202012Validator(schema).validate(instance)
        checked += 1
    print(f"valid: {checked}")
    """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, listPath]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    XCTAssertEqual(process.terminationStatus, 0, text, file: file, line: line)
    XCTAssertTrue(text.contains("valid: \(instances.count)"), text, file: file, line: line)
}
