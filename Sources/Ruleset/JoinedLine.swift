/// rules.conf as statements: comments removed, continued lines joined, and for every byte of a
/// statement the place in the file it came from, so an error inside an expression that spans
/// several lines still points at the right line and column.

/// One statement of rules.conf (`policy drop`, `drop tcp port 22`) after its comments are removed
/// and its continued lines are joined with single spaces.
struct JoinedLine: Hashable, Sendable {
    /// A run of `text` copied from one physical line.
    struct Piece: Hashable, Sendable {
        /// UTF-8 offset of the piece in `text`.
        var textStart: Int
        /// 1-based line number in the file.
        var line: Int
        /// UTF-8 offset of the piece in its physical line.
        var lineStart: Int
        /// Length in UTF-8 bytes.
        var length: Int
    }

    var text: String
    var pieces: [Piece]

    /// The first physical line of the statement.
    var firstLine: Int { pieces[0].line }
    /// The last physical line of the statement.
    var lastLine: Int { pieces[pieces.count - 1].line }

    /// Where a UTF-8 offset of `text` comes from: line and UTF-8 offset in that line. An offset in a
    /// joining space or past the end maps to the end of the piece before it.
    func place(ofOffset offset: Int) -> (line: Int, lineOffset: Int) {
        var chosen = pieces[0]
        for piece in pieces where piece.textStart <= offset { chosen = piece }
        let within = min(max(offset - chosen.textStart, 0), chosen.length)
        return (chosen.line, chosen.lineStart + within)
    }

    /// How many UTF-8 bytes from `offset` stay on the same physical line (at least 1, for a caret).
    func lengthOnLine(from offset: Int, to end: Int) -> Int {
        var chosen = pieces[0]
        for piece in pieces where piece.textStart <= offset { chosen = piece }
        let pieceEnd = chosen.textStart + chosen.length
        return max(min(end, pieceEnd) - max(offset, chosen.textStart), 1)
    }
}

/// The physical lines of a rules.conf file and the statements they make.
struct SourceLines: Sendable {
    /// The file's lines without their line terminators, index 0 is line 1.
    var lines: [String]

    init(_ text: String) {
        // Split on bytes: "\r\n" is one Character, so splitting the String would not see it.
        var lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
        }
        if lines.count > 1, lines.last == "" { lines.removeLast() }
        self.lines = lines
    }

    /// The statements of the file, in order, or the line whose continuation runs past the end.
    func joinedLines() -> (statements: [JoinedLine], danglingContinuation: Int?) {
        var statements: [JoinedLine] = []
        var current: JoinedLine?
        var backslashEnded = false
        for (index, line) in lines.enumerated() {
            let content = SourceLines.content(of: line)
            if var joined = current {
                if let run = content.run {
                    joined.text += " "
                    joined.pieces.append(.init(textStart: joined.text.utf8.count, line: index + 1,
                                               lineStart: run.start, length: run.text.utf8.count))
                    joined.text += run.text
                }
                current = joined
            } else if let run = content.run {
                current = JoinedLine(text: run.text, pieces: [.init(textStart: 0, line: index + 1,
                                                                    lineStart: run.start, length: run.text.utf8.count)])
            }
            // A set's braces hold it together over lines, blank and comment lines included,
            // as nft's sets do: `set blocklist {` ... `}` needs no backslashes.
            if !content.continues && !(current.map(SourceLines.isOpenSet) ?? false) {
                if let joined = current { statements.append(joined) }
                current = nil
            }
            backslashEnded = content.continues
        }
        if let joined = current {
            statements.append(joined)
            // An unclosed set is reported by the set's own parser, at its '{'.
            return (statements, backslashEnded ? joined.lastLine : nil)
        }
        return (statements, nil)
    }

    /// Whether a statement is a `set NAME {` whose closing brace has not come yet.
    static func isOpenSet(_ statement: JoinedLine) -> Bool {
        let text = statement.text
        return (text.hasPrefix("set ") || text.hasPrefix("set\t")) && text.contains("{") && !text.contains("}")
    }

    /// What one physical line contributes: its text between leading whitespace and a comment or a
    /// continuing backslash (trimmed), and whether it continues onto the next line. A backslash
    /// inside a comment does not continue the line.
    static func content(of line: String) -> (run: (text: String, start: Int)?, continues: Bool) {
        var bytes = Array(line.utf8)
        if let hash = bytes.firstIndex(of: UInt8(ascii: "#")) { bytes.removeSubrange(hash...) }
        while let last = bytes.last, isBlank(last) { bytes.removeLast() }
        var continues = false
        if bytes.last == UInt8(ascii: "\\") {
            continues = true
            bytes.removeLast()
            while let last = bytes.last, isBlank(last) { bytes.removeLast() }
        }
        let start = bytes.firstIndex { !isBlank($0) } ?? bytes.count
        guard start < bytes.count else { return (nil, continues) }
        return ((String(decoding: bytes[start...], as: UTF8.self), start), continues)
    }

    static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == 0x0b || byte == 0x0c || byte == UInt8(ascii: "\r")
    }
}
