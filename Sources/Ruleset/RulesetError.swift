/// Errors in a rules.conf file: each names `file:line:column`, shows the line and puts a caret
/// under the exact place, like a compiler.

import FilterLanguage

/// One problem at one place in a rules.conf file.
public struct RulesetDiagnostic: Hashable, Sendable, CustomStringConvertible {
    /// The file name as given (used only in messages).
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column, counting characters.
    public var column: Int
    public var message: String
    /// The whole physical line the problem is on.
    public var sourceLine: String
    /// How many characters the caret line underlines (at least 1).
    public var width: Int

    public init(file: String, line: Int, column: Int, message: String, sourceLine: String, width: Int = 1) {
        self.file = file; self.line = line; self.column = column; self.message = message
        self.sourceLine = sourceLine; self.width = max(width, 1)
    }

    /// A problem with the file as a whole (it is empty): no line, no caret.
    public init(file: String, message: String) {
        self.init(file: file, line: 0, column: 0, message: message, sourceLine: "")
    }

    /// `file:line:column: message`, the source line, and a caret line (`^~~~`) under the place.
    /// Tabs before the place are kept in the caret line so the caret lines up in a terminal.
    public var rendered: String {
        guard line > 0 else { return TerminalText.message(description) }
        let excerpt = TerminalText.excerpt(sourceLine, start: column - 1, width: width)
        return "\(TerminalText.escaped(file)):\(line):\(column): \(TerminalText.message(message))\n\(excerpt.line)\n\(excerpt.caret)"
    }

    public var description: String { line > 0 ? "\(file):\(line):\(column): \(message)" : "\(file): \(message)" }
}

/// Every problem found in a rules.conf file, in file order. A ruleset with any problem is not
/// used at all.
public struct RulesetError: Error, Hashable, Sendable, CustomStringConvertible {
    public var diagnostics: [RulesetDiagnostic]

    public init(_ diagnostics: [RulesetDiagnostic]) { self.diagnostics = diagnostics }

    /// All diagnostics rendered with their source lines and carets, separated by newlines.
    public var rendered: String { diagnostics.map(\.rendered).joined(separator: "\n") }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

extension SourceLines {
    /// A diagnostic at a UTF-8 offset of a physical line, underlining `length` UTF-8 bytes.
    func diagnostic(file: String, line: Int, lineOffset: Int, length: Int = 1, _ message: String) -> RulesetDiagnostic {
        let sourceLine = line >= 1 && line <= lines.count ? lines[line - 1] : ""
        let utf8 = Array(sourceLine.utf8)
        let start = min(max(lineOffset, 0), utf8.count)
        let end = min(start + max(length, 1), utf8.count)
        let column = self.column(line: line, lineOffset: start)
        let width = String(decoding: utf8[start..<end], as: UTF8.self).count
        return RulesetDiagnostic(file: file, line: line, column: column, message: message,
                                 sourceLine: sourceLine, width: width)
    }

    /// The 1-based column, in characters, of a UTF-8 offset of a physical line.
    func column(line: Int, lineOffset: Int) -> Int {
        guard line >= 1 && line <= lines.count else { return 1 }
        let utf8 = Array(lines[line - 1].utf8)
        return String(decoding: utf8[..<min(max(lineOffset, 0), utf8.count)], as: UTF8.self).count + 1
    }

    /// A diagnostic at a range of UTF-8 offsets of a statement, mapped back to the file. The caret
    /// underlines the part of the range on the line where it starts.
    func diagnostic(file: String, in statement: JoinedLine, from start: Int, to end: Int, _ message: String) -> RulesetDiagnostic {
        let place = statement.place(ofOffset: start)
        let length = statement.lengthOnLine(from: start, to: end)
        return diagnostic(file: file, line: place.line, lineOffset: place.lineOffset, length: length, message)
    }
}
