/// ANSI colours: the one place escape codes are written. Callers decide whether to colour
/// (a terminal, no `--no-color`, no `NO_COLOR`: `CommonOptions.useColor`).
enum Paint {
    static func style(_ text: String, _ style: LineStyle, enabled: Bool) -> String {
        guard enabled else { return text }
        let code: String
        switch style {
        case .addition: code = "32"
        case .change: code = "33"
        case .removal: code = "31"
        case .high: code = "1;31"
        case .medium: code = "1;33"
        case .strong: code = "1"
        case .note: code = "1;36"
        }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }
}
