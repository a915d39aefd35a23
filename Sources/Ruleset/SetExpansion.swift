/// Sets in rules: `drop src net @blocklist` means `drop (src net A or B or C)` for the set's
/// entries A, B, C (later primitives of an `or` inherit the qualifiers, as in pcap-filter), so a
/// rule with a set means exactly what the written-out `or` means to libpcap. A rule of a
/// mergeable shape becomes one lookup member per entry.

import FilterLanguage

enum SetExpansion {
    /// A `QUALIFIERS @NAME` of the original text and the `(QUALIFIERS A or B ...)` that
    /// replaced it, as UTF-8 offsets.
    struct Replacement {
        var original: Range<Int>
        var expanded: Range<Int>
        /// The set's name.
        var name: String
    }

    /// The words that qualify the id a set stands for (what may precede `@NAME`).
    static let qualifierWords: Set<String> = [
        "src", "dst", "host", "net", "port", "portrange", "ether", "ip", "ip6", "arp", "rarp", "tcp", "udp", "sctp",
    ]

    /// The expression with every `@NAME` replaced, or the first problem (its range in `text`).
    static func expanding(_ text: String, sets: [String: [String]]) -> Result<(text: String, replacements: [Replacement]), FilterError> {
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        var replacements: [Replacement] = []
        var copied = 0   // bytes of `text` already in `output` (or replaced)
        for (name, range) in references(in: bytes) {
            let index = range.lowerBound, end = range.upperBound
            guard !name.isEmpty else { return .failure(FilterError("expected a set's name after '@'", at: SourceRange(index, index + 1))) }
            guard let entries = sets[name] else {
                guard isSetName(name) else {
                    return .failure(FilterError("'@\(name)' names no set: a set's name starts with an ASCII letter or '_'", at: SourceRange(index, end)))
                }
                return .failure(FilterError("no set named '\(name)': define it with 'set \(name) { ... }'",
                                            at: SourceRange(index, end)))
            }
            let start = max(qualifierStart(bytes, before: index), copied)
            output += bytes[copied..<start]
            let qualifiers = String(decoding: bytes[start..<index], as: UTF8.self).trimmingBlanks
            let replacement = "(" + (qualifiers.isEmpty ? "" : qualifiers + " ") + entries.joined(separator: " or ") + ")"
            replacements.append(Replacement(original: start..<end, expanded: output.count..<(output.count + replacement.utf8.count),
                                            name: name))
            output += Array(replacement.utf8)
            copied = end
        }
        output += bytes[copied...]
        return .success((String(decoding: output, as: UTF8.self), replacements))
    }

    /// Every `@NAME` of `bytes` (UTF-8) in order: the set's name (empty when no name byte follows
    /// the '@') and the range of `@NAME`. The one scanner of set references: expansion, the sets
    /// a rule names, whether it names one.
    static func references(in bytes: [UInt8]) -> [(name: String, range: Range<Int>)] {
        var found: [(name: String, range: Range<Int>)] = []
        var index = 0
        while let at = bytes[index...].firstIndex(of: UInt8(ascii: "@")) {
            var end = at + 1
            while end < bytes.count, isNameByte(bytes[end]) { end += 1 }
            found.append((String(decoding: bytes[(at + 1)..<end], as: UTF8.self), at..<end))
            index = end
        }
        return found
    }

    /// Where an error in the expanded text points in the original: inside a replacement, at the
    /// `QUALIFIERS @NAME` it came from; elsewhere, shifted back.
    static func originalRange(of range: SourceRange, _ replacements: [Replacement]) -> SourceRange {
        func map(_ offset: Int) -> Int {
            var shift = 0
            for replacement in replacements {
                if offset < replacement.expanded.lowerBound { break }
                if offset < replacement.expanded.upperBound { return replacement.original.lowerBound }
                shift = replacement.original.upperBound - replacement.expanded.upperBound
            }
            return offset + shift
        }
        if let inside = replacements.first(where: { $0.expanded.contains(range.start) }) {
            return SourceRange(inside.original.lowerBound, inside.original.upperBound)
        }
        return SourceRange(map(range.start), max(map(range.end), map(range.start) + 1))
    }

    /// The start of the qualifier words right before `offset` (`src net`, `tcp dst port`,
    /// `src or dst host`), or `offset` when there are none.
    private static func qualifierStart(_ bytes: [UInt8], before offset: Int) -> Int {
        var start = offset
        var words: [String] = []
        var cursor = offset
        while true {
            var end = cursor
            while end > 0, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") { end -= 1 }
            var begin = end
            while begin > 0, isNameByte(bytes[begin - 1]) { begin -= 1 }
            guard begin < end else { return start }
            let word = String(decoding: bytes[begin..<end], as: UTF8.self)
            let joinsDirections = (word == "or" || word == "and") && words.last == "dst"
                && begin >= 4 && String(decoding: bytes[max(begin - 4, 0)..<begin], as: UTF8.self).trimmingBlanks == "src"
            guard qualifierWords.contains(word) || joinsDirections else { return start }
            words.append(word)
            start = begin
            cursor = begin
        }
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }
}

extension String {
    var trimmingBlanks: String {
        let bytes = Array(utf8)
        let start = bytes.firstIndex { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") } ?? bytes.count
        let end = bytes.lastIndex { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }.map { $0 + 1 } ?? start
        return String(decoding: bytes[start..<max(start, end)], as: UTF8.self)
    }
}
