import Foundation

/// roster's one JSON writer for values that are not plans: keys sorted, slashes unescaped,
/// so equal values give equal bytes. Encoding errors surface (a value that cannot be written
/// is a bug to report, never an empty `{}`).
public enum CanonicalJSON {
    /// Two-space indented JSON with a trailing newline, as the reading commands print it.
    public static func pretty<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder(pretty: true).encode(value), as: UTF8.self) + "\n"
    }

    /// One line, no spaces: for audit records, event bodies and JSON lines.
    public static func compactData<T: Encodable>(_ value: T) throws -> Data {
        try encoder(pretty: false).encode(value)
    }

    /// A string-to-string object on one line (cannot fail).
    public static func compact(_ object: [String: String]) -> String {
        var out = "{"
        for (index, key) in object.keys.sorted().enumerated() {
            if index > 0 { out += "," }
            out += quoted(key) + ":" + quoted(object[key] ?? "")
        }
        return out + "}"
    }

    /// A JSON string literal, escaped as JSONEncoder escapes it (without escaping slashes).
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func encoder(pretty: Bool) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                                          : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
