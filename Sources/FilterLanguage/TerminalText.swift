/// Input shown back to a person in an error message: a rules file may hold escape sequences
/// (`\x1b[2J`), bytes that are not UTF-8, or a 1 MB line. Messages show such input escaped
/// (`\x1b`) and show a window of the line around the caret, never the raw bytes or the whole line.
public enum TerminalText {
    /// The widest excerpt of a line an error shows, in columns.
    public static let excerptWidth = 120
    /// The longest message shown whole, in columns; longer ones keep their start and end.
    public static let messageWidth = 500

    /// Bytes read from a file as text, keeping every byte that is not UTF-8 (as a private-use
    /// character `escaped` shows as `\xNN`), where `String(decoding:)` would make them all U+FFFD.
    public static func decoding(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        if text.utf8.count == bytes.count { return text }  // valid UTF-8: nothing was replaced
        var scalars = String.UnicodeScalarView()
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case let .valid(encoded):
                scalars.append(Unicode.UTF8.decode(encoded))
                offset += encoded.count
            case let .error(length):
                for byte in bytes[offset..<(offset + length)] { scalars.append(Unicode.Scalar(rawByteBase + UInt32(byte))!) }
                offset += length
            case .emptyInput:
                return String(scalars)
            }
        }
    }

    /// `text` with every character a terminal would act on written out: C0 controls but tab
    /// and newline, DEL and undecodable bytes as `\xNN`, C1 controls and bidirectional overrides
    /// as `\uNNNN`. Idempotent: a backslash is left as it is.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var result = ""
        for character in text { result += escaped(character) }
        return result
    }

    /// A message with its input escaped, and cut in the middle when longer than `messageWidth`.
    public static func message(_ text: String) -> String {
        let escaped = escaped(text)
        guard escaped.count > messageWidth else { return escaped }
        return String(escaped.prefix(messageWidth * 3 / 5)) + " … " + String(escaped.suffix(messageWidth * 2 / 5 - 3))
    }

    /// The part of `line` to show under a message, escaped, and the caret line (`^~~~`) under
    /// the `width` characters from character `start`: at most `excerptWidth` columns around the
    /// caret, with `…` where the line goes on. Tabs before the caret stay tabs so it lines up.
    public static func excerpt(_ line: String, start: Int, width: Int) -> (line: String, caret: String) {
        let pieces = line.map(escaped)
        let start = min(max(start, 0), pieces.count)
        let end = min(max(start + max(width, 1), start), pieces.count)
        var from = 0, to = pieces.count
        let columns = pieces.reduce(0) { $0 + $1.count }
        if columns > excerptWidth {
            // Room before the caret for some context, the rest after it.
            let caretColumn = pieces[..<start].reduce(0) { $0 + $1.count }
            var budget = excerptWidth - 2
            from = start
            var before = 0
            while from > 0, before + pieces[from - 1].count <= min(excerptWidth / 3, caretColumn) {
                from -= 1; before += pieces[from].count
            }
            budget -= before
            to = from + (start - from)
            while to < pieces.count, pieces[to].count <= budget { budget -= pieces[to].count; to += 1 }
            // A short tail leaves room: give it back to the context before the caret.
            while from > 0, pieces[from - 1].count <= budget { from -= 1; budget -= pieces[from].count }
        }
        let head = from > 0 ? "…" : "", tail = to < pieces.count ? "…" : ""
        let shown = head + pieces[from..<to].joined() + tail
        let indent = (head.isEmpty ? "" : " ") + pieces[from..<max(from, start)].map { $0 == "\t" ? "\t" : String(repeating: " ", count: $0.count) }.joined()
        let underlined = max(pieces[min(start, to)..<min(max(end, start), to)].reduce(0) { $0 + $1.count }, 1)
        return (shown, indent + "^" + String(repeating: "~", count: underlined - 1))
    }

    /// Undecodable byte B is read as U+10FF00 + B (plane 16, private use: never in a rules file).
    private static let rawByteBase: UInt32 = 0x10_FF00

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return (value < 0x20 && value != 0x09 && value != 0x0A) || (0x7F...0x9F).contains(value)
            || (0x202A...0x202E).contains(value) || (0x2066...0x2069).contains(value) || value >= rawByteBase + 0x80
    }

    private static func escaped(_ character: Character) -> String {
        guard character.unicodeScalars.contains(where: needsEscape) else { return String(character) }
        return character.unicodeScalars.map { scalar -> String in
            guard needsEscape(scalar) else { return String(scalar) }
            let value = scalar.value
            if value < 0x80 || value >= rawByteBase { return "\\x" + hex(value & 0xFF, digits: 2) }
            return "\\u" + hex(value, digits: 4)
        }.joined()
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(digits - text.count, 0)) + text
    }
}
