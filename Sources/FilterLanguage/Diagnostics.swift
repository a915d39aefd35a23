/// Showing an error where it happened: the message, the line of the expression, a caret line.
extension FilterError {
    /// The 1-based line and column (in characters) where the error's range starts.
    public func location(in source: String) -> (line: Int, column: Int) {
        let bytes = Array(source.utf8)
        let start = min(max(range.start, 0), bytes.count)
        let lineStart = bytes[..<start].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let line = bytes[..<lineStart].filter { $0 == 0x0A }.count + 1
        let column = String(decoding: bytes[lineStart..<start], as: UTF8.self).count + 1
        return (line, column)
    }

    /// `message`, then the source line the error is on, then `^~~~` under the range. A range at
    /// the end of the text (end of input) puts the caret just past the last character.
    public func rendered(source: String) -> String {
        let bytes = Array(source.utf8)
        let start = min(max(range.start, 0), bytes.count)
        let lineStart = bytes[..<start].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let lineEnd = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
        let end = min(max(range.end, start + 1), lineEnd + 1)
        let line = String(decoding: bytes[lineStart..<lineEnd], as: UTF8.self)
        let column = String(decoding: bytes[lineStart..<start], as: UTF8.self).count
        let underlined = String(decoding: bytes[start..<min(end, lineEnd)], as: UTF8.self).count
        let excerpt = TerminalText.excerpt(line, start: column, width: underlined)
        return "\(TerminalText.message(message))\n\(excerpt.line)\n\(excerpt.caret)"
    }
}
