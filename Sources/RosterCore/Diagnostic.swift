/// How serious a diagnostic is: errors make the files invalid (exit 3), warnings do not.
public enum Severity: String, Sendable, Comparable, Codable {
    case error
    case warning

    public static func < (lhs: Severity, rhs: Severity) -> Bool {
        lhs == .error && rhs == .warning
    }
}

/// A secondary location that explains a diagnostic ("first declared here").
public struct DiagnosticNote: Hashable, Sendable {
    public var location: SourceLocation
    public var message: String

    public init(_ message: String, at location: SourceLocation) {
        self.location = location
        self.message = message
    }
}

/// One problem found in the files, at a location, with a stable code.
public struct Diagnostic: Hashable, Sendable {
    public var severity: Severity
    public var code: DiagnosticCode
    public var message: String
    public var location: SourceLocation
    public var notes: [DiagnosticNote]

    /// Creates a diagnostic from a problem; its code, severity and wording come from the problem.
    public init(_ problem: Problem, at location: SourceLocation, notes: [DiagnosticNote] = []) {
        self.severity = problem.code.severity
        self.code = problem.code
        self.message = problem.message
        self.location = location
        self.notes = notes
    }

    public var isError: Bool { severity == .error }
}

extension Diagnostic: Comparable {
    /// Sorted by file, line and column, then code and message, so output is stable.
    public static func < (lhs: Diagnostic, rhs: Diagnostic) -> Bool {
        if lhs.location != rhs.location { return lhs.location < rhs.location }
        if lhs.severity != rhs.severity { return lhs.severity < rhs.severity }
        if lhs.code != rhs.code { return lhs.code.rawValue < rhs.code.rawValue }
        return lhs.message < rhs.message
    }
}

extension Array where Element == Diagnostic {
    /// True when any diagnostic is an error.
    public var hasErrors: Bool { contains { $0.isError } }
}
