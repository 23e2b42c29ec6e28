import Foundation
import RosterCore

/// The outcome of `roster validate`, as handed to a reporter.
struct ValidationReport {
    var diagnostics: [Diagnostic]
    var files: Int
    var roles: Int
    var users: Int
    var customers: Int
    var accounts: Int
    /// False when a file could not be read, so references between files were not checked.
    var referencesChecked: Bool

    var errors: Int { diagnostics.filter(\.isError).count }
    var warnings: Int { diagnostics.count - errors }
}

/// One output format for diagnostics; every format sits behind this protocol.
protocol DiagnosticReporter {
    /// The `--format` value that selects this reporter.
    static var identifier: OutputFormat { get }
    func render(_ report: ValidationReport) throws -> String
}

/// Every diagnostic reporter, resolved by identifier (`--format`) in one place.
enum DiagnosticReporters {
    /// The reporter for `format`; `DiagnosticFormats` lists the formats offered, text for any other.
    static func reporter(for format: OutputFormat, color: Bool) -> any DiagnosticReporter {
        switch format {
        case JSONReporter.identifier: return JSONReporter()
        case GitHubReporter.identifier: return GitHubReporter()
        default: return TextReporter(color: color)
        }
    }
}

/// `path:line:col: severity: message [code]`, with notes beneath, and a summary line.
struct TextReporter: DiagnosticReporter {
    static let identifier = OutputFormat.text
    var color: Bool

    func render(_ report: ValidationReport) -> String {
        var out = renderDiagnostics(report.diagnostics)
        out += "Validated \(plural(report.files, "file")) (\(plural(report.roles, "role")), "
            + "\(plural(report.users, "user")), \(plural(report.customers, "customer")), "
            + "\(plural(report.accounts, "account"))): \(plural(report.errors, "error")), "
            + "\(plural(report.warnings, "warning")).\n"
        if !report.referencesChecked {
            out += "Some files could not be read completely; references between files were not checked. Fix the errors above and run again.\n"
        }
        return out
    }

    /// The diagnostics alone, one line each with their notes beneath.
    func renderDiagnostics(_ diagnostics: [Diagnostic]) -> String {
        var out = ""
        for diagnostic in diagnostics {
            let label = diagnostic.severity == .error ? paint("error:", .high) : paint("warning:", .medium)
            out += "\(diagnostic.location): \(label) \(diagnostic.message) [\(diagnostic.code.rawValue)]\n"
            for note in diagnostic.notes {
                out += "\(note.location): \(paint("note:", .note)) \(note.message)\n"
            }
        }
        return out
    }

    private func paint(_ text: String, _ style: LineStyle) -> String {
        Paint.style(text, style, enabled: color)
    }
}

/// A stable JSON document: `formatVersion`, `diagnostics`, `summary`; keys sorted.
struct JSONReporter: DiagnosticReporter {
    static let identifier = OutputFormat.json

    struct Output: Encodable {
        struct Note: Encodable {
            var file: String
            var line: Int
            var column: Int
            var message: String
        }
        struct Item: Encodable {
            var file: String
            var line: Int
            var column: Int
            var severity: String
            var code: String
            var message: String
            var notes: [Note]
        }
        struct Summary: Encodable {
            var files, roles, users, customers, accounts, errors, warnings: Int
            var referencesChecked: Bool
        }
        var formatVersion = 1
        var diagnostics: [Item]
        var summary: Summary
    }

    func render(_ report: ValidationReport) throws -> String {
        let output = Output(
            diagnostics: report.diagnostics.map { d in
                Output.Item(file: d.location.file, line: d.location.line, column: d.location.column,
                            severity: d.severity.rawValue, code: d.code.rawValue, message: d.message,
                            notes: d.notes.map {
                                Output.Note(file: $0.location.file, line: $0.location.line,
                                            column: $0.location.column, message: $0.message)
                            })
            },
            summary: Output.Summary(files: report.files, roles: report.roles, users: report.users,
                                    customers: report.customers, accounts: report.accounts,
                                    errors: report.errors, warnings: report.warnings,
                                    referencesChecked: report.referencesChecked))
        return try CanonicalJSON.pretty(output)
    }
}

/// GitHub Actions workflow commands: `::error file=…,line=…,col=…,title=…::message`.
struct GitHubReporter: DiagnosticReporter {
    static let identifier = OutputFormat.github

    func render(_ report: ValidationReport) -> String {
        var out = ""
        for diagnostic in report.diagnostics {
            var properties = ["file=\(escapeProperty(diagnostic.location.file))"]
            if diagnostic.location.line > 0 { properties.append("line=\(diagnostic.location.line)") }
            if diagnostic.location.column > 0 { properties.append("col=\(diagnostic.location.column)") }
            properties.append("title=\(escapeProperty("roster \(diagnostic.code.rawValue)"))")
            var message = "\(diagnostic.message) [\(diagnostic.code.rawValue)]"
            for note in diagnostic.notes {
                message += "\n\(note.location): note: \(note.message)"
            }
            out += "::\(diagnostic.severity.rawValue) \(properties.joined(separator: ","))::\(escapeData(message))\n"
        }
        out += "Validated \(plural(report.files, "file")): \(plural(report.errors, "error")), "
            + "\(plural(report.warnings, "warning")).\n"
        return out
    }

    /// Escaping as the Actions runner expects for a command's message.
    private func escapeData(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%25")
            .replacingOccurrences(of: "\r", with: "%0D")
            .replacingOccurrences(of: "\n", with: "%0A")
    }

    /// Escaping for a property value, which also may not contain `:` or `,`.
    private func escapeProperty(_ text: String) -> String {
        escapeData(text).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")
    }
}
