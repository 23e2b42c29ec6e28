import RosterCore

/// Turns libyaml's common syntax errors into what to change: which line to indent like which
/// earlier one, which bracket or quote is left open. libyaml's own words go into a note.
///
/// libyaml gives a problem mark (where it gave up) and, for most errors, a context mark (the
/// start of the list, mapping, bracket or key it was reading); the advice names both.
struct YAMLErrorAdvice {
    /// A 1-based line and column (in characters).
    struct Mark: Equatable {
        var line: Int
        var column: Int
    }

    /// A diagnostic to report, before the file is attached.
    struct Advice {
        var problem: Problem
        var at: Mark
        var notes: [(message: String, at: Mark)]
    }

    /// The file's bytes; only used while the loader holds them.
    private let input: UnsafeBufferPointer<UInt8>
    /// Byte offset of each line's start; only lines the advice names are decoded.
    private let lineStarts: [Int]

    init(input: UnsafeBufferPointer<UInt8>) {
        self.input = input
        var starts = [0]
        for (offset, byte) in input.enumerated() where byte == UInt8(ascii: "\n") {
            starts.append(offset + 1)
        }
        lineStarts = starts
    }

    /// Advice for a scanner or parser error, or nil when the error is not one it knows.
    func advise(problem: String, context: String?, at mark: Mark, context contextMark: Mark) -> Advice? {
        let said = "libyaml: " + problem + (context.map { " " + $0 } ?? "")
        let saidHere = (said, mark)
        if character(at: mark) == "\t" {
            return Advice(problem: .yamlTab, at: mark, notes: [saidHere])
        }
        switch (problem, context ?? "") {
        case ("did not find expected '-' indicator", "while parsing a block collection"):
            let list = place(contextMark, text: "-")
            if character(at: mark) == "-" {
                return Advice(problem: .yamlEntryMisaligned(entry: place(mark, text: "-"), list: list), at: mark,
                              notes: [("the list starts here", contextMark), saidHere])
            }
            return Advice(problem: .yamlNotAnEntry(item: place(mark), list: list, field: entryField(dash: contextMark)),
                          at: mark, notes: [("the list starts here", contextMark), saidHere])
        case ("did not find expected key", "while parsing a block mapping"):
            let mapping = place(contextMark)
            let nearer = previousKey(before: mark.line).flatMap { $0.column == mapping.column ? nil : $0 }
            return Advice(problem: .yamlKeyMisaligned(item: place(mark), mapping: mapping, nearer: nearer), at: mark,
                          notes: [("the mapping starts here", contextMark), saidHere])
        case ("mapping values are not allowed in this context", _):
            let line = text(ofLine: mark.line)
            let before = String(line.prefix(max(0, mark.column - 1)))
            let start = keyColumn(of: line)
            if before.dropFirst(start - 1).contains(": ") {
                return Advice(problem: .yamlColonInValue(line: mark.line), at: mark, notes: [saidHere])
            }
            guard let previous = previousKey(before: mark.line), previous.column < start else { return nil }
            let key = place(Mark(line: mark.line, column: start))
            return Advice(problem: .yamlContinuation(key: key, previous: previous), at: Mark(line: mark.line, column: start),
                          notes: [("the value it is read as part of starts on this line",
                                   Mark(line: previous.line, column: previous.column)), saidHere])
        case ("did not find expected ',' or ']'", "while parsing a flow sequence"),
             ("did not find expected ',' or '}'", "while parsing a flow mapping"):
            let opener = place(contextMark, text: problem.hasSuffix("']'") ? "[" : "{")
            return Advice(problem: .yamlUnclosed(opener: opener), at: mark,
                          notes: [("'\(opener.text)' opened here", contextMark), saidHere])
        case ("found unexpected end of stream", "while scanning a quoted scalar"):
            let quote = character(at: contextMark) == "'" ? "'" : "\""
            return Advice(problem: .yamlUnclosed(opener: place(contextMark, text: quote)), at: mark,
                          notes: [("the quoted text opens here", contextMark), saidHere])
        case ("could not find expected ':'", "while scanning a simple key"):
            // libyaml notices on the next line; the key without its ':' is the place to fix.
            return Advice(problem: .yamlMissingColon(key: place(contextMark)), at: contextMark,
                          notes: [(said, mark)])
        case ("found character that cannot start any token", _):
            guard let found = character(at: mark), "@`".contains(found) else { return nil }
            return Advice(problem: .yamlReservedCharacter(character: String(found)), at: mark, notes: [saidHere])
        case ("block sequence entries are not allowed in this context", _):
            return Advice(problem: .yamlEntryAfterKey, at: mark, notes: [saidHere])
        default:
            return nil
        }
    }

    /// A line's characters, without its line break.
    private func text(ofLine line: Int) -> [Character] {
        guard line >= 1, line <= lineStarts.count else { return [] }
        var end = line < lineStarts.count ? lineStarts[line] - 1 : input.count
        if end > lineStarts[line - 1], input[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        return Array(String(decoding: UnsafeBufferPointer(rebasing: input[lineStarts[line - 1]..<end]), as: UTF8.self))
    }

    private func character(at mark: Mark) -> Character? {
        let line = text(ofLine: mark.line)
        return mark.column >= 1 && mark.column <= line.count ? line[mark.column - 1] : nil
    }

    /// The word at `mark`: a key up to its ':', else the text up to a space; at most 40 characters.
    private func place(_ mark: Mark, text fixed: String? = nil) -> YAMLPlace {
        if let fixed { return YAMLPlace(fixed, line: mark.line, column: mark.column) }
        let line = text(ofLine: mark.line)
        var word = ""
        var index = max(0, mark.column - 1)
        while index < line.count, word.count < 40 {
            let character = line[index]
            if character == ":" && (index + 1 == line.count || line[index + 1] == " ") { break }
            if character == " " || character == "\t" { break }
            word.append(character)
            index += 1
        }
        return YAMLPlace(word.isEmpty ? "line \(mark.line)" : word, line: mark.line, column: mark.column)
    }

    /// The column where a line's key starts, past its indentation and any `- ` entry markers.
    private func keyColumn(of line: [Character]) -> Int {
        var index = 0
        while index < line.count {
            if line[index] == " " {
                index += 1
            } else if line[index] == "-", index + 1 < line.count, line[index + 1] == " " {
                index += 2
            } else {
                break
            }
        }
        return index + 1
    }

    /// The first field of the list entry whose `-` is at `dash`, when it is on the same line.
    private func entryField(dash: Mark) -> YAMLPlace? {
        let line = text(ofLine: dash.line)
        let column = keyColumn(of: line)
        guard column > dash.column, column <= line.count else { return nil }
        return place(Mark(line: dash.line, column: column))
    }

    /// The key of the nearest line above `line` that holds more than a comment.
    private func previousKey(before line: Int) -> YAMLPlace? {
        var candidate = line - 1
        while candidate >= 1 {
            let text = text(ofLine: candidate)
            let column = keyColumn(of: text)
            if column <= text.count, text[column - 1] != "#" {
                return place(Mark(line: candidate, column: column))
            }
            candidate -= 1
        }
        return nil
    }
}
